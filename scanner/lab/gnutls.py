"""A `gnutls-serv` lab server, for the suites Debian's OpenSSL 3 cannot serve at all (3DES).

It runs inside a private network namespace (see `nsbridge`) and is reached through 127.0.0.1 like every
other lab server. Available where `gnutls-serv` (Debian package gnutls-bin) and `unshare` are installed
and the user may create a network namespace (root, or unprivileged user namespaces).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache

from scanner.lab.nsbridge import relay
from scanner.lab.servers import Certificates, LoopbackServer

# RSA and ECDHE-RSA key exchange with 3DES only: what Core 10.2.0.0 removed.
PRIORITY_3DES = "NONE:+VERS-TLS1.2:+3DES-CBC:+RSA:+ECDHE-RSA:+SHA1:+COMP-NULL:+SIGN-ALL:+CURVE-ALL"
_INNER_PORT = 5556


@cache
def unavailable_reason() -> str | None:
    """Why a gnutls lab server cannot run here, or None when it can (tried once: some containers forbid
    network namespaces even to root)."""
    for tool in ("gnutls-serv", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install gnutls-bin util-linux)"
    try:
        subprocess.run([*_unshare(), "true"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot create a network namespace here ({exc})"
    return None


def _unshare() -> list[str]:
    return ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "--map-root-user"]


@dataclass
class GnutlsServer(LoopbackServer):
    """gnutls-serv with a priority string, in its own network namespace, relayed from 127.0.0.1."""

    priority: str = PRIORITY_3DES
    certificates: Certificates | None = None
    workdir: str = ""
    _bridge: subprocess.Popen[str] | None = field(default=None, repr=False)
    _unix_path: str = ""

    def start(self) -> GnutlsServer:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        assert self.certificates is not None
        chain, key = self.certificates.pair("rsa")
        self._unix_path = os.path.join(self.workdir, f"{self.name}.sock")
        command = [
            *_unshare(),
            sys.executable,
            "-m",
            "scanner.lab.nsbridge",
            self._unix_path,
            str(_INNER_PORT),
            "--",
            "gnutls-serv",
            "--port",
            str(_INNER_PORT),
            "--priority",
            self.priority,
            "--x509certfile",
            str(chain),
            "--x509keyfile",
            str(key),
        ]
        # A session of its own: stop() can then end the bridge and gnutls-serv together, whatever happens.
        self._bridge = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self._bridge.stdout is not None
        line = self._bridge.stdout.readline().strip()
        if line != "READY":
            self._kill_group()
            _, err = self._bridge.communicate(timeout=5)
            raise RuntimeError(f"gnutls-serv did not start: {line or err.strip()[:300]}")
        super().start()
        return self

    def handle(self, conn: socket.socket) -> None:
        inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        inner.connect(self._unix_path)
        conn.settimeout(None)
        relay(conn, inner)

    def stop(self) -> None:
        super().stop()
        if self._bridge is not None:
            self._bridge.terminate()
            try:
                self._bridge.communicate(timeout=5)  # also closes the pipes
            except subprocess.TimeoutExpired:
                self._bridge.kill()
                self._bridge.communicate()
            self._kill_group()  # anything left in the group

    def _kill_group(self) -> None:
        if self._bridge is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._bridge.pid, signal.SIGKILL)
