"""The lab's servers of every kind, each checked with a real outside client: SMTP (STARTTLS, SMTPS and the
refusals), slapd's two listeners and a StartTLS-refusing LDAP server, nginx's name-based virtual servers,
tinyproxy and two hostile proxies, and a TLS server on ::1.

`openssl s_client -cipher` shows that each server accepts the suites it is configured with and refuses others;
`hello_then_close` is a client that leaves right after the ServerHello, as a scanner does, many times over.
A test whose Debian package is missing is skipped, and fails where CI is set.
"""

from __future__ import annotations

import base64
import http.client
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator

import pytest
from cryptography import x509

from scanner.lab import nginx, proxy, slapd
from scanner.lab.ldap import PROTOCOL_ERROR, STARTTLS_OID, UNAVAILABLE, StartTlsRefusingServer, starttls
from scanner.lab.nginx import DEFAULT_NAME, ECDSA_NAME, RSA_NAME, NginxServer
from scanner.lab.proxy import AuthRequiredProxy, StallingProxy, TinyproxyServer
from scanner.lab.servers import LOOPBACK, LOOPBACK6, Lab, ServerSpec, TlsServer, closed_port
from scanner.lab.slapd import SlapdServer
from scanner.lab.smtp import SmtpServer

PIN_GNUTLS = "NONE:+VERS-TLS1.2:+AES-128-GCM:+ECDHE-RSA:+AEAD:+SIGN-ALL:+CURVE-ALL:+COMP-NULL"
SMTP_SPEC = ServerSpec("smtp", "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA", server_preference=True)
DROPPED = 20  # clients leaving after the ServerHello, per server


def require(reason: str | None) -> None:
    """Skip the test when its package is missing, but fail it where CI is set (CI must run every server)."""
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must be able to run this lab server: {reason}")
    pytest.skip(reason)


def _openssl_reason() -> str | None:
    return None if shutil.which("openssl") else "openssl is not installed (apt-get install openssl)"


def _ipv6_reason() -> str | None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK6, 0))
    except OSError as exc:
        return f"no IPv6 loopback here ({exc})"
    return None


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def s_client(
    port: int, cipher: str, *, host: str = LOOPBACK, starttls: str | None = None, servername: str | None = None
) -> str | None:
    """The TLS 1.2 suite `openssl s_client` agreed on (OpenSSL name), or None when there was none."""
    require(_openssl_reason())
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    command = ["openssl", "s_client", "-connect", address, "-tls1_2", "-cipher", cipher]
    command += ["-starttls", starttls] if starttls else []
    command += ["-servername", servername] if servername else ["-noservername"]
    done = subprocess.run(command, input=b"", capture_output=True, timeout=15, check=False)
    found = re.search(rb"Cipher is (\S+)", done.stdout)
    assert found is not None, done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    return None if found[1] == b"(NONE)" else found[1].decode()


def client_context(ciphers: str = "ALL:@SECLEVEL=0") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers)
    return context


def hello_then_close(sock: socket.socket, server_hostname: str | None = None) -> bytes:
    """Send a ClientHello on `sock`, read the first bytes of the answer, close: a scanner's short connection."""
    outgoing = ssl.MemoryBIO()
    tls = client_context().wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    with sock:
        sock.sendall(outgoing.read())
        return sock.recv(5)


def connect(port: int, host: str = LOOPBACK) -> socket.socket:
    return socket.create_connection((host, port), timeout=5)


def smtp_starttls_socket(port: int) -> socket.socket:
    """A connection where the server has just said "220 Ready to start TLS"."""
    sock = connect(port)
    with sock.makefile("rb") as replies:
        assert replies.readline().startswith(b"220 ")
        sock.sendall(b"EHLO client.test\r\n")
        while replies.readline()[3:4] != b" ":
            pass
        sock.sendall(b"STARTTLS\r\n")
        assert replies.readline().startswith(b"220 ")
    return sock


# --- a TLS server on ::1, and certificates for any names


def test_tls_server_binds_ipv6_loopback(lab: Lab) -> None:
    require(_ipv6_reason())
    server = lab.add(
        TlsServer(
            "v6", host=LOOPBACK6, spec=ServerSpec("v6", "ECDHE-RSA-AES128-GCM-SHA256"), certificates=lab.certificates
        )
    )
    assert isinstance(server, TlsServer)
    with connect(server.port, LOOPBACK6) as sock, client_context().wrap_socket(sock) as tls:
        assert tls.cipher() == ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2", 128)
    assert s_client(server.port, "AES128-SHA", host=LOOPBACK6) is None
    server.settle()
    assert server.connections == 2
    assert server.negotiated == ["ECDHE-RSA-AES128-GCM-SHA256"]
    assert lab.start(ServerSpec("v4", "DEFAULT")).host == LOOPBACK


def test_certificates_for_given_names(lab: Lab) -> None:
    chain, _ = lab.certificates.leaf("ecdsa", ("a.lab.test", "b.lab.test"))
    leaf = x509.load_pem_x509_certificates(chain.read_bytes())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["a.lab.test", "b.lab.test"]
    assert lab.certificates.leaf("ecdsa", ("a.lab.test", "b.lab.test"))[0] == chain
    localhost = x509.load_pem_x509_certificates(lab.certificates.pair("rsa")[0].read_bytes())[0]
    sans = localhost.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)  # pair() is unchanged: still for localhost


# --- SMTP


