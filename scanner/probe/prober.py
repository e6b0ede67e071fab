"""Probe one endpoint: TLS versions, accepted TLS 1.2 suites, preference order, and the policy's handshake.

Blocking by design (sslyze is); `scanner.scan` runs it in worker threads. Every connection first passes the
`gate` (rate limit and deadline), lasts no longer than the time the gate says is left, and is closed
before the next one opens.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache

from scanner import catalog, clients
from scanner.clients import ClientProfile
from scanner.models import (
    Certificate,
    Endpoint,
    EndpointStatus,
    Policy,
    ProbeMode,
    ProbeResult,
    Protocol,
    TlsVersion,
)
from scanner.probe import complete_sslyze_init
from scanner.probe.certificate import inspect as inspect_certificate
from scanner.probe.contract import DeadlineExceeded, Gate, Target
from scanner.probe.elimination import (
    Elimination,
    HelloBudget,
    Offer,
    detect_server_preference,
    eliminate,
    eliminate_adaptively,
)
from scanner.probe.handshake import Client, client_codes, first_flight, handshake, legacy_only_codes
from scanner.probe.outcome import Accepted, Outcome, Refusal, Rejected, Unreachable
from scanner.probe.raw import hello_handshake

_OTHER_VERSIONS = (TlsVersion.SSLV3, TlsVersion.TLSV1_0, TlsVersion.TLSV1_1, TlsVersion.TLSV1_3)


@dataclass
class _Run:
    """Bookkeeping for one endpoint's probe: the target, every connection made, notes for the report."""

    target: Target
    gate: Gate
    profile: ClientProfile
    ca_file: str | None = None
    connections: int = 0
    notes: list[str] = field(default_factory=list)
    own_hellos: HelloBudget = field(default_factory=HelloBudget)
    """What the server takes of the client's own hello (longer than OpenSSL's for as many suites)."""
    openssl_hellos: HelloBudget = field(default_factory=HelloBudget)
    refusals: set[Refusal] = field(default_factory=set)
    """How the TLS 1.2 enumeration's hellos were refused (the version probes' refusals do not count: a
    server refusing an old version says nothing of how it refuses TLS 1.2)."""

    def offer(self, version: TlsVersion, client: Client, suites: Sequence[int] | None, whole: bool = False) -> Outcome:
        """nassl's OpenSSL hello offering `suites` at exactly `version`, read up to the ServerHello (the
        server's choice is all the enumeration and the version probes need), or with `whole` a whole
        handshake."""
        remaining = self.gate()
        self.connections += 1
        connect = handshake if whole else first_flight
        return connect(self.target, version, client, suites, limit_s=remaining)

    def offer_tls12(self, client: Client) -> Offer:
        return lambda suites: self.offer(TlsVersion.TLSV1_2, client, suites)

    def offer_hello(self, suites: Sequence[int], whole_flight: bool = False) -> Outcome:
        """The modelled client's own TLS 1.2 ClientHello (its groups, signature algorithms, extensions)
        offering `suites`; read up to the ServerHello."""
        remaining = self.gate()
        limit = self.target.connection_limit_s if remaining is None else min(remaining, self.target.connection_limit_s)
        self.connections += 1
        return hello_handshake(self.target, self.profile, suites, limit_s=limit, whole_flight=whole_flight)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@dataclass(frozen=True)
class _Enumeration:
    """Accepted suites (code points, in pick order), whether the server imposes its order, or why not;
    `other_hello` are the accepted suites only OpenSSL's hello got, never the client's own."""

    picks: list[int]
    server_preference: bool | None
    unreachable: Unreachable | None = None
    other_hello: tuple[int, ...] = ()
    cut_short: str | None = None


def _target(endpoint: Endpoint, ip: str, timeout_s: float) -> Target:
    return Target(ip, endpoint.port, endpoint.server_name, timeout_s, endpoint.protocol, endpoint.proxy)


