"""HTTP CONNECT proxies for the lab: Debian's tinyproxy, and two hostile ones (demands credentials, never answers).

tinyproxy 1.11.1 (Debian bookworm) answers a CONNECT, as measured with a raw socket against this configuration:

| situation | status line |
|---|---|
| tunnel opened | `HTTP/1.0 200 Connection established` |
| target port closed | `HTTP/1.1 500 Unable to connect` |
| BasicAuth set, no Proxy-Authorization | `HTTP/1.0 407 Proxy Authentication Required` |
| BasicAuth set, wrong user, password or scheme | `HTTP/1.0 401 Unauthorized` (not 407) |
| port not in the ConnectPort list | `HTTP/1.1 403 Access violation`, checked after the credentials |

The 407 carries `Proxy-Authenticate: Basic realm="Tinyproxy"`, the 401 `WWW-Authenticate: Basic
realm="Tinyproxy"`, the 403 page "The CONNECT method not allowed with the port you tried to use.", the 200 only
`Proxy-agent: tinyproxy/1.11.1`. Without any ConnectPort line CONNECT reaches every port; `ConnectPort 0`
forbids CONNECT altogether. Every error answer carries `Connection: close` and an HTML body. tinyproxy
resolves a CONNECT target name itself (from /etc/hosts or DNS: outside the tests' network guard), so lab tests
name targets by address. At LogLevel Connect (the default here) the log has, per client, `Connect (file
descriptor N): 127.0.0.1` and `Request (file descriptor N): CONNECT host:port HTTP/1.1`; `requests()` returns
the latter request lines.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from scanner.lab.process import ProcessServer
from scanner.lab.servers import LoopbackServer

TINYPROXY = "tinyproxy"
_HEAD_LIMIT = 16384
_REQUEST_MARK = "]: Request (file descriptor "


@cache
def unavailable_reason() -> str | None:
    """Why a tinyproxy lab server cannot run here, or None when it can (tried once, with a real start)."""
    if shutil.which(TINYPROXY) is None:
        return "tinyproxy is not installed (apt-get install tinyproxy)"
    with tempfile.TemporaryDirectory(prefix="tlsverify-tinyproxy-") as tmp:
        trial = TinyproxyServer("tinyproxy-trial", workdir=tmp)
        try:
            trial.start()
        except (OSError, RuntimeError) as exc:
            return f"tinyproxy cannot start here: {exc}"
        finally:
            trial.stop()
    return None


@dataclass
class TinyproxyServer(ProcessServer):
    """tinyproxy in the foreground (-d) on `host`:`port`, with a throwaway configuration and log in `workdir`.

    Clients from 127.0.0.1 and ::1 are allowed; `basic_auth` (user, password) requires credentials;
    `connect_ports` limits CONNECT to those ports (empty: every port).
    """

    basic_auth: tuple[str, str] | None = None
    connect_ports: tuple[int, ...] = ()
    log_level: str = "Connect"
    timeout_s: int = 30
    _proxy_log: Path | None = field(default=None, repr=False)
    _log_start: int = 0

    def command(self) -> list[str]:
        base = Path(self.workdir) / f"{self.name}-tinyproxy"
        self._proxy_log = base.with_suffix(".log")
        lines = [
            f"Port {self.port}",
            f"Listen {self.host}",
            f"Timeout {self.timeout_s}",
            f'LogFile "{self._proxy_log}"',
            f"LogLevel {self.log_level}",
            "MaxClients 100",
            "Allow 127.0.0.1",
            "Allow ::1",
            "DisableViaHeader Yes",
        ]
        if self.basic_auth is not None:
            lines.append(f"BasicAuth {self.basic_auth[0]} {self.basic_auth[1]}")
        lines += [f"ConnectPort {port}" for port in self.connect_ports]
        config = base.with_suffix(".conf")
        config.write_text("\n".join(lines) + "\n")
        # Run as root, tinyproxy warns that no User is set and keeps the caller's identity.
        return [TINYPROXY, "-d", "-c", str(config)]

    def ready(self) -> bool:
        """tinyproxy listens (it is no TLS server: a TCP connection is the whole check)."""
        before = self._size()
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                pass
        except OSError:
            return False
        # Leave this check's own lines ("Connect", then "closed socket before read") out of `log_text`.
        self._log_start = before
        deadline = time.monotonic() + 1
        while "closed socket before read" not in self.log_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._log_start = self._size()
        return True

    def port_taken(self, error: str) -> bool:
        # tinyproxy says only this (exit status 71) when bind() fails.
        return super().port_taken(error) or "could not create listening sockets" in error.lower()

    def log_text(self) -> str:
        """tinyproxy's own log since it became ready."""
        if self._proxy_log is None:
            return ""
        with contextlib.suppress(OSError), self._proxy_log.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")
        return ""

    def requests(self) -> list[str]:
        """The request lines tinyproxy received since it became ready, such as "CONNECT 127.0.0.1:443 HTTP/1.1"."""
        found = []
        for line in self.log_text().splitlines():
            _, mark, rest = line.partition(_REQUEST_MARK)
            if mark:
                found.append(rest.partition("): ")[2])
        return found

    def _size(self) -> int:
        if self._proxy_log is None:
            return 0
        try:
            return self._proxy_log.stat().st_size
        except OSError:
            return 0


