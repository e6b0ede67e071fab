"""The demo lab: loopback servers standing in for the seed's server kinds, each configured differently.

| id | stands in for | configuration | expected under the shipped policy |
|---|---|---|---|
| apns | APNS | ECDHE-ECDSA/RSA GCM and ChaCha20, TLS 1.2 and 1.3 | ok |
| apple-dep | Apple Device Enrollment | ECDHE-RSA GCM, enforces its own order (AES-128 first) | ok, server's pick |
| gateway | MobileIron Gateway | ECDHE and TLS_RSA suites, client's order | ok |
| scep | SCEP server | TLS_RSA_* only | no common suite: needs Disabled TLS_RSA_* |
| smtps | SMTPS relay (aiosmtpd) | ECDHE CBC-SHA1 and RSA, its own order | no common suite: needs Disabled CBC-SHA1 |
| smtp | SMTP relay (aiosmtpd, STARTTLS on the plain port) | ECDHE-RSA GCM | ok |
| ldap | LDAP directory (stock slapd, StartTLS; where slapd is installed) | GnuTLS's defaults | ok |
| ldaps | LDAP directory | TLS 1.0 and 1.1 only | no TLS 1.2 |
| sentry | Standalone Sentry | closed port | unreachable |
| connector | Connector | 3DES only (gnutls-serv, where installed) | no common suite: only suites 10.2 removed |
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from scanner.lab import slapd
from scanner.lab.gnutls import PRIORITY_3DES, GnutlsServer, unavailable_reason
from scanner.lab.servers import LOOPBACK, Lab, ServerSpec, closed_port
from scanner.lab.slapd import SlapdServer
from scanner.lab.smtp import SmtpServer

_GCM_ECDSA = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"
_GCM_RSA = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305"
_RSA_KX = "AES256-GCM-SHA384:AES128-GCM-SHA256:AES256-SHA256:AES128-SHA256:AES256-SHA:AES128-SHA"


@dataclass(frozen=True)
class DemoServer:
    """One lab endpoint: its endpoints.yaml entry and the server behind it.

    `spec` is a Python ssl server; `gnutls_priority` a gnutls-serv one; neither means a closed port.
    """

    id: str
    name: str
    category: str
    spec: ServerSpec | None
    gnutls_priority: str | None = None
    protocol: str = "tls"
    """How the client reaches it: `tls`, `smtps` and `smtp+starttls` (aiosmtpd), `ldap+starttls` (slapd)."""


DEMO_SERVERS: tuple[DemoServer, ...] = (
    DemoServer(
        "apns",
        "APNS stand-in",
        "APNS",
        ServerSpec(
            "apns",
            f"{_GCM_ECDSA}:{_GCM_RSA}",
            max_version=ssl.TLSVersion.TLSv1_3,
            certificates=("ecdsa", "rsa"),
        ),
    ),
    DemoServer(
        "apple-dep",
        "Apple Device Enrollment stand-in",
        "Apple DEP",
        ServerSpec(
            "apple-dep",
            "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA",
            server_preference=True,
        ),
    ),
    DemoServer(
        "gateway",
        "MobileIron Gateway stand-in",
        "Gateway",
        ServerSpec("gateway", f"{_GCM_RSA}:{_RSA_KX}", max_version=ssl.TLSVersion.TLSv1_3),
    ),
    DemoServer("scep", "SCEP server stand-in", "SCEP", ServerSpec("scep", _RSA_KX)),
    DemoServer(
        "smtps",
        "SMTPS relay stand-in",
        "SMTPS",
        ServerSpec("smtps", "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA", server_preference=True),
        protocol="smtps",
    ),
    DemoServer(
        "smtp", "SMTP relay stand-in (STARTTLS)", "SMTP", ServerSpec("smtp", _GCM_RSA), protocol="smtp+starttls"
    ),
    DemoServer("ldap", "LDAP directory stand-in (StartTLS)", "LDAP", None, protocol="ldap+starttls"),
    DemoServer(
        "ldaps",
        "LDAPS directory stand-in",
        "LDAP",
        ServerSpec(
            "ldaps",
            "ECDHE-RSA-AES128-SHA:AES128-SHA:AES256-SHA",
            min_version=ssl.TLSVersion.TLSv1,
            max_version=ssl.TLSVersion.TLSv1_1,
        ),
    ),
    DemoServer("sentry", "Standalone Sentry stand-in (not running)", "Sentry", None),
    DemoServer("connector", "Connector stand-in (3DES only)", "Connector", None, gnutls_priority=PRIORITY_3DES),
)


def start_lab(
    lab: Lab, servers: tuple[DemoServer, ...] = DEMO_SERVERS, skipped: list[str] | None = None
) -> list[dict[str, object]]:
    """Start every demo server in `lab`; return the endpoints.yaml entries that point at them.

    A gnutls server that cannot run here is left out, with the reason appended to `skipped`.
    """
    entries: list[dict[str, object]] = []
    for server in servers:
        if server.gnutls_priority is not None:
            reason = unavailable_reason()
            if reason is None:
                try:
                    port = lab.add(
                        GnutlsServer(
                            server.id,
                            priority=server.gnutls_priority,
                            certificates=lab.certificates,
                            workdir=str(lab.directory),
                        )
                    ).port
                except RuntimeError as exc:
                    reason = str(exc)
            if reason is not None:
                if skipped is not None:
                    skipped.append(f"{server.id}: {reason}")
                continue
        elif server.protocol in ("smtps", "smtp+starttls") and server.spec is not None:
            implicit = server.protocol == "smtps"
            port = lab.add(
                SmtpServer(server.id, spec=server.spec, certificates=lab.certificates, implicit_tls=implicit)
            ).port
        elif server.protocol == "ldap+starttls":
            reason = slapd.unavailable_reason()
            if reason is not None:
                if skipped is not None:
                    skipped.append(f"{server.id}: {reason}")
                continue
            directory = SlapdServer(
                server.id, certificates=lab.certificates, workdir=str(lab.directory), plain_ldap=True
            )
            lab.add(directory)
            port = directory.starttls_port
        elif server.spec is not None:
            port = lab.start(server.spec).port
        else:
            port = closed_port()
        entries.append(
            {
                "id": server.id,
                "name": server.name,
                "category": server.category,
                "host": f"{server.id}.lab.tlsverify.test",
                "ip": LOOPBACK,
                "port": port,
                "protocol": server.protocol,
                "ca_file": str(lab.certificates.ca_bundle()),  # the lab's own CAs: the client trusts them
            }
        )
    return entries
