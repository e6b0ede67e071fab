"""A lab server running Debian's stock OpenLDAP `slapd` on LDAPS (implicit TLS) with its default GnuTLS settings."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from scanner.lab.servers import LOOPBACK, Certificates, LoopbackServer, closed_port

SLAPD = "/usr/sbin/slapd"
_START_SECONDS = 10.0
_BIND_ATTEMPTS = 3


@cache
def unavailable_reason() -> str | None:
    """Why a slapd lab server cannot run here, or None when it can (tried once, with a real start)."""
    if not os.access(SLAPD, os.X_OK):
        return f"{SLAPD} is not installed (apt-get install slapd)"
    with tempfile.TemporaryDirectory(prefix="tlsverify-slapd-") as tmp:
        trial = SlapdServer("slapd-trial", certificates=Certificates(Path(tmp)), workdir=tmp)
        try:
            trial.start()
        except (OSError, RuntimeError) as exc:
            return f"slapd cannot start here: {exc}"
        finally:
            trial.stop()
    return None


@dataclass
class SlapdServer(LoopbackServer):
    """Stock slapd listening on ldaps://127.0.0.1:PORT/ with a throwaway slapd.conf and no database.

    The configuration names only the pid and args files and the RSA certificate and key: no
    TLSCipherSuite (libldap's GnuTLS backend then uses the "NORMAL" priority string, exactly as if
    it were written), no TLSDHParamFile (GnuTLS then grants DHE only to clients offering FFDHE groups).
    slapd listens itself, so `connections`, `hellos` and `negotiated` stay empty.
    """

    certificates: Certificates | None = None
    workdir: str = ""
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: Path | None = None

    def start(self) -> SlapdServer:
        assert self.certificates is not None
        chain, key = self.certificates.pair("rsa")
        base = Path(self.workdir) / f"{self.name}-slapd"
        config = base.with_suffix(".conf")
        config.write_text(
            f'pidfile "{base.with_suffix(".pid")}"\n'
            f'argsfile "{base.with_suffix(".args")}"\n'
            f'TLSCertificateFile "{chain}"\n'
            f'TLSCertificateKeyFile "{key}"\n'
        )
        self._log = base.with_suffix(".log")
        for _ in range(_BIND_ATTEMPTS):
            # slapd binds the port itself: pick a free one, and pick again if another process took it meanwhile.
            self.port = closed_port()
            error = self._launch(config)
            if error is None:
                return self
            if "Address already in use" not in error:
                break
        raise RuntimeError(f"slapd did not start on 127.0.0.1:{self.port}: {error}")

    def _launch(self, config: Path) -> str | None:
        """Run slapd and wait until it completes TLS handshakes; the reason it did not, or None."""
        assert self._log is not None
        # -d none: stay in the foreground (any -d does) and print only errors, to the log file.
        # No -u/-g: slapd keeps the caller's identity, root included, and reads the lab's files as that user.
        # LDAPNOINIT: ignore /etc/ldap/ldap.conf, ~/.ldaprc and LDAP* variables, which would set client TLS options.
        command = [SLAPD, "-f", str(config), "-h", f"ldaps://{LOOPBACK}:{self.port}/", "-d", "none"]
        with self._log.open("wb") as log:
            # A session of its own: stop() ends slapd and anything it started together.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "LDAPNOINIT": "1"},
                start_new_session=True,
            )
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                return self._log_text() or "exited without a message"
            if _handshake(self.port):
                return None
            time.sleep(0.05)
        self.stop()
        return f"no TLS handshake within {_START_SECONDS:.0f} s; log: {self._log_text()}"

    def _log_text(self) -> str:
        assert self._log is not None
        with contextlib.suppress(OSError):
            return self._log.read_text(errors="replace").strip()[-2000:]
        return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self._signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._signal_group(process.pid, signal.SIGKILL)
            process.wait()
        self._signal_group(process.pid, signal.SIGKILL)  # anything left in the group

    @staticmethod
    def _signal_group(pid: int, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)


def _handshake(port: int) -> bool:
    """Whether 127.0.0.1:port accepts a TCP connection and completes a TLS handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((LOOPBACK, port), timeout=1) as sock,
            context.wrap_socket(sock, server_hostname=None),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False