@dataclass(frozen=True)
class ProxyRequest:
    """What a client sent a hostile proxy: the request line and the header fields, in order."""

    line: str
    headers: tuple[tuple[str, str], ...]
    peer: tuple[str, int]

    def header(self, name: str) -> str | None:
        """The value of the first header field called `name` (any case), or None."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


@dataclass
class _RecordingProxy(LoopbackServer):
    """Serves each connection in a thread of its own: reads the request head, records it, then `respond`s."""

    requests: list[ProxyRequest] = field(default_factory=list)
    peers: list[tuple[str, int]] = field(default_factory=list)
    _workers: list[threading.Thread] = field(default_factory=list, repr=False)

    def respond(self, conn: socket.socket, request: ProxyRequest) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self.peers.append((str(peer[0]), int(peer[1])))
            worker = threading.Thread(target=self._run, args=(conn, peer), name=f"lab-{self.name}-conn", daemon=True)
            self._workers.append(worker)
            worker.start()

    def _run(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        try:
            conn.settimeout(5)
            request = _read_request(conn, (str(peer[0]), int(peer[1])))
            if request is not None:
                self.requests.append(request)
                self.respond(conn, request)
        except OSError:
            pass
        finally:
            conn.close()
            self.handled += 1

    def reset_counts(self) -> None:
        super().reset_counts()
        self.requests.clear()
        self.peers.clear()

    def stop(self) -> None:
        super().stop()
        for worker in self._workers:
            worker.join(timeout=5)


def _read_request(conn: socket.socket, peer: tuple[str, int]) -> ProxyRequest | None:
    """The request head (up to the blank line), or None when the client closed or sent too much first."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > _HEAD_LIMIT:
            return None
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    line, *fields = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = tuple((k.strip(), v.strip()) for k, _, v in (f.partition(":") for f in fields if f))
    return ProxyRequest(line, headers, peer)


@dataclass
class AuthRequiredProxy(_RecordingProxy):
    """Answers every request with "407 Proxy Authentication Required" (and a Basic challenge), whatever
    credentials came with it, then closes: a proxy whose password the scanner does not have."""

    realm: str = "lab"

    def respond(self, conn: socket.socket, request: ProxyRequest) -> None:
        conn.sendall(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            + f'Proxy-Authenticate: Basic realm="{self.realm}"\r\n'.encode()
            + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )


@dataclass
class StallingProxy(_RecordingProxy):
    """Reads the request and never answers, until the client gives up or the proxy is stopped."""

    def respond(self, conn: socket.socket, request: ProxyRequest) -> None:
        conn.settimeout(0.2)
        while not self._stop.is_set():
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue
