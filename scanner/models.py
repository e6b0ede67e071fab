"""Plain, frozen data passed between the layers: endpoints, policies, probe results, reports.

No I/O and no third-party types live here, so every other module can share these without dragging
sockets, YAML or SQLite along.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class TlsVersion(StrEnum):
    """Protocol versions, named as the report shows them; declared oldest first."""

    SSLV3 = "SSLv3"
    TLSV1_0 = "TLSv1.0"
    TLSV1_1 = "TLSv1.1"
    TLSV1_2 = "TLSv1.2"
    TLSV1_3 = "TLSv1.3"


class Protocol(StrEnum):
    """How to reach the TLS layer of an endpoint: at once (implicit TLS), or after a plain-text STARTTLS
    exchange."""

    HTTPS = "https"
    TLS = "tls"
    LDAPS = "ldaps"
    LDAP_STARTTLS = "ldap+starttls"
    SMTPS = "smtps"
    SMTP_STARTTLS = "smtp+starttls"

    @property
    def default_port(self) -> int | None:
        """The port the protocol is usually served on; None where there is none (`tls`)."""
        return _DEFAULT_PORTS.get(self)

    @property
    def starttls(self) -> bool:
        """TLS begins after a plain-text exchange (LDAP's StartTLS operation, SMTP's STARTTLS command)."""
        return self in (Protocol.LDAP_STARTTLS, Protocol.SMTP_STARTTLS)


_DEFAULT_PORTS = {
    Protocol.HTTPS: 443,
    Protocol.LDAPS: 636,
    Protocol.LDAP_STARTTLS: 389,
    Protocol.SMTPS: 465,
    Protocol.SMTP_STARTTLS: 587,
}


@dataclass(frozen=True)
class Proxy:
    """An outbound HTTP CONNECT proxy. Credentials are named, never held: `username_env` and `password_env`
    are the environment variables that hold them, read only when a connection is made."""

    host: str
    port: int
    username_env: str | None = None
    password_env: str | None = None

    def __str__(self) -> str:
        return host_port(self.host, self.port)


def host_port(host: str, port: int) -> str:
    """`host:port`, with an IPv6 address in brackets (`[::1]:443`)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class EndpointStatus(StrEnum):
    """The outcome of probing one endpoint under the policy."""

    OK = "ok"
    NO_COMMON_SUITE = "no_common_suite"
    NO_TLS12 = "no_tls12"
    UNREACHABLE = "unreachable"
    DNS_ERROR = "dns_error"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls_error"
    INTERNAL_ERROR = "internal_error"
    """tlsverify's own bug, not the server's doing: never reported as the server's tls_error."""


class ProbeMode(StrEnum):
    """How the accepted TLS 1.2 suites were found."""

    ELIMINATION = "elimination"
    EXHAUSTIVE = "exhaustive"


@dataclass(frozen=True)
class Endpoint:
    """One external server the client connects to."""

    id: str
    name: str
    category: str
    host: str
    port: int
    protocol: Protocol = Protocol.HTTPS
    sni: str | None = None
    ip: str | None = None
    enabled: bool = True
    proxy: Proxy | None = None
    """The proxy every connection to this endpoint goes through; None: direct."""
    ca_file: str | None = None
    """The CA certificates the server's chain is checked against; None: the system's trust store."""
    address_of: str | None = None
    """With --all-addresses: the id of the endpoint this is one address of (its own id is `ID@ADDRESS`)."""

    @property
    def server_name(self) -> str:
        """The name sent in the SNI extension."""
        return self.sni or self.host


@dataclass(frozen=True)
class Policy:
    """The client's Outgoing SSL configuration; suites are IANA names, Selected in preference order."""

    release: str
    protocols_selected: tuple[TlsVersion, ...]
    protocols_disabled: tuple[TlsVersion, ...]
    selected: tuple[str, ...]
    disabled: tuple[str, ...]
    client: str = "jsse-17"
    """The TLS client the lists are for (a profile in `scanner.clients`): what it implements and sends."""
    spellings: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)
    """(IANA name, the name as the policy file spells it) where the file said: what the terminal shows. Not
    part of the policy's identity (two files that differ only in spelling hold the same policy)."""


