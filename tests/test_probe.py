"""The prober against real loopback servers with known configurations: every field, exactly."""

from __future__ import annotations

import ssl

import pytest

from scanner import catalog
from scanner import findings as analysis
from scanner.lab.servers import Lab, ServerSpec, TlsServer, closed_port
from scanner.models import EndpointStatus, Policy, ProbeResult, TlsVersion
from scanner.probe.prober import SslyzeProber
from tests.conftest import endpoint, no_gate

T12, T13 = TlsVersion.TLSV1_2, TlsVersion.TLSV1_3

MODERN = ServerSpec(
    "modern",
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305",
    max_version=ssl.TLSVersion.TLSv1_3,
)
RSA_ONLY = ServerSpec("rsa-only", "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA256")
SERVER_ORDER = ServerSpec(
    "server-order",
    "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA:ECDHE-RSA-AES256-GCM-SHA384",
    server_preference=True,
)
OLD = ServerSpec(
    "tls10-11",
    "ECDHE-RSA-AES128-SHA:AES128-SHA",
    min_version=ssl.TLSVersion.TLSv1,
    max_version=ssl.TLSVersion.TLSv1_1,
)
TLS13_ONLY = ServerSpec(
    "tls13-only",
    "ECDHE-RSA-AES128-GCM-SHA256",
    min_version=ssl.TLSVersion.TLSv1_3,
    max_version=ssl.TLSVersion.TLSv1_3,
)
ECDSA = ServerSpec(
    "ecdsa",
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305",
    certificates=("ecdsa",),
)


def probe(server: TlsServer, policy: Policy, exhaustive: bool = False) -> ProbeResult:
    server.reset_counts()
    return SslyzeProber(timeout_s=3, exhaustive=exhaustive).probe(
        endpoint(server.spec.name, server.port), policy, no_gate
    )


@pytest.fixture(scope="module")
def servers(lab: Lab) -> dict[str, TlsServer]:
    return {spec.name: lab.start(spec) for spec in (MODERN, RSA_ONLY, SERVER_ORDER, OLD, TLS13_ONLY, ECDSA)}


def test_modern_client_order_server(servers: dict[str, TlsServer], policy: Policy) -> None:
    result = probe(servers["modern"], policy)
    assert result.status is EndpointStatus.OK
    assert result.tls_versions == (T12, T13)
    assert result.accepted_tls12 == (  # client order: reported strongest first
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    )
    assert result.server_preference is False
    assert result.negotiated == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"  # the policy's first RSA suite
    assert result.ip == "127.0.0.1"
    assert analysis.finding(endpoint("modern", 1), result, policy).required_disabled == ()


def test_rsa_only_server_needs_disabled_suites(servers: dict[str, TlsServer], policy: Policy) -> None:
    result = probe(servers["rsa-only"], policy)
    assert result.status is EndpointStatus.NO_COMMON_SUITE
    assert result.negotiated is None
    assert result.server_preference is False
    assert result.accepted_tls12 == (
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
    )
    found = analysis.finding(endpoint("rsa-only", 1), result, policy)
    assert found.required_disabled == result.accepted_tls12
    assert found.rescue == "TLS_RSA_WITH_AES_256_GCM_SHA384"
    assert found.advice is not None and "TLS_RSA_WITH_AES_256_GCM_SHA384" in found.advice


def test_server_order_is_detected_and_recorded(servers: dict[str, TlsServer], policy: Policy) -> None:
    result = probe(servers["server-order"], policy)
    assert result.server_preference is True
    assert result.tls_versions == (T12,)
    assert analysis.finding(endpoint("server-order", 1), result, policy).required_disabled == ()
    assert result.accepted_tls12 == (  # exactly the server's configured order
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    )
    # The policy prefers AES-256-GCM, but the server imposes its order among what we offer.
    assert result.status is EndpointStatus.OK
    assert result.negotiated == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    servers["server-order"].settle()
    # The last hello was the client's own: the Selected suites, in order (the JSSE tests check the answer).
    assert servers["server-order"].hellos[-1].suites == tuple(catalog.resolve(n).code for n in policy.selected)


