"""A lab server that is a program of its own (slapd, openssl s_server, nginx, tinyproxy) listening on 127.0.0.1:PORT.

The program binds the port itself, so the lab's accept thread does not run and `connections`, `hellos`
and `negotiated` stay empty; `start` waits until `ready()` holds: by default, until the program completes a
TLS handshake (a subclass that is no TLS server, such as a proxy, says otherwise).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from scanner.lab.servers import LOOPBACK, Certificates, LoopbackServer, free_port

_START_SECONDS = 10.0
_BIND_ATTEMPTS = 3


@dataclass
class ProcessServer(LoopbackServer):
    """Runs `command()` in a session of its own; stops the whole session."""

    certificates: Certificates | None = None
    workdir: str = ""
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: Path | None = None

    def command(self) -> list[str]:
        """The program and its arguments, listening on 127.0.0.1:`self.port`."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> ProcessServer:
        self._log = Path(self.workdir) / f"{self.name}.log"
        error: str | None = "not started"
        for _ in range(_BIND_ATTEMPTS):
            # The program binds the port itself: pick a free one, and again if another process took it meanwhile.
            self.port = free_port(self.host)
            error = self._launch()
            if error is None:
                return self
            if not self.port_taken(error):
                break
        raise RuntimeError(f"{self.name} did not start on {self.host}:{self.port}: {error}")

    def port_taken(self, error: str) -> bool:
        """Whether the program's last words (`error`) say its port was taken, so another port is worth a try."""
        return "already in use" in error.lower()

    def ready(self) -> bool:
        """Whether the program serves yet: it completes a TLS handshake on `port`."""
        return _handshake(self.port, self.host)

    def _launch(self) -> str | None:
        """Run the program and wait until it is `ready()`; the reason it did not, or None."""
        assert self._log is not None
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,
            )
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                return self._log_text() or "exited without a message"
            if self.ready():
                return None
            time.sleep(0.05)
        self.stop()
        return f"not ready (for a TLS server: no handshake) within {_START_SECONDS:.0f} s; log: {self._log_text()}"

    def _log_text(self) -> str:
        assert self._log is not None
        with contextlib.suppress(OSError):
            return self._log.read_text(errors="replace").strip()[-2000:]
        return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        _signal_group(process.pid, signal.SIGKILL)  # anything left in the group


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _handshake(port: int, host: str = LOOPBACK) -> bool:
    """Whether host:port (127.0.0.1 unless given) accepts a TCP connection and completes a TLS handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=1) as sock,
            context.wrap_socket(sock, server_hostname=None),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


@dataclass
class OpensslServer(ProcessServer):
    """`openssl s_server` with a TLS 1.2 cipher string and, optionally, only some key-exchange groups (what
    Python's ssl cannot set): `groups="X25519"` makes a server that does ECDHE over X25519 alone."""

    ciphers: str = "DEFAULT"
    groups: str | None = None
    server_preference: bool = False

    def command(self) -> list[str]:
        assert self.certificates is not None
        chain, key = self.certificates.pair("rsa")
        command = ["openssl", "s_server", "-accept", f"{LOOPBACK}:{self.port}", "-tls1_2", "-www", "-quiet"]
        command += ["-cert", str(chain), "-key", str(key), "-cipher", self.ciphers + ":@SECLEVEL=0"]
        if self.groups:
            command += ["-groups", self.groups]
        if self.server_preference:
            command.append("-serverpref")
        return command