def test_smtp_starttls_serves_its_suites(lab: Lab, capfd: pytest.CaptureFixture[str]) -> None:
    server = lab.add(SmtpServer("smtp", spec=SMTP_SPEC, certificates=lab.certificates))
    assert isinstance(server, SmtpServer)
    with smtplib.SMTP(LOOPBACK, server.port, local_hostname="client.test", timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert client.starttls(context=client_context())[0] == 220
        assert isinstance(client.sock, ssl.SSLSocket)
        assert client.sock.cipher() == ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2", 128)
        client.ehlo()
        assert not client.has_extn("starttls")
    assert s_client(server.port, "AES256-SHA", starttls="smtp") == "AES256-SHA"
    assert s_client(server.port, "AES128-SHA", starttls="smtp") is None
    # server preference: its first suite, though the client lists it last
    both = "AES256-SHA:ECDHE-RSA-AES128-GCM-SHA256"
    assert s_client(server.port, both, starttls="smtp") == "ECDHE-RSA-AES128-GCM-SHA256"
    for _ in range(DROPPED):
        assert hello_then_close(smtp_starttls_socket(server.port))[:1] == b"\x16"
    with smtplib.SMTP(LOOPBACK, server.port, local_hostname="client.test", timeout=5) as client:
        client.starttls(context=client_context())
        assert client.noop()[0] == 250
    server.settle()
    assert server.connections == server.handled == 5 + DROPPED
    assert len(server.peers) == server.connections
    assert server.starttls_commands == 5 + DROPPED
    assert server.tls_failures == 1 + DROPPED  # s_client's AES128-SHA, and every dropped one
    assert server.negotiated.count("ECDHE-RSA-AES128-GCM-SHA256") == 3
    assert capfd.readouterr().err == ""  # no traceback per dropped handshake


def test_smtps_implicit_tls(lab: Lab, capfd: pytest.CaptureFixture[str]) -> None:
    server = lab.add(SmtpServer("smtps", spec=SMTP_SPEC, certificates=lab.certificates, implicit_tls=True))
    assert isinstance(server, SmtpServer)
    with smtplib.SMTP_SSL(
        LOOPBACK, server.port, local_hostname="client.test", timeout=5, context=client_context()
    ) as c:
        code, features = c.ehlo()
        assert code == 250
        assert b"STARTTLS" not in features
    assert s_client(server.port, "AES256-SHA") == "AES256-SHA"
    assert s_client(server.port, "AES128-SHA") is None
    for _ in range(DROPPED):
        assert hello_then_close(connect(server.port))[:1] == b"\x16"
    connect(server.port).close()  # and a client that says nothing at all
    assert s_client(server.port, "ECDHE-RSA-AES128-GCM-SHA256") == "ECDHE-RSA-AES128-GCM-SHA256"
    server.settle()
    assert server.connections == server.handled == 5 + DROPPED
    assert server.tls_failures == 2 + DROPPED
    assert len(server.hellos) == 4 + DROPPED
    assert capfd.readouterr().err == ""


def test_smtp_without_starttls(lab: Lab) -> None:
    server = lab.add(SmtpServer("plain", spec=SMTP_SPEC, certificates=lab.certificates, offer_starttls=False))
    with smtplib.SMTP(LOOPBACK, server.port, local_hostname="client.test", timeout=5) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.starttls()
        assert client.docmd("STARTTLS") == (454, b"TLS not available")


def test_smtp_refuses_starttls_with_its_reply(lab: Lab) -> None:
    reply = "454 4.7.0 TLS not available due to temporary reason"
    server = lab.add(SmtpServer("refuse", spec=SMTP_SPEC, certificates=lab.certificates, starttls_reply=reply))
    assert isinstance(server, SmtpServer)
    with smtplib.SMTP(LOOPBACK, server.port, local_hostname="client.test", timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        with pytest.raises(smtplib.SMTPResponseException) as refused:
            client.starttls(context=client_context())
        assert (refused.value.smtp_code, refused.value.smtp_error) == (454, reply[4:].encode())
        assert client.noop()[0] == 250  # still in plain text
    assert s_client(server.port, "AES256-SHA", starttls="smtp") is None
    server.settle()
    assert (server.starttls_commands, server.tls_failures, server.negotiated) == (2, 0, [])


# --- LDAP


def test_slapd_ldaps_and_starttls_pinned(lab: Lab) -> None:
    require(slapd.unavailable_reason())
    server = lab.add(
        SlapdServer(
            "slapd-both",
            certificates=lab.certificates,
            workdir=str(lab.directory),
            plain_ldap=True,
            cipher_suite=PIN_GNUTLS,
        )
    )
    assert isinstance(server, SlapdServer)
    assert 0 not in (server.port, server.starttls_port)
    assert server.port != server.starttls_port
    for port, mode in ((server.port, None), (server.starttls_port, "ldap")):
        assert s_client(port, "ECDHE-RSA-AES128-GCM-SHA256", starttls=mode) == "ECDHE-RSA-AES128-GCM-SHA256"
        assert s_client(port, "ECDHE-RSA-AES256-GCM-SHA384", starttls=mode) is None
    for _ in range(DROPPED):
        sock = connect(server.starttls_port)
        answer = starttls(sock)
        assert answer is not None
        assert answer.result_code == 0
        hello_then_close(sock)
        hello_then_close(connect(server.port))
    with connect(server.starttls_port) as sock:
        assert starttls(sock) is not None
        with client_context().wrap_socket(sock) as tls:
            assert tls.cipher() == ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2", 128)


@pytest.mark.parametrize(("code", "words"), [(UNAVAILABLE, "unavailable"), (PROTOCOL_ERROR, "protocol error")])
def test_ldap_server_refusing_starttls(lab: Lab, code: int, words: str) -> None:
    server = lab.add(StartTlsRefusingServer("no-starttls", result_code=code, diagnostic="TLS is switched off"))
    assert isinstance(server, StartTlsRefusingServer)
    with connect(server.port) as sock:
        answer = starttls(sock, message_id=7)
    assert answer is not None
    assert (answer.message_id, answer.result_code, answer.diagnostic, answer.name) == (
        7,
        code,
        "TLS is switched off",
        STARTTLS_OID,
    )
    require(_openssl_reason())
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"{LOOPBACK}:{server.port}", "-starttls", "ldap"],
        input=b"",
        capture_output=True,
        timeout=15,
        check=False,
    )
    assert done.returncode != 0
    assert f"LDAP Result Code: {code}" in (done.stdout + done.stderr).decode()
    if shutil.which("ldapsearch"):
        search = ["ldapsearch", "-x", "-ZZ", "-H", f"ldap://{LOOPBACK}:{server.port}/", "-b", "", "-s", "base"]
        done = subprocess.run(
            search, capture_output=True, timeout=15, check=False, env={**os.environ, "LDAPNOINIT": "1"}
        )
        assert words in done.stderr.decode().lower()
        assert "TLS is switched off" in done.stderr.decode()
    server.settle()
    assert server.requests[0].oid == STARTTLS_OID
    assert {r.oid for r in server.requests if r.oid} == {STARTTLS_OID}
    assert server.connections == (3 if shutil.which("ldapsearch") else 2)


# --- nginx


