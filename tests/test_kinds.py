"""Every server kind the client talks to, probed for real: SMTP and LDAP with STARTTLS and implicit TLS,
through tinyproxy (with and without Basic authentication), nginx's name-based virtual servers (SNI), a server
on ::1, every address of a name, and the certificate the client's own handshake receives.

Each test starts the real server (aiosmtpd, Debian's slapd, tinyproxy, nginx) and checks the exact accepted
suites, the negotiated suite and the status, as the HTTPS tests do; the proxy tests also check, in the
target's and the proxy's own records, that every connection went through the tunnel.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main
from scanner.config import load_endpoints, write_endpoints
from scanner.lab import nginx, proxy, slapd
from scanner.lab.nginx import DEFAULT_NAME, ECDSA_NAME, RSA_NAME, NginxServer
from scanner.lab.proxy import TinyproxyServer
from scanner.lab.servers import LOOPBACK6, Lab, LoopbackServer, ServerSpec, TlsServer
from scanner.lab.slapd import SlapdServer
from scanner.lab.smtp import SmtpServer
from scanner.models import CertificateProblem, Endpoint, EndpointStatus, Policy, ProbeResult, Protocol, Proxy
from scanner.probe.prober import SslyzeProber
from tests.conftest import ROOT, no_gate

SUITES = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA"
ACCEPTED = {
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
}
# The shipped policy's first Selected suite these servers accept (they follow the client's order).
NEGOTIATED = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"


def need(reason: str | None) -> None:
    """Skip when a package is missing, except on CI, where everything must run."""
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def site(lab: Lab, id: str, port: int, protocol: Protocol, **extra: Any) -> Endpoint:
    """An endpoint of the lab, trusting the lab's CAs as the client would through its trust store."""
    fields: dict[str, Any] = {"ip": "127.0.0.1", "ca_file": str(lab.certificates.ca_bundle()), **extra}
    return Endpoint(id, id, "lab", f"{id}.lab.tlsverify.test", port, protocol, **fields)


def probe(endpoint: Endpoint, policy: Policy, **settings: Any) -> ProbeResult:
    return SslyzeProber(timeout_s=2, **settings).probe(endpoint, policy, no_gate)


def assert_connects(result: ProbeResult) -> None:
    assert result.status is EndpointStatus.OK, result.reason
    assert set(result.accepted_tls12) == ACCEPTED
    assert result.negotiated == NEGOTIATED
    assert result.certificate is not None and result.certificate.problems == ()
    # No more connections than for a server that answers in TLS at once, though aiosmtpd refuses a hello
    # without an alert: accepted + 10 for the whole probe.
    assert result.connections <= len(result.accepted_tls12) + 10


# --- SMTP and LDAP, STARTTLS and implicit TLS ---------------------------------------------------------------


@pytest.fixture(scope="module")
def smtp(lab: Lab) -> dict[str, SmtpServer]:
    servers = {
        "starttls": SmtpServer("smtp", spec=ServerSpec("smtp", SUITES), certificates=lab.certificates),
        "smtps": SmtpServer(
            "smtps", spec=ServerSpec("smtps", SUITES), certificates=lab.certificates, implicit_tls=True
        ),
        "no-starttls": SmtpServer(
            "no-starttls", spec=ServerSpec("x", SUITES), certificates=lab.certificates, offer_starttls=False
        ),
        "454": SmtpServer(
            "refuses",
            spec=ServerSpec("y", SUITES),
            certificates=lab.certificates,
            starttls_reply="454 4.7.0 TLS not available due to temporary reason",
        ),
    }
    for server in servers.values():
        lab.add(server)
    return servers


def test_smtp_starttls(lab: Lab, smtp: dict[str, SmtpServer], policy: Policy) -> None:
    result = probe(site(lab, "relay", smtp["starttls"].port, Protocol.SMTP_STARTTLS), policy)
    assert_connects(result)
    assert smtp["starttls"].tls_failures <= result.connections  # each probe connection ends after its hello


def test_smtps(lab: Lab, smtp: dict[str, SmtpServer], policy: Policy) -> None:
    assert_connects(probe(site(lab, "smtps", smtp["smtps"].port, Protocol.SMTPS), policy))


def test_smtp_without_starttls_says_so(lab: Lab, smtp: dict[str, SmtpServer], policy: Policy) -> None:
    result = probe(site(lab, "plain", smtp["no-starttls"].port, Protocol.SMTP_STARTTLS), policy)
    assert result.status is EndpointStatus.TLS_ERROR
    assert result.reason is not None and "does not offer STARTTLS (its EHLO lists" in result.reason
    assert result.connections == 1


def test_smtp_refusing_starttls_gives_its_reply(lab: Lab, smtp: dict[str, SmtpServer], policy: Policy) -> None:
    result = probe(site(lab, "refusing", smtp["454"].port, Protocol.SMTP_STARTTLS), policy)
    assert result.status is EndpointStatus.TLS_ERROR
    assert result.reason == "the server refused STARTTLS: 454 4.7.0 TLS not available due to temporary reason"


def test_a_plain_text_smtp_server_on_an_implicit_tls_port(
    lab: Lab, smtp: dict[str, SmtpServer], policy: Policy
) -> None:
    result = probe(site(lab, "mixed-up", smtp["starttls"].port, Protocol.SMTPS), policy)
    assert result.status is EndpointStatus.TLS_ERROR
    assert result.reason is not None and "plain-text SMTP server on an implicit-TLS port" in result.reason


def test_a_tls_server_on_a_starttls_port(lab: Lab, smtp: dict[str, SmtpServer], policy: Policy) -> None:
    result = probe(site(lab, "implicit", smtp["smtps"].port, Protocol.SMTP_STARTTLS), policy)
    assert result.status is EndpointStatus.TLS_ERROR
    assert result.reason is not None and result.reason.startswith("a TLS server on a STARTTLS port")
    assert "use protocol smtps" in result.reason
    assert result.connections == 2  # the silent greeting, then one ClientHello sent at once


@pytest.fixture(scope="module")
def directory(lab: Lab) -> SlapdServer:
    need(slapd.unavailable_reason())
    priority = "NONE:+VERS-TLS1.2:+AES-128-GCM:+AES-256-GCM:+ECDHE-RSA:+AEAD:+SIGN-ALL:+CURVE-ALL:+COMP-NULL"
    server = SlapdServer(
        "ldap",
        certificates=lab.certificates,
        workdir=str(lab.directory),
        plain_ldap=True,
        cipher_suite=priority,
    )
    lab.add(server)
    return server


LDAP_ACCEPTED = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}


@pytest.mark.parametrize("protocol", [Protocol.LDAP_STARTTLS, Protocol.LDAPS])
def test_slapd(lab: Lab, directory: SlapdServer, policy: Policy, protocol: Protocol) -> None:
    port = directory.starttls_port if protocol is Protocol.LDAP_STARTTLS else directory.port
    result = probe(site(lab, "directory", port, protocol), policy)
    assert result.status is EndpointStatus.OK, result.reason
    assert set(result.accepted_tls12) == LDAP_ACCEPTED
    assert result.negotiated == NEGOTIATED
    assert result.connections <= len(result.accepted_tls12) + 10  # slapd refuses without an alert too
    assert result.certificate is not None and result.certificate.problems == ()


def test_ldap_starttls_refused_with_a_result_code(lab: Lab, policy: Policy) -> None:
    from scanner.lab.ldap import StartTlsRefusingServer

    server = lab.add(StartTlsRefusingServer("refusing-ldap", result_code=52, diagnostic="TLS not configured"))
    result = probe(site(lab, "refusing-ldap", server.port, Protocol.LDAP_STARTTLS), policy)
    assert result.status is EndpointStatus.TLS_ERROR
    assert result.reason == "the server refused StartTLS: LDAP result 52 (unavailable): TLS not configured"


# --- the proxy ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxies(lab: Lab) -> dict[str, TinyproxyServer]:
    need(proxy.unavailable_reason())
    found = {
        "open": TinyproxyServer("proxy", workdir=str(lab.directory)),
        "auth": TinyproxyServer("auth-proxy", workdir=str(lab.directory), basic_auth=("probe", "pa55-w0rd-x9")),
    }
    for server in found.values():
        lab.add(server)
    return found


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    monkeypatch.setenv("LAB_PROXY_USER", "probe")
    monkeypatch.setenv("LAB_PROXY_PASSWORD", "pa55-w0rd-x9")
    yield "LAB_PROXY_USER", "LAB_PROXY_PASSWORD"