class CertificateProblem(StrEnum):
    """Why the client might not trust a server's certificate."""

    UNTRUSTED = "untrusted"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    NAME_MISMATCH = "name_mismatch"
    WEAK_KEY = "weak_key"
    WEAK_SIGNATURE = "weak_signature"


@dataclass(frozen=True)
class CertificateIssue:
    """One problem with a certificate: what, in words, and whether the client refuses the server for it."""

    kind: CertificateProblem
    detail: str
    refused: bool = True


@dataclass(frozen=True)
class Certificate:
    """The server's leaf certificate as the client's own handshake received it, and the verdict on its chain."""

    subject: str
    issuer: str
    sans: tuple[str, ...]
    key_type: str
    """"RSA", "EC", "Ed25519", "Ed448", "DSA"."""
    key_bits: int
    signature: str
    """The leaf's signature algorithm, e.g. "sha256WithRSAEncryption"."""
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    chain_length: int
    """Certificates the server sent (the leaf included)."""
    trust: str
    """What the chain was checked against: "system" or the ca_file's path."""
    problems: tuple[CertificateIssue, ...] = ()

    @property
    def refused(self) -> bool:
        """The client refuses a server with this certificate."""
        return any(p.refused for p in self.problems)


@dataclass(frozen=True)
class ProbeResult:
    """What probing one endpoint found. A failure is a status with a reason, never an exception."""

    endpoint_id: str
    status: EndpointStatus
    reason: str | None = None
    ip: str | None = None
    tls_versions: tuple[TlsVersion, ...] = ()
    accepted_tls12: tuple[str, ...] = ()
    accepted_other_hello: tuple[str, ...] = ()
    """Accepted suites only OpenSSL's hello got, never the client's own: the client cannot negotiate them."""
    server_preference: bool | None = None
    negotiated: str | None = None
    connections: int = 0
    duration_s: float = 0.0
    mode: ProbeMode = ProbeMode.ELIMINATION
    notes: tuple[str, ...] = ()
    evidence: str | None = None
    """Where two probes disagreed (the client's own hello, the accepted suites), which one the status rests
    on and why; None when they agree."""
    client_certificate: str | None = None
    """Whether the server asks the client for a certificate: "required" (it refuses a client without one),
    "optional", or "asked" (which, not known); None when it does not ask."""
    certificate: Certificate | None = None
    """The certificate the client's own handshake received; None when that handshake got none."""

    @property
    def client_accepted(self) -> tuple[str, ...]:
        """The accepted suites the client's own hello can get: what predictions and rescues are made of."""
        other = set(self.accepted_other_hello)
        return tuple(s for s in self.accepted_tls12 if s not in other)


@dataclass(frozen=True)
class EndpointFinding:
    """A probe result read against the policy: what the admin should know and do about one endpoint."""

    endpoint: Endpoint
    probe: ProbeResult
    required_disabled: tuple[str, ...] = ()
    accepted_unlisted: tuple[str, ...] = ()
    advice: str | None = None
    rescue: str | None = None
    """The strongest required Disabled suite: the one to move to Selected to reconnect this endpoint."""
    certificate_warnings: tuple[str, ...] = ()
    """What the admin should know about the certificate that does not stop the client (expiring soon)."""

    @property
    def connects(self) -> bool:
        """The client connects: the negotiation works and the client accepts the certificate."""
        certificate = self.probe.certificate
        return self.probe.status is EndpointStatus.OK and not (certificate is not None and certificate.refused)


@dataclass(frozen=True)
class SuiteUsage:
    """One suite of the policy with the endpoints that negotiated or required it in this run."""

    name: str
    jsse_name: str
    list: str
    position: int
    negotiated_by: tuple[str, ...] = ()
    required_by: tuple[str, ...] = ()
    legacy: bool = False
    strength: str = ""
    last_seen: tuple[tuple[str, datetime], ...] = ()
    """When each endpoint of negotiated_by / required_by was last seen using the suite, within the period."""


@dataclass(frozen=True)
class AddressDisagreement:
    """The addresses behind one endpoint's name answered differently (`aspects`: what differed)."""

    endpoint_id: str
    addresses: tuple[str, ...]
    aspects: tuple[str, ...]