@dataclass(frozen=True)
class SslyzeProber:
    """Probes with sslyze's connection machinery and the modelled client's own ClientHello: elimination by
    default, or sslyze's own per-suite scan."""

    timeout_s: float = 5.0
    exhaustive: bool = False
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """What "now" is for the certificate's validity dates."""

    def probe(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult:
        started = time.monotonic()
        mode = ProbeMode.EXHAUSTIVE if self.exhaustive else ProbeMode.ELIMINATION
        try:
            ip = _resolve(endpoint)
        except socket.gaierror as exc:
            reason = f"cannot resolve {endpoint.host}: {exc.strerror}"
            return ProbeResult(endpoint.id, EndpointStatus.DNS_ERROR, reason, mode=mode)
        except (UnicodeError, ValueError) as exc:
            reason = f"{endpoint.host!r} is not a valid host name: {exc}"
            return ProbeResult(endpoint.id, EndpointStatus.DNS_ERROR, reason, mode=mode)
        run = _Run(_target(endpoint, ip, self.timeout_s), gate, clients.get(policy.client), endpoint.ca_file)
        try:
            result = self._probe(endpoint, policy, run, mode)
        except DeadlineExceeded as exc:
            reason = f"{exc} after {run.connections} connections; partial results discarded"
            result = ProbeResult(endpoint.id, EndpointStatus.TIMEOUT, reason, ip=ip, mode=mode)
        except Exception as exc:  # our bug, whatever the server did: a result, never a crash, never its fault
            reason = f"internal error while probing (a tlsverify bug; please report it): {type(exc).__name__}: {exc}"
            result = ProbeResult(endpoint.id, EndpointStatus.INTERNAL_ERROR, reason, ip=ip, mode=mode)
        notes = tuple(dict.fromkeys([*result.notes, *run.notes]))
        duration = round(time.monotonic() - started, 3)
        return replace(result, connections=run.connections, duration_s=duration, notes=notes)

    def handshake_only(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult:
        """One handshake as the client makes it, offering the Selected suites it implements (no
        enumeration): `negotiated` is what the server picked, or None with the reason. For checking
        predictions."""
        try:
            ip = _resolve(endpoint)
        except (socket.gaierror, UnicodeError, ValueError) as exc:
            return ProbeResult(endpoint.id, EndpointStatus.DNS_ERROR, f"cannot resolve {endpoint.host}: {exc}")
        run = _Run(_target(endpoint, ip, self.timeout_s), gate, clients.get(policy.client), endpoint.ca_file)
        base = ProbeResult(endpoint.id, EndpointStatus.OK, ip=ip)
        try:
            result = _client_handshake(run, policy, base, predicted=None, now=self.clock())
        except DeadlineExceeded as exc:
            result = replace(base, status=EndpointStatus.TIMEOUT, reason=str(exc))
        return replace(result, connections=run.connections, notes=tuple(run.notes))

    def _probe(self, endpoint: Endpoint, policy: Policy, run: _Run, mode: ProbeMode) -> ProbeResult:
        found = _enumerate_exhaustive(run) if self.exhaustive else _enumerate(run)
        ip = run.target.ip
        if found.unreachable is not None:
            status, reason = _unreachable(run, found.unreachable)
            return ProbeResult(endpoint.id, status, reason, ip=ip, mode=mode)
        versions = [v for v in _OTHER_VERSIONS if _speaks(run, v)]
        if found.picks:
            versions.append(TlsVersion.TLSV1_2)
        versions.sort(key=list(TlsVersion).index)
        accepted = _iana_names(found.picks)
        if not found.server_preference:
            accepted = catalog.strongest_first(accepted)
        base = ProbeResult(
            endpoint.id,
            EndpointStatus.OK,
            ip=ip,
            tls_versions=tuple(versions),
            accepted_tls12=tuple(accepted),
            accepted_other_hello=tuple(_iana_names(found.other_hello)),
            server_preference=found.server_preference,
            mode=mode,
        )
        if found.cut_short:
            base = replace(base, evidence=f"enumeration cut short: {found.cut_short}")
        if not found.picks:
            if versions:
                spoken = ", ".join(versions)
                return replace(base, status=EndpointStatus.NO_TLS12, reason=f"server does not speak TLS 1.2 ({spoken})")
            return replace(base, status=EndpointStatus.TLS_ERROR, reason=_no_tls_reason(run))
        predicted = run.profile.negotiate(policy.selected, base.client_accepted, base.server_preference)
        return _client_handshake(run, policy, base, predicted, self.clock(), found.cut_short)


def _enumerate(run: _Run) -> _Enumeration:
    """Elimination with the client's own hello over every suite that it or either of nassl's OpenSSL
    builds knows (only the server's choice is needed, so that hello can name suites the client does not
    implement); then with nassl's modern OpenSSL over what is left, for the suites a server grants only to
    OpenSSL's hello. What the client's hello gets is what the client can get: a server may grant a suite
    only to a hello that lists, say, the RFC 7919 groups Java lists and OpenSSL does not, or refuse one
    for want of a group the client does not list (x25519 in JDK 8)."""
    every = [*_profile_codes(run.profile), *client_codes(Client.MODERN), *legacy_only_codes()]
    own = eliminate_adaptively(run.offer_hello, list(dict.fromkeys(every)), run.own_hellos)
    _keep_notes(run, own, f"{run.profile.name} hello")
    if own.unreachable is not None and not own.picks:
        return _Enumeration([], None, own.unreachable)
    rest = [code for code in client_codes(Client.MODERN) if code not in own.picks]
    if own.picks and run.own_hellos.slice is None:
        # The server answered the client's whole hello, larger than OpenSSL's: a close without a word is its
        # way of saying no (slapd's, asyncio's), not a hello too large, so no smaller slices are tried.
        openssl = eliminate(run.offer_tls12(Client.MODERN), rest)
    else:
        openssl = eliminate_adaptively(run.offer_tls12(Client.MODERN), rest, run.openssl_hellos)
    _keep_notes(run, openssl, "OpenSSL hello")
    if openssl.picks:
        run.note(
            f"{len(openssl.picks)} suite(s) accepted only from OpenSSL's hello, never from the client's own, "
            f"so the client cannot negotiate them: {', '.join(_iana_names(openssl.picks))}"
        )
    preference, note = _preference(run, own.picks, openssl.picks)
    if note:
        run.note(note)
    picks = [*own.picks, *openssl.picks]
    if preference and run.own_hellos.slice and own.picks:
        # Slices keep the server's order only within themselves: one more pass over the accepted suites
        # in one hello, if they fit in one the server takes.
        if len(own.picks) <= run.own_hellos.slice:
            ordered = eliminate(run.offer_hello, own.picks).picks
            if set(ordered) == set(own.picks):
                picks = [*ordered, *openssl.picks]
        else:
            run.note("the server's order is known only within each slice of suites offered")
    cut_short = own.cut_short or openssl.cut_short
    return _Enumeration(picks, preference, other_hello=tuple(openssl.picks), cut_short=cut_short)


@cache
def _profile_codes(profile: ClientProfile) -> tuple[int, ...]:
    return tuple(catalog.resolve(name).code for name in profile.suites)


def _enumerate_exhaustive(run: _Run) -> _Enumeration:
    """sslyze's own scan, one handshake per suite; then our order check on what it found. Not through a
    proxy: sslyze's own tunnel encodes credentials otherwise than a client does (it would send a wrong
    password on every run) and reads past the proxy's answer, so a proxied endpoint gets elimination."""
    complete_sslyze_init()  # sslyze's scanner and plugins need the package's own __init__
    from scanner.probe.exhaustive import sslyze_tls12_scan

    if run.target.proxy is not None:
        run.note("sslyze's own scan does not go through the proxy's tunnel as the client does: elimination used")
        return _enumerate(run)

    first = run.offer(TlsVersion.TLSV1_2, Client.MODERN, None, whole=True)
    if isinstance(first, Unreachable):
        return _Enumeration([], None, first)
    run.gate()
    scan = sslyze_tls12_scan(run.target)
    run.connections += scan.connections
    if scan.error and not scan.accepted:
        run.note(f"{scan.error}; fell back to elimination")
        return _enumerate(run)
    run.note("connections count sslyze's per-suite handshakes, not its few connectivity-check ones")
    # What the client's own hello gets of them, in pick order (the server's, if it imposes one).
    picks = _strongest_first(scan.accepted)
    own = list(eliminate(run.offer_hello, picks).picks)
    other = [code for code in picks if code not in own]
    preference, note = _preference(run, own, other)
    if note:
        run.note(note)
    return _Enumeration([*own, *other] if preference else picks, preference, other_hello=tuple(other))


def _preference(run: _Run, own: Sequence[int], openssl: Sequence[int]) -> tuple[bool | None, str | None]:
    """Ask whether the server imposes its order: offer suites one hello got, in another order, with that
    same hello (another hello may not be able to get the first of them at all). The client's own hello
    decides when it got two suites or more; OpenSSL's when only it did."""
    for picks, offer, budget in (
        (own, run.offer_hello, run.own_hellos),
        (openssl, run.offer_tls12(Client.MODERN), run.openssl_hellos),
    ):
        if len(picks) < 2:
            continue
        if budget.slice:  # a hello the server takes: no more suites than one slice, and picks of one slice
            return detect_server_preference(offer, picks[: budget.slice], in_pick_order=False)
        return detect_server_preference(offer, picks, in_pick_order=True)
    return None, None


def _no_tls_reason(run: _Run) -> str:
    """Why no handshake worked, in words an admin can act on, with the first error as the evidence."""
    first = run.notes[0] if run.notes else "no answer recorded"
    if run.refusals & {Refusal.NOT_TLS}:
        return f"the server does not answer in TLS: {_PLAIN_TEXT_HINTS[run.target.protocol]} ({first})"
    if run.refusals and run.refusals <= {Refusal.CLOSED, Refusal.RESET}:
        return f"the server closes or resets every TLS handshake, whatever version and suites are offered ({first})"
    return f"no TLS handshake succeeded with any version ({first})"


_PLAIN_TEXT_HINTS = {
    Protocol.HTTPS: "plain HTTP or another protocol on this port?",
    Protocol.TLS: "plain HTTP or another protocol on this port?",
    Protocol.SMTPS: "a plain-text SMTP server on an implicit-TLS port? (STARTTLS: use protocol smtp+starttls)",
    Protocol.LDAPS: "a plain-text LDAP server on an implicit-TLS port? (StartTLS: use protocol ldap+starttls)",
    Protocol.SMTP_STARTTLS: "after STARTTLS was accepted",
    Protocol.LDAP_STARTTLS: "after StartTLS was accepted",
}


def _keep_notes(run: _Run, elimination: Elimination, who: str) -> None:
    for note in elimination.notes:
        run.note(note)
    ended = elimination.ended
    if isinstance(ended, Rejected):
        run.refusals.add(ended.kind)
    if isinstance(ended, Unreachable) and elimination.picks:
        run.note(f"TLS 1.2 enumeration ({who}) cut short, the accepted list may be incomplete: {ended.reason}")
    elif isinstance(ended, Rejected | Unreachable) and not elimination.picks:
        run.note(f"TLS 1.2 ({who}): {ended.reason}")


# A short list for version probes of servers that refuse large hellos: common suites of every era.
_SMALL_HELLO_SUITES = (
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_RC4_128_MD5",
)


def _speaks(run: _Run, version: TlsVersion) -> bool:
    client = Client.MODERN if version is TlsVersion.TLSV1_3 else Client.LEGACY
    small = run.openssl_hellos.slice is not None and version is not TlsVersion.TLSV1_3
    suites = [catalog.resolve(name).code for name in _SMALL_HELLO_SUITES] if small else None
    outcome = run.offer(version, client, suites)
    if isinstance(outcome, Unreachable):
        run.note(f"{version}: {outcome.reason}")
    return isinstance(outcome, Accepted)


def _client_handshake(
    run: _Run, policy: Policy, base: ProbeResult, predicted: str | None, now: datetime, cut_short: str | None = None
) -> ProbeResult:
    """One ClientHello exactly as the modelled client sends it: the Selected suites it implements, in
    order, TLS 1.2 only, with its groups, signature algorithms and extensions. Its answer is the status;
    where the accepted list predicted otherwise, the result says so and why. The certificate chain it
    receives is the one the client would judge (the server's choice may depend on the suite and the name)."""
    profile = run.profile
    offered, missing = profile.offer(policy.selected)
    for name in missing:
        run.note(f"Selected suite {name} is not implemented by {profile.title}: the client never offers it")
    if not offered:
        reason = f"{profile.title} implements none of the {len(policy.selected)} Selected suites"
        return replace(base, status=EndpointStatus.NO_COMMON_SUITE, reason=reason)
    outcome = run.offer_hello(offered, whole_flight=True)
    if isinstance(outcome, Rejected) and outcome.silent:  # one close or reset may be a flaky server: once more
        first = outcome.reason
        outcome = run.offer_hello(offered, whole_flight=True)
        if isinstance(outcome, Accepted):
            run.note(f"the client's first handshake was cut ({first}); a second one went through")
    if isinstance(outcome, Accepted) and outcome.asks_certificate:
        base = replace(base, client_certificate=_client_certificate(run, outcome.code))
    if isinstance(outcome, Accepted) and outcome.certificates:
        base = replace(base, certificate=_certificate(run, outcome.certificates, now))
    if isinstance(outcome, Accepted):
        suite = catalog.by_code(outcome.code)
        name = suite.name if suite else f"0x{outcome.code:04X}"
        if outcome.code not in offered:
            reason = f"the server picked {name}, which the client did not offer: the client aborts the handshake"
            return replace(base, status=EndpointStatus.TLS_ERROR, reason=reason)
        evidence = base.evidence
        if predicted and predicted != name:
            evidence = (
                f"the client's own hello negotiated {name}, where the accepted suites and the server's order "
                f"predicted {predicted}: the status rests on the client's hello, as the real client sends it"
            )
        elif predicted is None and base.client_accepted:
            evidence = (
                f"the client's own hello negotiated {name}, which the enumeration did not find accepted: the "
                "status rests on the client's hello, as the real client sends it"
            )
        return replace(base, negotiated=name, evidence=evidence)
    if isinstance(outcome, Unreachable):
        return replace(base, status=outcome.status, reason=f"policy handshake: {outcome.reason}")
    # A Selected suite the server accepts, from some hello: then not a matter of suites alone.
    other = predicted or profile.negotiate(policy.selected, base.accepted_tls12, base.server_preference)
    if other:
        which = "the enumeration's hellos" if predicted else "OpenSSL's hello only, never from the client's own"
        reason = f"the client's hello was refused ({outcome.reason}) although the server accepts {other}"
        evidence = (
            f"the server accepts {other} from {which}, but refused the client's hello: the status rests on the "
            "client's hello, as the real client sends it"
        )
        return replace(base, status=EndpointStatus.TLS_ERROR, reason=reason, evidence=evidence)
    if cut_short:
        # Which suites the server accepts is not known: no finding, and no Disabled suite to recommend.
        reason = f"the client's hello was refused ({outcome.reason}), and the enumeration was cut short: {cut_short}"
        return replace(base, status=EndpointStatus.TLS_ERROR, reason=reason)
    count = len(offered)
    reason = f"server accepts none of the {count} Selected suites {profile.title} offers ({outcome.reason})"
    return replace(base, status=EndpointStatus.NO_COMMON_SUITE, reason=reason)


def _certificate(run: _Run, chain: tuple[bytes, ...], now: datetime) -> Certificate | None:
    """The chain judged as the client judges it; None, with a note, when it cannot be read."""
    try:
        return inspect_certificate(chain, run.target.server_name, run.ca_file, now)
    except ValueError as exc:
        run.note(f"the server's certificate could not be checked: {exc}")
        return None


def _unreachable(run: _Run, failure: Unreachable) -> tuple[EndpointStatus, str]:
    """The status and reason of an endpoint no TLS conversation was possible with. A STARTTLS exchange that
    got no answer in its protocol is asked once more, with a ClientHello sent at once: a TLS server on a
    STARTTLS port answers it."""
    if not (failure.tls_suspected and run.target.protocol.starttls):
        return failure.status, failure.reason
    remaining = run.gate()
    run.connections += 1
    implicit = replace(run.target, protocol=Protocol.TLS)
    limit = min(remaining or implicit.connection_limit_s, implicit.connection_limit_s)
    answer = hello_handshake(implicit, run.profile, _profile_codes(run.profile), limit_s=limit)
    if isinstance(answer, Accepted) or (isinstance(answer, Rejected) and answer.kind is Refusal.ALERT):
        use = "smtps" if run.target.protocol is Protocol.SMTP_STARTTLS else "ldaps"
        reason = (
            f"a TLS server on a STARTTLS port: {failure.reason}, and it answers a ClientHello sent at once "
            f"(implicit TLS: use protocol {use})"
        )
        return EndpointStatus.TLS_ERROR, reason
    return failure.status, failure.reason


def _client_certificate(run: _Run, code: int) -> str:
    """Whether a server that asks for a client certificate refuses a client without one: one full
    handshake by OpenSSL, which answers with no certificate (where it can offer the suite)."""
    if code not in client_codes(Client.MODERN):
        return "asked"
    outcome = run.offer(TlsVersion.TLSV1_2, Client.MODERN, [code], whole=True)
    if isinstance(outcome, Accepted):
        return "optional"
    if isinstance(outcome, Rejected) and outcome.kind is Refusal.ALERT:
        return "required"
    return "asked"


def _strongest_first(codes: Sequence[int]) -> list[int]:
    def key(code: int) -> tuple[int, tuple[int, ...]]:
        suite = catalog.by_code(code)
        return (0, suite.sort_key) if suite else (1, (code,))

    return sorted(codes, key=key)


def _iana_names(codes: Sequence[int]) -> list[str]:
    names: list[str] = []
    for code in codes:
        suite = catalog.by_code(code)
        name = suite.name if suite else f"0x{code:04X}"
        if name not in names:
            names.append(name)
    return names


def _resolve(endpoint: Endpoint) -> str:
    """The address to dial: the configured `ip`, a literal address, or a lookup (IPv4 preferred). Behind a
    proxy, the name itself: the proxy looks it up, as it does for the client."""
    if endpoint.ip:
        return endpoint.ip
    if endpoint.proxy is not None:
        return endpoint.host.rstrip(".")
    try:
        return str(ipaddress.ip_address(endpoint.host))
    except ValueError:
        pass
    if endpoint.host.lower().rstrip(".").endswith(".invalid"):
        # RFC 6761: names under .invalid never resolve; do not even ask a resolver.
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (.invalid is never resolvable)")
    endpoint.host.encode("idna")  # raises UnicodeError for an empty or over-long label
    infos = socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
    ipv4 = [i for i in infos if i[0] == socket.AF_INET]
    return str((ipv4 or infos)[0][4][0])