@pytest.mark.parametrize("kind", ["tls", "smtp+starttls"])
def test_through_the_proxy_every_connection_is_tunnelled(
    lab: Lab, proxies: dict[str, TinyproxyServer], smtp: dict[str, SmtpServer], policy: Policy, kind: str
) -> None:
    tinyproxy = proxies["open"]
    if kind == "tls":
        target: TlsServer = lab.start(ServerSpec("behind", SUITES))
        protocol = Protocol.TLS
    else:
        target, protocol = smtp["starttls"], Protocol.SMTP_STARTTLS
    target.reset_counts()
    before = len(tinyproxy.requests())
    endpoint = site(lab, "behind", target.port, protocol, proxy=Proxy("127.0.0.1", tinyproxy.port))
    result = probe(endpoint, policy)
    assert_connects(result)
    target.settle()
    tunnelled = tinyproxy.requests()[before:]
    assert tunnelled == [f"CONNECT 127.0.0.1:{target.port} HTTP/1.1"] * result.connections
    assert target.connections == result.connections  # and the target saw no connection but through it


def test_proxy_with_basic_authentication(
    lab: Lab, proxies: dict[str, TinyproxyServer], policy: Policy, credentials: tuple[str, str]
) -> None:
    target = lab.start(ServerSpec("behind-auth", SUITES))
    endpoint = site(
        lab, "behind-auth", target.port, Protocol.TLS, proxy=Proxy("127.0.0.1", proxies["auth"].port, *credentials)
    )
    assert_connects(probe(endpoint, policy))