def test_nginx_names_differ_in_certificate_and_suites(lab: Lab) -> None:
    require(nginx.unavailable_reason())
    server = lab.add(NginxServer("vhosts", certificates=lab.certificates, workdir=str(lab.directory)))
    assert isinstance(server, NginxServer)
    accepted = {
        RSA_NAME: ("AES256-SHA", "AES128-SHA"),
        ECDSA_NAME: ("ECDHE-ECDSA-CHACHA20-POLY1305", "AES256-SHA"),
        DEFAULT_NAME: ("AES128-SHA", "AES256-SHA"),
        "unknown.lab.test": ("AES128-SHA", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    }
    for name, (yes, no) in accepted.items():
        assert s_client(server.port, yes, servername=name) == yes, name
        assert s_client(server.port, no, servername=name) is None, name
    # preference is per name too: on for rsa.lab.test, off for the default server
    assert s_client(server.port, "AES256-SHA:ECDHE-RSA-AES128-GCM-SHA256", servername=RSA_NAME) == (
        "ECDHE-RSA-AES128-GCM-SHA256"
    )
    assert s_client(server.port, "AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384") == "AES128-SHA"
    # each name's own certificate, verified against its CA with hostname checking
    for name, key_type in ((RSA_NAME, "rsa"), (ECDSA_NAME, "ecdsa")):
        verifying = ssl.create_default_context(cafile=str(lab.certificates.ca_pem(key_type)))
        verifying.maximum_version = ssl.TLSVersion.TLSv1_2
        with connect(server.port) as sock, verifying.wrap_socket(sock, server_hostname=name) as tls:
            assert tls.version() == "TLSv1.2"
    for _ in range(DROPPED):
        hello_then_close(connect(server.port), server_hostname=ECDSA_NAME)
    log = server.connection_log(ended=len(accepted) * 2 + 4 + DROPPED)
    assert len(log) == len(accepted) * 2 + 4 + DROPPED
    assert [c.server_name for c in log[:2]] == [RSA_NAME, RSA_NAME]
    assert (log[0].protocol, log[0].cipher, log[1].cipher) == ("TLSv1.2", "AES256-SHA", None)
    dropped = log[-DROPPED:]
    assert {c.server_name for c in dropped} == {ECDSA_NAME}
    assert all(c.note and "peer closed connection in SSL handshake" in c.note for c in dropped)


def test_nginx_on_ipv6_loopback_too(lab: Lab) -> None:
    require(nginx.unavailable_reason())
    require(_ipv6_reason())
    server = lab.add(
        NginxServer(
            "vhosts6", certificates=lab.certificates, workdir=str(lab.directory), ipv6=True, log_connections=False
        )
    )
    assert isinstance(server, NginxServer)
    assert s_client(server.port, "AES256-SHA", host=LOOPBACK6, servername=RSA_NAME) == "AES256-SHA"
    assert s_client(server.port, "AES256-SHA", host=LOOPBACK6) is None
    log = server.connection_log(ended=2)
    assert [(c.peer, c.server_name, c.cipher) for c in log] == [("::1", None, None)] * 2
    assert "no shared cipher" in (log[1].note or "")


# --- proxies


def tunnel(proxy_port: int, port: int, credentials: str | None = None) -> http.client.HTTPConnection:
    """A CONNECT tunnel through the proxy (raises OSError with the status when refused)."""
    connection = http.client.HTTPConnection(LOOPBACK, proxy_port, timeout=5)
    headers = {}
    if credentials is not None:
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    connection.set_tunnel(LOOPBACK, port, headers=headers)
    try:
        connection.connect()
    except OSError:
        connection.close()
        raise
    return connection


def raw_connect(proxy_port: int, target: str, headers: str = "") -> bytes:
    """The status line a proxy answers a CONNECT with."""
    with connect(proxy_port) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{headers}\r\n".encode())
        with sock.makefile("rb") as answer:
            return answer.readline().rstrip()


def test_tinyproxy_tunnels_to_any_port(lab: Lab) -> None:
    require(proxy.unavailable_reason())
    target = lab.add(SmtpServer("behind", spec=SMTP_SPEC, certificates=lab.certificates, implicit_tls=True))
    assert isinstance(target, SmtpServer)
    server = lab.add(TinyproxyServer("proxy", workdir=str(lab.directory)))
    assert isinstance(server, TinyproxyServer)
    connection = tunnel(server.port, target.port)
    try:
        assert connection.sock is not None
        with client_context().wrap_socket(connection.sock) as tls:
            assert tls.cipher() == ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2", 128)
            assert tls.recv(3) == b"220"
    finally:
        connection.close()
    refused = closed_port()
    assert raw_connect(server.port, f"{LOOPBACK}:{refused}") == b"HTTP/1.1 500 Unable to connect"
    target.settle()
    assert target.connections == 1  # reached only through the proxy
    assert server.requests() == [f"CONNECT {LOOPBACK}:{target.port} HTTP/1.0", f"CONNECT {LOOPBACK}:{refused} HTTP/1.1"]


def test_tinyproxy_basic_auth_and_connect_ports(lab: Lab) -> None:
    require(proxy.unavailable_reason())
    target = lab.add(TlsServer("target", spec=SMTP_SPEC, certificates=lab.certificates))
    server = lab.add(
        TinyproxyServer("authproxy", workdir=str(lab.directory), basic_auth=("scan", "s3cret"), connect_ports=(443,))
    )
    good = "Proxy-Authorization: Basic " + base64.b64encode(b"scan:s3cret").decode() + "\r\n"
    bad = "Proxy-Authorization: Basic " + base64.b64encode(b"scan:wrong").decode() + "\r\n"
    assert raw_connect(server.port, f"{LOOPBACK}:443") == b"HTTP/1.0 407 Proxy Authentication Required"
    assert raw_connect(server.port, f"{LOOPBACK}:443", bad) == b"HTTP/1.0 401 Unauthorized"
    assert raw_connect(server.port, f"{LOOPBACK}:443", good) == b"HTTP/1.1 500 Unable to connect"
    assert raw_connect(server.port, f"{LOOPBACK}:{target.port}", good) == b"HTTP/1.1 403 Access violation"
    open_proxy = lab.add(TinyproxyServer("authproxy-any", workdir=str(lab.directory), basic_auth=("scan", "s3cret")))
    tunnel(open_proxy.port, target.port, "scan:s3cret").close()
    with pytest.raises(OSError, match="407"):
        tunnel(open_proxy.port, target.port)
    with pytest.raises(OSError, match="401"):
        tunnel(open_proxy.port, target.port, "scan:wrong")


def test_proxy_demanding_credentials(lab: Lab) -> None:
    server = lab.add(AuthRequiredProxy("auth407", realm="corp"))
    assert isinstance(server, AuthRequiredProxy)
    with pytest.raises(OSError, match="407 Proxy Authentication Required"):
        tunnel(server.port, 443, "user:pass")
    with connect(server.port) as sock:
        sock.sendall(b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n")
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 407 Proxy Authentication Required\r\n")
    assert b'Proxy-Authenticate: Basic realm="corp"\r\n' in answer
    server.settle()
    assert server.connections == server.handled == 2
    first, second = server.requests
    assert first.line == "CONNECT 127.0.0.1:443 HTTP/1.0"
    assert first.header("proxy-authorization") == "Basic " + base64.b64encode(b"user:pass").decode()
    assert (second.line, second.header("Host"), second.header("Proxy-Authorization")) == (
        "CONNECT 127.0.0.1:25 HTTP/1.1",
        "127.0.0.1:25",
        None,
    )


def test_proxy_that_never_answers(lab: Lab) -> None:
    server = lab.add(StallingProxy("stall"))
    assert isinstance(server, StallingProxy)
    with connect(server.port) as sock:
        sock.settimeout(0.3)
        sock.sendall(b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(1)
        with connect(server.port) as other:  # a second client while the first still waits
            other.sendall(b"CONNECT 127.0.0.1:636 HTTP/1.1\r\n\r\n")
            deadline = time.monotonic() + 5
            while len(server.requests) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
    assert [r.line for r in server.requests] == ["CONNECT 127.0.0.1:443 HTTP/1.1", "CONNECT 127.0.0.1:636 HTTP/1.1"]
    assert server.connections == 2
    started = time.monotonic()
    with connect(server.port) as held:
        held.sendall(b"CONNECT 127.0.0.1:443 HTTP/1.1\r\n\r\n")
        time.sleep(0.1)
        server.stop()
        assert held.recv(1) == b""  # let go when stopped
    assert time.monotonic() - started < 3


def test_lab_servers_fit_the_demo() -> None:
    """Every kind starts and stops inside a Lab like the demo's servers, leaving nothing listening."""
    with Lab() as lab:
        smtp = lab.add(SmtpServer("smtp-demo", spec=SMTP_SPEC, certificates=lab.certificates))
        ldap = lab.add(StartTlsRefusingServer("ldap-demo"))
        ports = [smtp.port, ldap.port]
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            connect(port).close()
