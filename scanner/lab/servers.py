"""Loopback TLS servers with chosen suites, versions and preference order, counting every connection.

Python's `ssl` (the system OpenSSL) serves every configuration the lab needs except 3DES, which Debian's
OpenSSL 3 lacks; `gnutls.py` covers that where `gnutls-serv` is installed. Servers bind 127.0.0.1 only and
handle one connection at a time, closing it after the handshake.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import trustme

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServerSpec:
    """How one lab server is configured (OpenSSL cipher string for TLS 1.2 and below)."""

    name: str
    ciphers: str
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    server_preference: bool = False
    certificates: tuple[str, ...] = ("rsa",)


class Certificates:
    """A throwaway CA and leaf certificates (RSA and ECDSA) for localhost, written to a temp dir."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._paths: dict[str, tuple[Path, Path]] = {}
        self._lock = threading.Lock()

    def pair(self, key_type: str) -> tuple[Path, Path]:
        with self._lock:
            if key_type not in self._paths:
                kind = trustme.KeyType.RSA if key_type == "rsa" else trustme.KeyType.ECDSA
                ca = trustme.CA(key_type=kind)
                leaf = ca.issue_cert("localhost", LOOPBACK, key_type=kind)
                chain = self._dir / f"{key_type}-chain.pem"
                key = self._dir / f"{key_type}-key.pem"
                chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
                key.write_bytes(leaf.private_key_pem.bytes())
                self._paths[key_type] = (chain, key)
            return self._paths[key_type]


@dataclass
class TlsServer:
    """One running lab server; `connections` counts accepted TCP connections, `negotiated` the suites."""

    spec: ServerSpec
    certificates: Certificates
    port: int = 0
    connections: int = 0
    negotiated: list[str] = field(default_factory=list)
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if self.spec.min_version < ssl.TLSVersion.TLSv1_2:
            ctx.options &= ~ssl.OP_NO_TLSv1 & ~ssl.OP_NO_TLSv1_1  # noqa: SIM102 - clearer as two flags
        ctx.minimum_version = self.spec.min_version
        ctx.maximum_version = self.spec.max_version
        ctx.set_ciphers(self.spec.ciphers + ":@SECLEVEL=0")
        # Python turns server preference on by default; the lab decides per server.
        if self.spec.server_preference:
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        else:
            ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        for key_type in self.spec.certificates:
            chain, key = self.certificates.pair(key_type)
            ctx.load_cert_chain(chain, key)
        return ctx

    def start(self) -> TlsServer:
        ctx = self.context()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, self.port))
        sock.listen(16)
        sock.settimeout(0.2)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(ctx,), name=f"lab-{self.spec.name}", daemon=True)
        self._thread.start()
        return self

    def _serve(self, ctx: ssl.SSLContext) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.settimeout(5)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    cipher = tls.cipher()
                    if cipher:
                        self.negotiated.append(cipher[0])
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._sock:
            self._sock.close()

    def __enter__(self) -> TlsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


class Lab:
    """A set of running servers sharing one certificate directory; a context manager that stops them all."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="tlsverify-lab-")
        self.certificates = Certificates(Path(self._tmp.name))
        self.servers: list[TlsServer] = []

    def start(self, spec: ServerSpec) -> TlsServer:
        server = TlsServer(spec, self.certificates).start()
        self.servers.append(server)
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
