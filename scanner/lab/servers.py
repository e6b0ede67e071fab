"""Loopback TLS servers with chosen suites, versions and preference order, counting every connection.

Python's `ssl` (the system OpenSSL) serves every configuration the lab needs except 3DES, which Debian's
OpenSSL 3 lacks; `gnutls.py` covers that where `gnutls-serv` is installed. Servers bind 127.0.0.1 (or, given
`host="::1"`, the IPv6 loopback) only and handle one connection at a time, closing it after the handshake.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import trustme

from scanner.lab.clienthello import ClientHello, parse, record_length

LOOPBACK = "127.0.0.1"
LOOPBACK6 = "::1"
LAB_NAMES = "*.lab.tlsverify.test"
"""The lab's endpoints are named ID.lab.tlsverify.test: its localhost certificates hold this name too."""


@dataclass(frozen=True)
class ServerSpec:
    """How one lab server is configured (OpenSSL cipher string for TLS 1.2 and below)."""

    name: str
    ciphers: str
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    server_preference: bool = False
    certificates: tuple[str, ...] = ("rsa",)
    max_hello: int | None = None
    fin_on_refusal: bool = False
    """Refuse a hello with a clean close (read it, then a FIN), not the reset an unread hello causes."""
    """Close without a word on a ClientHello record larger than this (as some middleboxes do)."""
    intolerant_of: tuple[str, ...] = ()
    """Close without a word on a ClientHello whose highest version is one of these (version intolerance)."""
    client_certificate: str | None = None
    """Ask the client for a certificate: "required" or "optional"."""


class Certificates:
    """A throwaway CA per key type and leaf certificates (RSA and ECDSA), written to a temp dir: `pair` for
    localhost, `leaf` for any names (name-based virtual servers)."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._paths: dict[str, tuple[Path, Path]] = {}
        self._leaves: dict[tuple[str, tuple[str, ...]], tuple[Path, Path]] = {}
        self._cas: dict[str, trustme.CA] = {}
        self._lock = threading.Lock()

    def pair(self, key_type: str) -> tuple[Path, Path]:
        """The chain and key files of a leaf for localhost, 127.0.0.1 and the lab's names (*.lab.tlsverify.test)."""
        with self._lock:
            if key_type not in self._paths:
                self._paths[key_type] = self._issue(key_type, ("localhost", LOOPBACK, LAB_NAMES), key_type)
            return self._paths[key_type]

    def leaf(self, key_type: str, names: tuple[str, ...]) -> tuple[Path, Path]:
        """The chain and key files of a leaf for `names` (DNS names or IP addresses), issued by the same CA
        as `pair(key_type)`; the same names give the same files."""
        if not names:
            raise ValueError("a leaf certificate needs at least one name")
        with self._lock:
            if (key_type, names) not in self._leaves:
                stem = f"{key_type}-" + "+".join(n.replace(":", "_").replace("*", "star") for n in names)
                self._leaves[key_type, names] = self._issue(key_type, names, stem)
            return self._leaves[key_type, names]

    def ca_bundle(self) -> Path:
        """One PEM file with every CA the lab issues from (RSA and ECDSA): the lab's `ca_file`."""
        path = self._dir / "lab-ca.pem"
        path.write_bytes(b"".join(self.ca_pem(kind).read_bytes() for kind in ("rsa", "ecdsa")))
        return path

    def ca_pem(self, key_type: str) -> Path:
        """The CA certificate that issued the `key_type` leaves, for a client that verifies them."""
        with self._lock:
            path = self._dir / f"{key_type}-ca.pem"
            if not path.exists():
                self._ca(key_type).cert_pem.write_to_path(str(path))
            return path

    def _ca(self, key_type: str) -> trustme.CA:
        if key_type not in self._cas:
            self._cas[key_type] = trustme.CA(key_type=_kind(key_type))
        return self._cas[key_type]

    def _issue(self, key_type: str, names: tuple[str, ...], stem: str) -> tuple[Path, Path]:
        leaf = self._ca(key_type).issue_cert(*names, key_type=_kind(key_type))
        chain = self._dir / f"{stem}-chain.pem"
        key = self._dir / f"{stem}-key.pem"
        chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        key.write_bytes(leaf.private_key_pem.bytes())
        return chain, key


def _kind(key_type: str) -> trustme.KeyType:
    return trustme.KeyType.RSA if key_type == "rsa" else trustme.KeyType.ECDSA


