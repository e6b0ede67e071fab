"""Cross-referencing results with the policy (scanner.findings), as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scanner import findings as analysis
from scanner.config import load_releases
from scanner.models import EndpointStatus, Policy, ProbeResult, TlsVersion
from tests.conftest import endpoint

POLICY = Policy(
    "10.3.0.0",
    (TlsVersion.TLSV1_2,),
    (),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def run(results: list[ProbeResult]):  # type: ignore[no-untyped-def]
    endpoints = [endpoint(r.endpoint_id, 1) for r in results]
    releases = load_releases()
    legacy = {n for n in POLICY.selected + POLICY.disabled if releases.is_legacy(n, POLICY.release)}
    return analysis.verify_all_report(endpoints, results, POLICY, NOW, legacy=legacy)


def test_usage_required_and_unused() -> None:
    report = run(
        [
            ProbeResult(
                "b-ok",
                EndpointStatus.OK,
                negotiated="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                accepted_tls12=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
            ),
            ProbeResult(
                "a-rsa",
                EndpointStatus.NO_COMMON_SUITE,
                accepted_tls12=(
                    "TLS_RSA_WITH_AES_256_CBC_SHA",
                    "TLS_RSA_WITH_AES_128_CBC_SHA",
                    "TLS_RSA_WITH_AES_128_GCM_SHA256",
                ),
            ),
            ProbeResult("c-old", EndpointStatus.NO_TLS12, tls_versions=(TlsVersion.TLSV1_0,)),
        ]
    )
    assert [f.endpoint.id for f in report.findings] == ["a-rsa", "b-ok", "c-old"]  # sorted, deterministic
    rsa = report.findings[0]
    assert rsa.required_disabled == ("TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA")
    assert rsa.accepted_unlisted == ("TLS_RSA_WITH_AES_128_GCM_SHA256",)
    by_name = {s.name: s for s in report.suites}
    assert by_name["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"].negotiated_by == ("b-ok",)
    assert by_name["TLS_RSA_WITH_AES_128_CBC_SHA"].required_by == ("a-rsa",)
    assert by_name["TLS_RSA_WITH_3DES_EDE_CBC_SHA"].legacy  # removed in 10.2.0.0
    assert not by_name["TLS_RSA_WITH_AES_128_CBC_SHA"].legacy
    assert report.unused_selected == ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",)
    assert [f.endpoint.id for f in analysis.without_tls12(report)] == ["c-old"]
    assert analysis.exit_code(report) == 1


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([EndpointStatus.OK, EndpointStatus.UNREACHABLE], 3),
        ([EndpointStatus.TIMEOUT, EndpointStatus.DNS_ERROR], 3),
        ([EndpointStatus.UNREACHABLE, EndpointStatus.NO_COMMON_SUITE], 1),  # 1 wins: a policy problem to fix
        ([EndpointStatus.TIMEOUT, EndpointStatus.TLS_ERROR], 1),
        ([EndpointStatus.UNREACHABLE, EndpointStatus.INTERNAL_ERROR], 1),  # a tlsverify bug is no network problem
    ],
)
def test_could_not_probe_is_3_and_a_policy_failure_wins(statuses: list[EndpointStatus], code: int) -> None:
    results = [
        ProbeResult(f"e{i}", status, negotiated="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" if status == "ok" else None)
        for i, status in enumerate(statuses)
    ]
    assert analysis.exit_code(run(results)) == code


def test_all_ok_exits_zero() -> None:
    report = run([ProbeResult("a", EndpointStatus.OK, negotiated="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")])
    assert analysis.exit_code(report) == 0
    assert report.findings[0].advice is None


def test_advice_for_each_failure() -> None:
    for status in EndpointStatus:
        if status is EndpointStatus.OK:
            continue
        finding = analysis.finding(endpoint("x", 1), ProbeResult("x", status), POLICY)
        assert finding.advice, status