def test_proxy_with_wrong_credentials_says_authentication_failed(
    lab: Lab, proxies: dict[str, TinyproxyServer], policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_PROXY_USER", "probe")
    monkeypatch.setenv("LAB_PROXY_PASSWORD", "not-the-password")
    target = lab.start(ServerSpec("behind-wrong", SUITES))
    auth = Proxy("127.0.0.1", proxies["auth"].port, "LAB_PROXY_USER", "LAB_PROXY_PASSWORD")
    result = probe(site(lab, "wrong", target.port, Protocol.TLS, proxy=auth), policy)
    assert result.status is EndpointStatus.UNREACHABLE
    assert result.reason is not None and result.reason.startswith("proxy authentication failed")
    assert "not-the-password" not in result.reason
    assert result.connections == 1


def test_proxy_target_unreachable_and_proxy_unreachable(
    lab: Lab, proxies: dict[str, TinyproxyServer], policy: Policy
) -> None:
    from scanner.lab.servers import closed_port

    closed = closed_port()
    result = probe(site(lab, "gone", closed, Protocol.TLS, proxy=Proxy("127.0.0.1", proxies["open"].port)), policy)
    assert result.status is EndpointStatus.UNREACHABLE
    assert result.reason == (
        f"target 127.0.0.1:{closed} unreachable behind proxy 127.0.0.1:{proxies['open'].port}: "
        "the proxy answered 'HTTP/1.1 500 Unable to connect'"
    )
    no_proxy = closed_port()
    result = probe(site(lab, "no-proxy", 443, Protocol.TLS, proxy=Proxy("127.0.0.1", no_proxy)), policy)
    assert result.status is EndpointStatus.UNREACHABLE
    assert result.reason == f"proxy 127.0.0.1:{no_proxy} unreachable: connection refused"


def test_no_secret_in_any_file_or_output(
    lab: Lab,
    proxies: dict[str, TinyproxyServer],
    tmp_path: Path,
    credentials: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = lab.start(ServerSpec("secret-ok", SUITES))
    endpoints = tmp_path / "endpoints.yaml"
    block = {
        "url": f"http://127.0.0.1:{proxies['auth'].port}",
        "username_env": credentials[0],
        "password_env": credentials[1],
    }
    entries: list[dict[str, object]] = [
        {
            "id": "ok",
            "host": "ok.lab.tlsverify.test",
            "ip": "127.0.0.1",
            "port": good.port,
            "protocol": "tls",
            "proxy": block,
        },
        {
            "id": "gone",
            "host": "gone.lab.tlsverify.test",
            "ip": "127.0.0.1",
            "port": 9,
            "protocol": "tls",
            "proxy": block,
        },
    ]
    entries = [{**entry, "proxy": dict(block)} for entry in entries]
    write_endpoints(entries, endpoints, "secrets", lab.certificates.ca_bundle())
    out = tmp_path / "out"
    args = ["--endpoints", str(endpoints), "--policy", str(ROOT / "policy.yaml"), "--out", str(out), "--no-progress"]
    assert main(["verify-all", *args]) == 3  # `gone` could not be reached through the proxy; nothing else failed
    assert main(["report", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    password = "pa55-w0rd-x9"
    token = base64.b64encode(f"probe:{password}".encode()).decode()
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert {p.name for p in written} >= {"verify-all.json", "verify-all.html", "tlsverify.sqlite"}
    for text in [printed.out, printed.err, *(p.read_bytes().decode("utf-8", "replace") for p in written)]:
        assert password not in text and token not in text
    report = (out / "verify-all.json").read_text()
    assert f'"proxy": "127.0.0.1:{proxies["auth"].port}"' in report


def test_unset_credentials_stop_the_run_before_any_traffic(
    lab: Lab, proxies: dict[str, TinyproxyServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoints = tmp_path / "endpoints.yaml"
    block = {"url": f"http://127.0.0.1:{proxies['auth'].port}", "username_env": "UNSET_U", "password_env": "UNSET_P"}
    write_endpoints([{"id": "a", "host": "a.example", "port": 443, "proxy": block}], endpoints, "unset")
    before = len(proxies["auth"].requests())
    args = ["--endpoints", str(endpoints), "--policy", str(ROOT / "policy.yaml"), "--out", str(tmp_path / "o")]
    assert main(["verify-all", *args, "--no-progress"]) == 2
    assert "$UNSET_U, which is not set" in capsys.readouterr().err
    assert len(proxies["auth"].requests()) == before


# --- SNI, addresses ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def virtual(lab: Lab) -> NginxServer:
    need(nginx.unavailable_reason())
    server = NginxServer("vhosts", certificates=lab.certificates, workdir=str(lab.directory))
    lab.add(server)
    return server


@pytest.mark.parametrize(
    ("name", "accepted", "negotiated", "key_type"),
    [
        (RSA_NAME, ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA"], None, "RSA"),
        (
            ECDSA_NAME,
            ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"],
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "EC",
        ),
        (DEFAULT_NAME, ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA"], NEGOTIATED, "RSA"),
    ],
)
def test_one_port_many_names_each_reported_for_itself(
    lab: Lab,
    virtual: NginxServer,
    policy: Policy,
    name: str,
    accepted: list[str],
    negotiated: str | None,
    key_type: str,
) -> None:
    endpoint = replace(site(lab, name.split(".")[0], virtual.port, Protocol.HTTPS), host=name)
    result = probe(endpoint, policy)
    assert set(result.accepted_tls12) == set(accepted)
    if negotiated is None:  # rsa.lab.test imposes ECDHE-RSA-AES128-GCM first: the client's pick is the server's
        assert result.server_preference is True
        assert result.negotiated == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    else:
        assert result.negotiated == negotiated
    assert result.status is EndpointStatus.OK
    assert result.certificate is not None and result.certificate.key_type == key_type
    assert f"DNS:{name}" in result.certificate.sans and result.certificate.problems == ()
    seen = {c.server_name for c in virtual.connection_log()[-result.connections :]}
    assert seen - {None} == {name}  # nginx saw our SNI (SSL 3.0's hello has no extensions, so no SNI)


def test_sni_overrides_host_and_ip_still_sends_the_name(lab: Lab, virtual: NginxServer, policy: Policy) -> None:
    endpoint = replace(site(lab, "by-sni", virtual.port, Protocol.HTTPS), host="localhost", sni=ECDSA_NAME)
    result = probe(endpoint, policy)
    assert result.negotiated == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
    assert result.certificate is not None and result.certificate.problems == ()  # the name checked is the SNI


def test_ipv6_endpoint(lab: Lab, policy: Policy) -> None:
    server = lab.start(ServerSpec("six", SUITES))
    six = TlsServer("six-v6", spec=ServerSpec("six", SUITES), certificates=lab.certificates, host=LOOPBACK6)
    lab.add(six)
    result = probe(site(lab, "six", six.port, Protocol.TLS, ip="::1"), policy)
    assert_connects(result)
    assert result.ip == "::1" and six.connections == result.connections and server.connections == 0


def test_all_addresses_reports_where_they_disagree(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One name, two addresses (127.0.0.1 and ::1, the same port) serving different suites: each is probed,
    and the disagreement is reported. The name's A and AAAA records come from a stub resolver."""
    v4 = lab.start(ServerSpec("dual", SUITES))
    six_suites = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"  # not AES128-SHA
    v6 = TlsServer("dual-v6", spec=ServerSpec("dual", six_suites), certificates=lab.certificates)
    v6.host, v6.port = LOOPBACK6, v4.port
    lab.add(v6)
    real = socket.getaddrinfo

    def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "dual.lab.tlsverify.test":
            return [*real("127.0.0.1", port, *args, **kwargs), *real("::1", port, *args, **kwargs)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    endpoints = tmp_path / "endpoints.yaml"
    entry = {"id": "dual", "host": "dual.lab.tlsverify.test", "port": v4.port, "protocol": "tls"}
    write_endpoints([entry], endpoints, "dual", lab.certificates.ca_bundle())
    out = tmp_path / "out"
    args = ["--endpoints", str(endpoints), "--policy", str(ROOT / "policy.yaml"), "--out", str(out), "--no-progress"]
    assert main(["verify-all", *args, "--all-addresses"]) == 0
    printed = capsys.readouterr().out
    assert "Addresses disagree behind dual (127.0.0.1, ::1): accepted_tls12 differ." in printed
    import json

    doc = json.loads((out / "verify-all.json").read_text())
    assert [e["id"] for e in doc["endpoints"]] == ["dual@127.0.0.1", "dual@::1"]
    assert doc["address_disagreements"] == [
        {"endpoint": "dual", "addresses": ["127.0.0.1", "::1"], "differ": ["accepted_tls12"]}
    ]
    assert v4.connections > 0 and v6.connections > 0


# --- certificates, as the client's own handshake receives them ----------------------------------------------


@pytest.fixture(scope="module")
def plain(lab: Lab) -> TlsServer:
    return lab.start(ServerSpec("certs", SUITES))


def test_a_certificate_the_client_does_not_trust_fails_the_endpoint(
    lab: Lab, plain: TlsServer, policy: Policy, tmp_path: Path
) -> None:
    untrusted = replace(site(lab, "certs", plain.port, Protocol.TLS), ca_file=None)  # the system store
    result = probe(untrusted, policy)
    assert result.status is EndpointStatus.OK  # the negotiation works ...
    assert result.certificate is not None and result.certificate.trust == "system"
    assert [p.kind for p in result.certificate.problems] == [CertificateProblem.UNTRUSTED]
    from scanner.findings import finding

    assert not finding(untrusted, result, policy).connects  # ... the client refuses the certificate


def test_wrong_name_expired_and_expiring(lab: Lab, plain: TlsServer, policy: Policy) -> None:
    wrong = replace(site(lab, "certs", plain.port, Protocol.TLS), host="www.example.org")
    result = probe(wrong, policy)
    assert result.certificate is not None
    assert [p.kind for p in result.certificate.problems] == [CertificateProblem.NAME_MISMATCH]
    right = site(lab, "certs", plain.port, Protocol.TLS)
    not_after = probe(right, policy).certificate.not_after  # type: ignore[union-attr]
    late = probe(right, policy, clock=lambda: not_after + timedelta(days=1))
    assert late.certificate is not None
    assert {p.kind for p in late.certificate.problems} == {CertificateProblem.EXPIRED}
    from scanner.findings import finding

    soon = not_after - timedelta(days=10, hours=1)
    checked = finding(right, probe(right, policy, clock=lambda: soon), policy, now=soon)
    assert checked.connects
    assert checked.certificate_warnings == (f"certificate expires in 10 day(s), on {not_after.date().isoformat()}",)
    assert finding(right, probe(right, policy), policy, now=datetime.now(UTC)).certificate_warnings == ()


def test_ca_file_in_the_endpoints_file(lab: Lab, plain: TlsServer, policy: Policy, tmp_path: Path) -> None:
    endpoints = tmp_path / "endpoints.yaml"
    ca = tmp_path / "lab-ca.pem"
    ca.write_bytes(lab.certificates.ca_bundle().read_bytes())
    endpoints.write_text(
        f"ca_file: lab-ca.pem\nendpoints:\n  - {{id: certs, host: certs.lab.tlsverify.test, ip: 127.0.0.1, "
        f"port: {plain.port}, protocol: tls}}\n"
    )
    (endpoint,) = load_endpoints(endpoints)
    result = probe(endpoint, policy)
    assert result.certificate is not None and result.certificate.trust == str(ca.resolve())
    assert result.certificate.problems == ()
    assert ssl  # the lab's servers are Python ssl servers


# --- hostile proxies: each ends with its precise reason within the deadline ---------------------------------


def test_a_proxy_that_demands_credentials(lab: Lab, policy: Policy) -> None:
    from scanner.lab.proxy import AuthRequiredProxy

    demanding = lab.add(AuthRequiredProxy("demanding"))
    result = probe(site(lab, "behind-407", 443, Protocol.TLS, proxy=Proxy("127.0.0.1", demanding.port)), policy)
    assert result.status is EndpointStatus.UNREACHABLE
    assert result.reason is not None
    assert result.reason.startswith(f"proxy 127.0.0.1:{demanding.port} requires authentication ('HTTP/1.1 407")
    assert result.connections == 1


def test_a_proxy_that_accepts_and_stalls(lab: Lab, policy: Policy) -> None:
    from scanner.lab.proxy import StallingProxy

    stalling = lab.add(StallingProxy("stalling"))
    endpoint = site(lab, "behind-stall", 443, Protocol.SMTP_STARTTLS, proxy=Proxy("127.0.0.1", stalling.port))
    result = SslyzeProber(timeout_s=0.5).probe(endpoint, policy, no_gate)
    assert result.status is EndpointStatus.TIMEOUT
    assert (
        result.reason
        == f"proxy 127.0.0.1:{stalling.port} accepted the connection but did not answer the CONNECT in time"
    )
    assert result.duration_s < 2  # one connection, bounded by its timeout


# --- round three: what an attacker's review found ------------------------------------------------------------


@dataclass
class Scripted(LoopbackServer):
    """Answers every connection with `answer(request)`: bytes, sent once after the first read (or at once when
    `speaks_first`), then `trickle` more times with a pause, then a close."""

    answer: Callable[[bytes], bytes] = lambda request: b""
    speaks_first: bool = False
    trickle: int = 0

    def _serve(self) -> None:  # no peek at a ClientHello first: this server may speak first
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.settimeout(5)
                self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        request = b"" if self.speaks_first else conn.recv(65536)
        for _ in range(1 + self.trickle):
            conn.sendall(self.answer(request))
            time.sleep(0.001 if self.trickle else 0)


def test_a_proxy_that_echoes_the_credentials_leaks_none_of_them(
    lab: Lab, policy: Policy, credentials: tuple[str, str]
) -> None:
    def echo(request: bytes) -> bytes:  # the whole header, padded so a naive cut falls inside the token
        header = next(line for line in request.split(b"\r\n") if line.startswith(b"Proxy-Authorization"))
        return b"HTTP/1.1 403 " + "\u00e9".encode() * 70 + header + b"\t" + b"x" * 70000 + b"\r\n\r\n"

    echoing = lab.add(Scripted("echo-proxy", answer=echo))
    result = probe(site(lab, "echoed", 443, Protocol.TLS, proxy=Proxy("127.0.0.1", echoing.port, *credentials)), policy)
    token = base64.b64encode(b"probe:pa55-w0rd-x9").decode()
    assert result.status is EndpointStatus.UNREACHABLE and result.reason is not None
    assert "refused the CONNECT" in result.reason
    for fragment in (token[:12], token[-12:], "pa55-w0rd", "probe:"):
        assert fragment not in result.reason


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"HTTP/1.1 \xc2\xb2\xc2\xb2\xc2\xb2 Odd\r\n\r\n", "did not answer the CONNECT in HTTP"),  # '²²²', not digits
        (b"HTTP/1.1 407 Who\r\nProxy-Authenticate: Basic\r\n\r\n", "requires authentication"),
    ],
)
def test_odd_proxy_answers_are_reasons_not_crashes(lab: Lab, policy: Policy, answer: bytes, expected: str) -> None:
    odd = lab.add(Scripted("odd-proxy", answer=lambda request: answer))
    result = probe(site(lab, "odd", 443, Protocol.TLS, proxy=Proxy("127.0.0.1", odd.port)), policy)
    assert result.status is EndpointStatus.UNREACHABLE and expected in (result.reason or "")


def test_an_smtp_server_that_floods_is_cut_off(lab: Lab, policy: Policy) -> None:
    flood = lab.add(
        Scripted("flood", answer=lambda request: b"220-" + b"x" * 4000 + b"\r\n", speaks_first=True, trickle=100)
    )
    result = SslyzeProber(timeout_s=1).probe(site(lab, "flood", flood.port, Protocol.SMTP_STARTTLS), policy, no_gate)
    assert result.status is EndpointStatus.TLS_ERROR
    assert result.reason == "the server sent over 65536 bytes without completing the SMTP STARTTLS exchange"
    assert result.duration_s < 2


def test_an_ldap_answer_with_a_giant_result_code(lab: Lab, policy: Policy) -> None:
    from scanner.lab.ldap import extended_response

    normal = extended_response(1, 52)
    giant = normal.replace(b"\x0a\x01\x34", b"\x0a\x82\x07\xd0" + b"\x01" * 2000)  # ENUMERATED of 2,000 bytes
    giant = b"\x30\x82" + (len(giant) - 2 + 2 - 2).to_bytes(2, "big") + giant[2:]  # outer length re-encoded
    server = lab.add(Scripted("giant-ldap", answer=lambda request: giant))
    result = probe(site(lab, "giant", server.port, Protocol.LDAP_STARTTLS), policy)
    assert result.status is EndpointStatus.TLS_ERROR
    assert result.reason is not None and result.reason.startswith("not an LDAP server")


@pytest.mark.parametrize("field", ["host", "ip", "sni"])
def test_zone_ids_and_line_breaks_never_reach_a_connect_line(tmp_path: Path, field: str) -> None:
    from scanner.models import ConfigError

    value = "fe80::1%\\r\\nX-Injected: yes"
    path = tmp_path / "endpoints.yaml"
    host = "" if field == "host" else "host: a.example, "
    path.write_text(f'endpoints:\n  - {{id: a, {host}port: 443, {field}: "{value}"}}\n')
    with pytest.raises(ConfigError, match="no zone ids"):
        load_endpoints(path)


def test_proxy_on_the_command_line(
    lab: Lab, proxies: dict[str, TinyproxyServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = lab.start(ServerSpec("cli-proxied", SUITES))
    endpoints = tmp_path / "endpoints.yaml"
    entry = {"id": "cli", "host": "cli.lab.tlsverify.test", "ip": "127.0.0.1", "port": target.port, "protocol": "tls"}
    write_endpoints([entry], endpoints, "cli proxy", lab.certificates.ca_bundle())
    out = tmp_path / "out"
    args = ["--endpoints", str(endpoints), "--policy", str(ROOT / "policy.yaml"), "--out", str(out), "--no-progress"]
    before = len(proxies["open"].requests())
    assert main(["verify-all", *args, "--proxy", f"http://127.0.0.1:{proxies['open'].port}"]) == 0
    assert f"via proxy 127.0.0.1:{proxies['open'].port}" in capsys.readouterr().out
    assert len(proxies["open"].requests()) - before == target.connections > 0
    assert main(["verify-all", *args, "--proxy", "http://alice:s3cr3t@127.0.0.1:3128"]) == 2
    said = capsys.readouterr().err
    assert "credentials do not belong in the URL" in said and "s3cr3t" not in said