def test_server_order_with_a_policy_that_fails(servers: dict[str, TlsServer], policy: Policy) -> None:
    narrow = Policy(policy.release, (T12,), (), ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",), policy.disabled)
    result = probe(servers["server-order"], narrow)
    assert result.status is EndpointStatus.NO_COMMON_SUITE
    found = analysis.finding(endpoint("server-order", 1), result, narrow)
    assert found.required_disabled == (  # in the server's order
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
    )
    assert found.accepted_unlisted == (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    )


def test_tls10_and_11_only_server(servers: dict[str, TlsServer], policy: Policy) -> None:
    result = probe(servers["tls10-11"], policy)
    assert result.status is EndpointStatus.NO_TLS12
    assert result.tls_versions == (TlsVersion.TLSV1_0, TlsVersion.TLSV1_1)
    assert result.accepted_tls12 == ()
    assert result.negotiated is None
    assert result.reason is not None and "TLSv1.0, TLSv1.1" in result.reason
    assert analysis.finding(endpoint("tls10-11", 1), result, policy).required_disabled == ()


def test_tls13_only_server_has_no_tls12(servers: dict[str, TlsServer], policy: Policy) -> None:
    result = probe(servers["tls13-only"], policy)
    assert result.status is EndpointStatus.NO_TLS12
    assert result.tls_versions == (T13,)
    assert result.accepted_tls12 == ()
    assert result.server_preference is None
    assert analysis.finding(endpoint("tls13-only", 1), result, policy).required_disabled == ()


def test_ecdsa_server(servers: dict[str, TlsServer], policy: Policy) -> None:
    result = probe(servers["ecdsa"], policy)
    assert result.status is EndpointStatus.OK
    assert result.accepted_tls12 == (  # client order: reported strongest first
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    )
    assert result.server_preference is False
    assert result.negotiated == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    assert result.tls_versions == (T12,)
    assert analysis.finding(endpoint("ecdsa", 1), result, policy).required_disabled == ()


@pytest.mark.parametrize("name", ["modern", "rsa-only", "server-order", "tls10-11", "ecdsa"])
def test_connection_budget_counted_on_the_server(servers: dict[str, TlsServer], policy: Policy, name: str) -> None:
    server = servers[name]
    result = probe(server, policy)
    tls12_hellos = server.hellos_for("TLSv1.2")
    policy_handshakes = 1 if result.accepted_tls12 else 0
    enumeration = len(tls12_hellos) - policy_handshakes
    assert enumeration <= len(result.accepted_tls12) + 3
    server.settle()
    assert server.connections == result.connections  # the prober's own count is honest
    assert server.connections <= len(result.accepted_tls12) + 10  # the whole probe: versions, order, policy
    assert (
        len(server.hellos) == server.connections
    )  # every hello was parsed, none escaped the count  # the prober's own count is honest
    assert all(h.server_name == f"{name}.lab.tlsverify.test" for h in tls12_hellos)  # SNI is the host name


def test_no_server_sees_more_than_the_rate_per_server_in_any_second(
    servers: dict[str, TlsServer], policy: Policy
) -> None:
    """Counted on the servers' side, from their accept times: each of two servers, probed at once with a
    limit of 4 a second, sees at most 4 new connections in any one-second window, and the suites found are
    the same as without a limit."""
    import asyncio

    from scanner.scan import ScanSettings, scan

    chosen = [servers["rsa-only"], servers["server-order"]]
    unlimited = {s.spec.name: probe(s, policy) for s in chosen}
    for server in chosen:
        server.reset_counts()
    endpoints = [endpoint(s.spec.name, s.port) for s in chosen]
    results = asyncio.run(scan(endpoints, policy, SslyzeProber(timeout_s=3), ScanSettings(rate_per_server=4)))
    for server, result in zip(chosen, results, strict=True):
        server.settle()
        times = sorted(server.accepted_at)
        assert len(times) == result.connections > 8  # more than two seconds' worth at this rate
        assert max(sum(1 for t in times if start <= t < start + 0.999) for start in times) <= 4
        assert result.accepted_tls12 == unlimited[server.spec.name].accepted_tls12


def test_closed_port_is_unreachable(policy: Policy) -> None:
    result = SslyzeProber(timeout_s=2).probe(endpoint("closed", closed_port()), policy, no_gate)
    assert result.status is EndpointStatus.UNREACHABLE
    assert result.reason is not None and "refused" in result.reason
    assert result.connections == 1


def test_unresolvable_name_is_a_dns_error(policy: Policy) -> None:
    from scanner.models import Endpoint

    target = Endpoint("nx", "nx", "lab", "no-such-host.invalid", 443)
    result = SslyzeProber(timeout_s=2).probe(target, policy, no_gate)
    assert result.status is EndpointStatus.DNS_ERROR
    assert result.connections == 0
    assert result.reason is not None and "no-such-host.invalid" in result.reason


@pytest.mark.parametrize("name", ["modern", "rsa-only", "server-order", "tls10-11", "ecdsa"])
def test_exhaustive_mode_agrees_with_elimination(servers: dict[str, TlsServer], policy: Policy, name: str) -> None:
    fast = probe(servers[name], policy)
    slow = probe(servers[name], policy, exhaustive=True)
    assert slow.accepted_tls12 == fast.accepted_tls12
    assert slow.server_preference == fast.server_preference
    assert slow.negotiated == fast.negotiated
    assert slow.tls_versions == fast.tls_versions
    assert slow.status == fast.status
    assert slow.connections > 100 > fast.connections  # sslyze's scan is one handshake per suite
