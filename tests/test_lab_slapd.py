"""The stock-slapd lab server: LDAPS on 127.0.0.1, reached with Python's ssl over TLS 1.2."""

from __future__ import annotations

import os
import socket
import ssl

import pytest

from scanner.lab.servers import LOOPBACK, Lab
from scanner.lab.slapd import SlapdServer, unavailable_reason

REASON = unavailable_reason()
if REASON and os.environ.get("CI"):
    raise RuntimeError(f"CI must be able to run slapd: {REASON}")
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def test_slapd_serves_ecdhe_rsa_over_tls12() -> None:
    with Lab() as lab:
        server = lab.add(SlapdServer("ldaps", certificates=lab.certificates, workdir=str(lab.directory)))
        assert server.port != 0
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
        with (
            socket.create_connection((LOOPBACK, server.port), timeout=5) as sock,
            context.wrap_socket(sock) as tls,
        ):
            cipher = tls.cipher()
        assert cipher is not None
        assert cipher[:2] == ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2")
