"""The fewest moves that reconnect every failing endpoint: a set cover over what each failing endpoint accepts,
with the endpoints no move reconnects and those that could not be probed named apart."""

from __future__ import annotations

from datetime import UTC, datetime

from scanner import findings as analysis
from scanner import moves
from scanner.clients import negotiate
from scanner.config import load_releases
from scanner.impact import impact
from scanner.models import (
    Certificate,
    CertificateIssue,
    CertificateProblem,
    EndpointStatus,
    Policy,
    ProbeResult,
    TlsVersion,
)
from tests.conftest import endpoint

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
GCM256, GCM128 = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
RSA128, RSA256 = "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA"
ECBC128 = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
TRIPLE = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
ARIA = "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"  # OpenSSL has it; the Java client does not
POLICY = Policy("10.3.0.0", (TlsVersion.TLSV1_2,), (), (GCM256, GCM128), (RSA128, RSA256, ECBC128, TRIPLE))


def fails(endpoint_id: str, *accepted: str) -> ProbeResult:
    return ProbeResult(endpoint_id, EndpointStatus.NO_COMMON_SUITE, accepted_tls12=accepted)


def ok(endpoint_id: str, *accepted: str, server_preference: bool | None = False) -> ProbeResult:
    negotiated = negotiate(POLICY, accepted, server_preference)
    return ProbeResult(
        endpoint_id,
        EndpointStatus.OK,
        accepted_tls12=accepted,
        server_preference=server_preference,
        negotiated=negotiated,
    )


def answer(*results: ProbeResult, policy: Policy = POLICY) -> moves.FewestMoves:
    endpoints = [endpoint(r.endpoint_id, 443 + i) for i, r in enumerate(results)]
    report = analysis.verify_all_report(endpoints, results, policy, NOW)
    return moves.for_findings(report.policy, report.findings)


def test_two_suites_reconnect_three_endpoints_where_the_strongest_rescues_would_take_three() -> None:
    got = answer(
        ok("apns", GCM128),
        fails("scep", RSA256, RSA128),  # its strongest rescue is AES-256 ...
        fails("smtps", ECBC128, RSA128),  # ... and this one's is ECDHE: three moves, where two do
        fails("connector", TRIPLE),
    )
    assert [(m.suite, m.origin, m.reconnects) for m in got.moves] == [
        (RSA128, "disabled", ("scep", "smtps")),
        (TRIPLE, "disabled", ("connector",)),
    ]
    assert got.reconnects == ("connector", "scep", "smtps")
    assert got.not_by_moves == () and got.unprobed == () and not got.nothing_fails
    # the moves really reconnect every one of them under the policy they make
    after = Policy(POLICY.release, POLICY.protocols_selected, (), (*POLICY.selected, RSA128, TRIPLE), ())
    assert negotiate(after, (RSA256, RSA128), False) == RSA128
    assert negotiate(after, (ECBC128, RSA128), True) == RSA128
    assert negotiate(after, (TRIPLE,), None) == TRIPLE


def test_strongest_among_covers_of_the_same_size() -> None:
    got = answer(fails("a", RSA128, RSA256, ECBC128), fails("b", RSA128, RSA256, ECBC128))
    assert [m.suite for m in got.moves] == [ECBC128]  # one suite does; of the three, the ECDHE one
    assert got.moves[0].reconnects == ("a", "b")


def test_a_suite_in_neither_list_is_added_and_one_the_client_lacks_is_no_move() -> None:
    cbc256 = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"  # in neither list
    got = answer(fails("a", ARIA, cbc256), fails("b", ARIA))
    assert [(m.suite, m.origin) for m in got.moves] == [(cbc256, "not listed")]
    assert got.reconnects == ("a",)
    assert [(s.endpoint_id, s.why) for s in got.not_by_moves] == [
        ("b", "accepts no suite the client can offer: the server must accept a Selected suite")
    ]


