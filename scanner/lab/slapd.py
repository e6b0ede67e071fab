"""A lab server running Debian's stock OpenLDAP `slapd`: LDAPS (implicit TLS) and, if asked, LDAP with StartTLS."""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from scanner.lab.ldap import SUCCESS, starttls
from scanner.lab.process import ProcessServer
from scanner.lab.servers import LOOPBACK, Certificates, free_port

SLAPD = "/usr/sbin/slapd"


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
class SlapdServer(ProcessServer):
    """Stock slapd listening on ldaps://127.0.0.1:PORT/ with a throwaway slapd.conf and no database.

    The configuration names only the pid and args files and the RSA certificate and key: no
    TLSCipherSuite (libldap's GnuTLS backend then uses the "NORMAL" priority string, exactly as if
    it were written), no TLSDHParamFile (GnuTLS then grants DHE only to clients offering FFDHE groups).

    `plain_ldap=True` adds a second listener in the same process, ldap://127.0.0.1:`starttls_port`/: plain
    LDAP where the StartTLS extended operation is available (slapd offers it as soon as a certificate is
    configured) and leads to the same TLS settings. `cipher_suite` sets TLSCipherSuite, a GnuTLS priority
    string such as "NONE:+VERS-TLS1.2:+AES-128-GCM:+ECDHE-RSA:+AEAD:+SIGN-ALL:+CURVE-ALL:+COMP-NULL", for
    both listeners. slapd refuses a ClientHello it has no suite for by closing the connection, without an
    alert (an OpenSSL client reports "unexpected eof while reading").
    """

    plain_ldap: bool = False
    cipher_suite: str | None = None
    starttls_port: int = 0
    """The plain-LDAP (StartTLS) port when `plain_ldap`; 0 otherwise."""

    def command(self) -> list[str]:
        assert self.certificates is not None
        chain, key = self.certificates.pair("rsa")
        base = Path(self.workdir) / f"{self.name}-slapd"
        config = base.with_suffix(".conf")
        suite = f'TLSCipherSuite "{self.cipher_suite}"\n' if self.cipher_suite else ""
        config.write_text(
            f'pidfile "{base.with_suffix(".pid")}"\n'
            f'argsfile "{base.with_suffix(".args")}"\n'
            f'TLSCertificateFile "{chain}"\n'
            f'TLSCertificateKeyFile "{key}"\n' + suite
        )
        urls = f"ldaps://{LOOPBACK}:{self.port}/"
        if self.plain_ldap:
            # Picked again at every launch, so a retry after "already in use" gets a fresh one.
            self.starttls_port = free_port()
            urls += f" ldap://{LOOPBACK}:{self.starttls_port}/"
        # -d none: stay in the foreground (any -d does) and print only errors, to the log file.
        # No -u/-g: slapd keeps the caller's identity, root included, and reads the lab's files as that user.
        return [SLAPD, "-f", str(config), "-h", urls, "-d", "none"]

    def environment(self) -> dict[str, str]:
        # LDAPNOINIT: ignore /etc/ldap/ldap.conf, ~/.ldaprc and LDAP* variables (client TLS options).
        return {**os.environ, "LDAPNOINIT": "1"}

    def ready(self) -> bool:
        """A TLS handshake on the LDAPS port and, with `plain_ldap`, one after StartTLS on the other."""
        return super().ready() and (not self.plain_ldap or _starttls_handshake(self.starttls_port))


def _starttls_handshake(port: int) -> bool:
    """Whether 127.0.0.1:port grants StartTLS and then completes a TLS handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
            answer = starttls(sock)
            if answer is None or answer.result_code != SUCCESS:
                return False
            with context.wrap_socket(sock, server_hostname=None):
                return True
    except (OSError, ssl.SSLError):
        return False