class ChangeKind(StrEnum):
    """What changed for one endpoint between two runs."""

    ADDED = "endpoint_added"
    REMOVED = "endpoint_removed"
    STATUS = "status"
    CONNECTS = "connects"
    """The client's verdict changed though the status did not (the certificate is now refused, or no longer)."""
    SUITES_ADDED = "suites_added"
    SUITES_REMOVED = "suites_removed"
    SERVER_ORDER = "server_order"
    NEGOTIATED = "negotiated"
    TLS_VERSIONS = "tls_versions"
    CERTIFICATE_REPLACED = "certificate_replaced"
    CERTIFICATE_EXPIRING = "certificate_expiring"


@dataclass(frozen=True)
class Change:
    """One change of one endpoint: `before` and `after` are plain JSON values (a status, a list of suites)."""

    endpoint_id: str
    kind: ChangeKind
    before: object
    after: object


@dataclass(frozen=True)
class Drift:
    """What changed since the previous complete run over the same endpoints file (None: there was none)."""

    previous_run: int | None
    changes: tuple[Change, ...] = ()
    policy_changed: bool = False
    """The previous run was under another policy: a negotiated suite or a status may have changed for that
    reason, not the server's."""


@dataclass(frozen=True)
class UsagePeriod:
    """The usage collection period a run belongs to (the vendor's asterisks): when it began, and how many
    runs it holds, this one included."""

    since: datetime
    runs: int


@dataclass(frozen=True)
class HistoryPoint:
    """One stored run, as `tlsverify history` and the report's picture of recent runs show it."""

    run_id: int
    generated_at: datetime
    release: str
    connect: int
    failing: int
    changes: int | None
    """Changes since the previous comparable run; None when the run was not compared (stored before drift)."""
    complete: bool
    partial: bool


@dataclass(frozen=True)
class Tool:
    """The software that produced a run's results: tlsverify and the libraries its probe is made of, each by
    its installed version (None: not installed as a distribution, e.g. run from a source tree)."""

    name: str
    version: str | None
    sslyze: str | None
    nassl: str | None


@dataclass(frozen=True)
class VerifyAllReport:
    """Everything one Verify All run produced, ready for the formatters and the store."""

    generated_at: datetime
    policy: Policy
    findings: tuple[EndpointFinding, ...]
    suites: tuple[SuiteUsage, ...]
    unused_selected: tuple[str, ...] = field(default=())
    complete: bool = True
    run_id: int | None = None
    period_start: datetime | None = None
    """When the usage collection period began: the time this policy was applied, if it was."""
    partial: bool = False
    """A run over some endpoints of the file only (--only): not a picture of the whole site."""
    address_disagreements: tuple[AddressDisagreement, ...] = ()
    drift: Drift | None = None
    """Changes since the previous complete run over the same endpoints file; None until compared."""
    usage_period: UsagePeriod | None = None
    """The period `suites` aggregate over; None: this run alone."""
    source: str | None = None
    """The endpoints file the run was over (its resolved path): runs are compared with runs of the same file."""
    tool: Tool | None = None
    """The tlsverify (and sslyze, nassl) that probed; None for a run stored before versions were recorded."""


class Severity(StrEnum):
    """How bad a problem in an input file is: errors stop the command (exit 2), warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, with where it is and how to fix it."""

    path: str
    line: int | None
    column: int | None
    field: str
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        field = shown_field(self.field)
        text = f"{where}: {prefix}{field + ': ' if field else ''}{self.message}"
        return text + (f" ({self.hint})" if self.hint else "")


def shown_field(field: str) -> str:
    """A field path as a person counts, like the line and column beside it: `endpoints.0.port` is
    `endpoints item 1, port` (the first item, not the zeroth)."""
    shown = ""
    for part in field.split(".") if field else ():
        if part.isdigit():
            shown += f" item {int(part) + 1}"
        else:
            shown += (", " if shown.endswith(tuple("0123456789")) else "." if shown else "") + part
    return shown


class ConfigError(Exception):
    """One or more problems in an input file; str() lists them all, one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
