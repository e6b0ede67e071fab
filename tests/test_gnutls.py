"""3DES servers (gnutls-serv in a private network namespace): what Core 10.2.0.0 removed, probed for real.

Skipped where gnutls-serv is not installed, except under CI, where `.ci/run` installs it and a skip
would hide a broken install step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner import findings as analysis
from scanner.config import load_policy
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


def test_3des_negotiated_when_selected_by_its_jsse_name(server: GnutlsServer, tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        'release: "9.0"\ncipher_suites:\n'
        "  selected: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, SSL_RSA_WITH_3DES_EDE_CBC_SHA]\n"
    )
    result = SslyzeProber(timeout_s=3).probe(endpoint("c", server.port), load_policy(policy_file), no_gate)
    assert result.status is EndpointStatus.OK
    assert result.negotiated == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"


# DHE-RSA-3DES is spelled EDH-RSA-DES-CBC3-SHA by the legacy OpenSSL and DHE-RSA-DES-CBC3-SHA by the modern
# one: the same suite must not be eliminated twice (the budget would break).
DHE_PRIORITY = "NONE:+VERS-TLS1.2:+3DES-CBC:+AES-128-CBC:+DHE-RSA:+RSA:+SHA1:+COMP-NULL:+SIGN-ALL:+GROUP-ALL"
DHE_ACCEPTED = (
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
)


@pytest.mark.parametrize("server_precedence", [False, True])
def test_dhe_3des_server_budget_and_order(lab: Lab, policy: Policy, server_precedence: bool) -> None:
    priority = DHE_PRIORITY + (":%SERVER_PRECEDENCE" if server_precedence else "")
    name = f"gnutls-dhe-{int(server_precedence)}"
    server = lab.add(GnutlsServer(name, priority=priority, certificates=lab.certificates, workdir=str(lab.directory)))
    assert isinstance(server, GnutlsServer)
    fast = SslyzeProber(timeout_s=3).probe(endpoint(name, server.port), policy, no_gate)
    server.settle()
    assert set(fast.accepted_tls12) == set(DHE_ACCEPTED)
    assert fast.server_preference is server_precedence
    if not server_precedence:
        assert fast.accepted_tls12 == DHE_ACCEPTED  # strongest first
    assert len(server.hellos_for("TLSv1.2")) - 1 <= len(DHE_ACCEPTED) + 3
    assert server.connections == fast.connections == len(server.hellos)
    slow = SslyzeProber(timeout_s=3, exhaustive=True).probe(endpoint(name, server.port), policy, no_gate)
    assert (slow.accepted_tls12, slow.server_preference) == (fast.accepted_tls12, fast.server_preference)


def test_upgrade_breaks_a_3des_server_and_says_no_list_can_rescue_it(server: GnutlsServer, tmp_path: Path) -> None:
    """The seed's upgrade case: 10.2.0.0 removed 3DES, so a 3DES-only server is lost on upgrade."""
    from scanner.cli import main
    from scanner.config import write_endpoints

    nine = tmp_path / "nine.yaml"
    assert main(["policy", "reset-to-default", "--release", "9.0", "--output", str(nine)]) == 0
    endpoints = tmp_path / "endpoints.yaml"
    write_endpoints(
        [{"id": "connector", "host": "connector.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}],
        endpoints,
        "3des",
        server.certificates.ca_bundle() if server.certificates else None,
    )
    common = ["--endpoints", str(endpoints), "--policy", str(nine), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(["verify-all", *common]) == 0  # works today, under 9.0, through a 3DES suite
    assert main(["impact", "--upgrade-to", "10.3.0.0", "--verify", *common]) == 1
    doc = json.loads((tmp_path / "out" / "impact.json").read_text())
    (row,) = doc["endpoints"]
    assert row["status"] == "breaks" and row["verified"] is True
    assert row["before"] in ACCEPTED and row["after"] is None
    assert [r["list"] for r in row["rescue"]] == ["not in release 10.3.0.0"] * 2
