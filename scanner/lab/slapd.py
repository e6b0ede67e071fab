"""A lab server running Debian's stock OpenLDAP `slapd` on LDAPS (implicit TLS) with its default GnuTLS settings."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from scanner.lab.process import ProcessServer
from scanner.lab.servers import LOOPBACK, Certificates

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
    """

    def command(self) -> list[str]:
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
        # -d none: stay in the foreground (any -d does) and print only errors, to the log file.
        # No -u/-g: slapd keeps the caller's identity, root included, and reads the lab's files as that user.
        return [SLAPD, "-f", str(config), "-h", f"ldaps://{LOOPBACK}:{self.port}/", "-d", "none"]

    def environment(self) -> dict[str, str]:
        # LDAPNOINIT: ignore /etc/ldap/ldap.conf, ~/.ldaprc and LDAP* variables (client TLS options).
        return {**os.environ, "LDAPNOINIT": "1"}