def test_a_suite_the_release_does_not_ship_is_no_move() -> None:
    ecdhe3des = "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"  # in neither list, and not in release 10.3.0.0
    cbc256 = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"  # in neither list, and in 10.3.0.0
    results = [fails("old", ecdhe3des), fails("new", cbc256, ecdhe3des)]
    endpoints = [endpoint(r.endpoint_id, 443 + i) for i, r in enumerate(results)]
    report = analysis.verify_all_report(endpoints, results, POLICY, NOW)
    release = load_releases().get("10.3.0.0")
    assert release is not None
    got = moves.for_findings(POLICY, report.findings, release.available)
    assert [(m.suite, m.origin, m.reconnects) for m in got.moves] == [(cbc256, "not listed", ("new",))]
    assert [(s.endpoint_id, s.why) for s in got.not_by_moves] == [
        (
            "old",
            "accepts only suites release 10.3.0.0 does not ship (TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA): "
            "the server must accept a Selected suite",
        )
    ]
    unknown = moves.for_findings(POLICY, report.findings)  # the release not known: every suite counts
    assert [m.suite for m in unknown.moves] == [ecdhe3des]


def test_unprobed_and_other_failures_are_named_apart() -> None:
    refused = Certificate(
        "CN=x",
        "CN=x",
        ("x",),
        "RSA",
        2048,
        "sha256WithRSAEncryption",
        NOW,
        NOW,
        "00",
        1,
        "system",
        (CertificateIssue(CertificateProblem.UNTRUSTED, "self-signed"),),
    )
    got = answer(
        ProbeResult("sentry", EndpointStatus.UNREACHABLE, reason="connection refused"),
        ProbeResult("dns", EndpointStatus.DNS_ERROR),
        ProbeResult("ldaps", EndpointStatus.NO_TLS12, tls_versions=(TlsVersion.TLSV1_0,)),
        ProbeResult("gw", EndpointStatus.OK, accepted_tls12=(GCM128,), negotiated=GCM128, certificate=refused),
        fails("scep", RSA128),
    )
    assert [m.suite for m in got.moves] == [RSA128] and got.reconnects == ("scep",)
    assert [(s.endpoint_id, s.why) for s in got.unprobed] == [("dns", "dns error"), ("sentry", "connection refused")]
    assert {s.endpoint_id: s.why.split(":")[0] for s in got.not_by_moves} == {
        "ldaps": "does not speak TLS 1.2",
        "gw": "the client refuses its certificate",
    }


def test_nothing_fails_nothing_to_move() -> None:
    got = answer(ok("apns", GCM128), ok("dep", GCM256, GCM128))
    assert got.nothing_fails and got.moves == () and got.reconnects == ()


def test_a_working_server_whose_own_order_prefers_a_moved_suite_is_reported() -> None:
    got = answer(ok("dep", RSA128, GCM128, server_preference=True), ok("apns", RSA128, GCM128), fails("scep", RSA128))
    assert got.side_effects == (("dep", GCM128, RSA128),)  # apns: the client's order keeps GCM


def test_impact_moves_reconnect_what_the_change_breaks_and_skip_suites_the_release_lacks() -> None:
    releases = load_releases()
    before = Policy("10.3.0.0", (TlsVersion.TLSV1_2,), (), (GCM128, RSA128, RSA256), ())
    after = Policy("10.3.0.0", (TlsVersion.TLSV1_2,), (), (GCM128,), (RSA128, RSA256))
    scanned = [
        (endpoint("apns", 1), ok("apns", GCM128)),
        (endpoint("scep", 2), ProbeResult("scep", EndpointStatus.OK, accepted_tls12=(RSA256, RSA128))),
        (endpoint("smtps", 3), ProbeResult("smtps", EndpointStatus.OK, accepted_tls12=(RSA128,))),
        (endpoint("old", 4), ProbeResult("old", EndpointStatus.NO_COMMON_SUITE, accepted_tls12=(TRIPLE,))),
        (endpoint("sentry", 5), ProbeResult("sentry", EndpointStatus.UNREACHABLE, reason="connection refused")),
    ]
    report = impact(scanned, before, after, releases, "a test", "2026-11-26")
    got = moves.for_impact(report)
    assert [(m.suite, m.origin, m.reconnects) for m in got.moves] == [(RSA128, "disabled", ("scep", "smtps"))]
    assert [s.endpoint_id for s in got.not_by_moves] == ["old"]  # 3DES: not shipped by 10.3.0.0
    assert "does not ship" in got.not_by_moves[0].why
    assert [s.endpoint_id for s in got.unprobed] == ["sentry"]
