"""3DES servers (gnutls-serv in a private network namespace): what Core 10.2.0.0 removed, probed for real.

Skipped where gnutls-serv is not installed, except under CI, where `.ci/run` installs it and a skip
would hide a broken install step.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from scanner import analysis
from scanner.lab.gnutls import PRIORITY_3DES, GnutlsServer, unavailable_reason
from scanner.lab.servers import Lab
from scanner.models import EndpointStatus, Policy, TlsVersion
from scanner.probe.prober import SslyzeProber
from tests.conftest import endpoint, no_gate

REASON = unavailable_reason()
if REASON and os.environ.get("CI"):
    raise RuntimeError(f"CI must be able to run gnutls-serv: {REASON}")
pytestmark = [pytest.mark.gnutls, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

ACCEPTED = ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA")


@pytest.fixture(scope="module")
def server(lab: Lab) -> Iterator[GnutlsServer]:
    started = GnutlsServer(
        "gnutls-3des", priority=PRIORITY_3DES, certificates=lab.certificates, workdir=str(lab.directory)
    )
    lab.add(started)
    yield started


@pytest.mark.parametrize("exhaustive", [False, True])
def test_3des_server_under_the_current_policy(server: GnutlsServer, policy: Policy, exhaustive: bool) -> None:
    server.reset_counts()
    result = SslyzeProber(timeout_s=3, exhaustive=exhaustive).probe(endpoint("c", server.port), policy, no_gate)
    assert result.status is EndpointStatus.NO_COMMON_SUITE
    assert result.tls_versions == (TlsVersion.TLSV1_2,)
    assert result.accepted_tls12 == ACCEPTED
    found = analysis.finding(endpoint("c", server.port), result, policy)
    # Removed in 10.2.0.0: in neither list, so no Disabled suite can rescue it; the server must change.
    assert found.required_disabled == ()
    assert found.accepted_unlisted == ACCEPTED
    assert found.advice is not None and "configure the server" in found.advice
    if not exhaustive:
        assert len(server.hellos_for("TLSv1.2")) - 1 <= len(ACCEPTED) + 3
        assert server.connections == result.connections


def test_3des_required_when_an_older_release_disabled_it(server: GnutlsServer) -> None:
    old = Policy(
        "9.0", (TlsVersion.TLSV1_2,), (), ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",), ("TLS_RSA_WITH_3DES_EDE_CBC_SHA",)
    )
    result = SslyzeProber(timeout_s=3).probe(endpoint("c", server.port), old, no_gate)
    found = analysis.finding(endpoint("c", server.port), result, old)
    assert found.required_disabled == ("TLS_RSA_WITH_3DES_EDE_CBC_SHA",)


def test_3des_negotiated_when_selected(server: GnutlsServer) -> None:
    old = Policy(
        "9.0",
        (TlsVersion.TLSV1_2,),
        (),
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "SSL_RSA_WITH_3DES_EDE_CBC_SHA".replace("SSL_", "TLS_")),
        (),
    )
    result = SslyzeProber(timeout_s=3).probe(endpoint("c", server.port), old, no_gate)
    assert result.status is EndpointStatus.OK
    assert result.negotiated == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