def family(host: str) -> socket.AddressFamily:
    """The address family of a numeric loopback address: AF_INET6 for "::1", AF_INET otherwise."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


@dataclass
class LoopbackServer:
    """A listener on `host` (127.0.0.1 unless given) serving one connection at a time; counts connections and
    ClientHellos."""

    name: str
    port: int = 0
    connections: int = 0
    handled: int = 0
    current_hello: ClientHello | None = None
    negotiated: list[str] = field(default_factory=list)
    hellos: list[ClientHello] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)
    """`time.monotonic()` of each accepted connection (the benchmarks' connections per second)."""
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    host: str = LOOPBACK
    """The loopback address to bind: LOOPBACK ("127.0.0.1") or LOOPBACK6 ("::1")."""

    def handle(self, conn: socket.socket) -> None:
        """Serve one accepted connection; subclasses do the TLS part."""
        raise NotImplementedError

    def start(self) -> LoopbackServer:
        sock = socket.socket(family(self.host), socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(16)
        sock.settimeout(0.2)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=f"lab-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted_at.append(time.monotonic())
            self.connections += 1
            conn.settimeout(5)
            hello = _peek_hello(conn)
            if hello is not None:
                self.hellos.append(hello)
            self.current_hello = hello
            try:
                self.handle(conn)
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()
                self.handled += 1

    def settle(self, seconds: float = 5.0) -> None:
        """Wait until every accepted connection has been served (the client may finish first)."""
        deadline = time.monotonic() + seconds
        while self.handled < self.connections and time.monotonic() < deadline:
            time.sleep(0.01)

    def hellos_for(self, version: str) -> list[ClientHello]:
        """The ClientHellos whose highest offered version is `version` (e.g. "TLSv1.2")."""
        return [h for h in self.hellos if h.version == version]

    def reset_counts(self) -> None:
        self.settle()
        self.connections = 0
        self.handled = 0
        self.negotiated.clear()
        self.hellos.clear()
        self.accepted_at.clear()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._sock:
            self._sock.close()


@dataclass
class TlsServer(LoopbackServer):
    """A lab server made with Python's ssl module; `negotiated` lists the suites it agreed to."""

    spec: ServerSpec = field(default_factory=lambda: ServerSpec("tls", "DEFAULT"))
    certificates: Certificates | None = None
    _context: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():
            # Serving TLS 1.0/1.1 is the point of some lab servers; Python warns that it is deprecated.
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = self.spec.min_version
            ctx.maximum_version = self.spec.max_version
        ctx.set_ciphers(self.spec.ciphers + ":@SECLEVEL=0")
        # Python turns server preference on by default; the lab decides per server.
        if self.spec.server_preference:
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        else:
            ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        if self.spec.client_certificate is not None:
            required = self.spec.client_certificate == "required"
            ctx.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
            chain, _ = self.certificates.pair("rsa") if self.certificates else (None, None)
            if chain is not None:
                ctx.load_verify_locations(cafile=str(chain))  # some CA, so the request names one
        assert self.certificates is not None
        for key_type in self.spec.certificates:
            chain, key = self.certificates.pair(key_type)
            ctx.load_cert_chain(chain, key)
        return ctx

    def start(self) -> TlsServer:
        self.start_context()
        super().start()
        return self

    def start_context(self) -> None:
        """(Re)build the TLS context from `spec`: a running server can be reconfigured between probes."""
        self._context = self.context()

    def handle(self, conn: socket.socket) -> None:
        assert self._context is not None
        hello = self.current_hello
        if hello is not None and (
            (self.spec.max_hello is not None and hello.size > self.spec.max_hello)
            or hello.version in self.spec.intolerant_of
        ):
            if self.spec.fin_on_refusal:
                conn.recv(hello.size)
                conn.shutdown(socket.SHUT_WR)
            return  # the connection is closed without an answer
        with self._context.wrap_socket(conn, server_side=True) as tls:
            cipher = tls.cipher()
            if cipher:
                self.negotiated.append(cipher[0])


def _peek_hello(conn: socket.socket) -> ClientHello | None:
    """Look at the ClientHello without consuming it, so the TLS library still reads it whole."""
    data = b""
    for _ in range(50):
        try:
            data = conn.recv(16384, socket.MSG_PEEK)
        except OSError:
            return None
        needed = record_length(data)
        if not data or needed is None or len(data) >= needed:
            break
        threading.Event().wait(0.01)
    return parse(data)


peek_hello = _peek_hello


_HELD_PORTS: list[socket.socket] = []


def closed_port(host: str = LOOPBACK) -> int:
    """A loopback port with nothing listening: connecting to it is refused. The port stays bound (without
    listening) for the life of the process, so no server started later can be given it."""
    sock = socket.socket(family(host), socket.SOCK_STREAM)
    sock.bind((host, 0))
    _HELD_PORTS.append(sock)
    port: int = sock.getsockname()[1]
    return port


def free_port(host: str = LOOPBACK) -> int:
    """A loopback port nothing uses now, for a program that binds it itself (it may be taken meanwhile)."""
    with socket.socket(family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


class Lab:
    """A set of running servers sharing one certificate directory; a context manager that stops them all."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="tlsverify-lab-")
        self.certificates = Certificates(Path(self._tmp.name))
        self.servers: list[LoopbackServer] = []

    @property
    def directory(self) -> Path:
        return Path(self._tmp.name)

    def start(self, spec: ServerSpec) -> TlsServer:
        server = TlsServer(spec.name, spec=spec, certificates=self.certificates).start()
        self.servers.append(server)
        return server

    def add(self, server: LoopbackServer) -> LoopbackServer:
        """Start a server of another kind (such as a gnutls-serv bridge) and stop it with the lab."""
        self.servers.append(server.start())
        return server

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        self._tmp.cleanup()

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
