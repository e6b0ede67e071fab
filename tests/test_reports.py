"""The JSON contract, the HTML page's content and escaping, and the store."""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from scanner import findings as analysis
from scanner.models import Endpoint, EndpointStatus, Policy, ProbeResult, TlsVersion, VerifyAllReport
from scanner.report import html_report, json_report, text
from scanner.store import Store
from tests.documents import assert_valid

POLICY = Policy(
    "10.3.0.0",
    (TlsVersion.TLSV1_2,),
    (),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("TLS_RSA_WITH_AES_128_CBC_SHA",),
)
HOSTILE = '<script>alert("x")</script>'


def report() -> VerifyAllReport:
    endpoints = [
        Endpoint("apns", "APNS", "APNS", "apns.lab.test", 443, ip="127.0.0.1"),
        Endpoint("scep", HOSTILE, "SCEP", "scep.lab.test", 8443, ip="127.0.0.2"),
    ]
    results = [
        ProbeResult(
            "apns",
            EndpointStatus.OK,
            ip="127.0.0.1",
            tls_versions=(TlsVersion.TLSV1_2,),
            accepted_tls12=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
            server_preference=None,
            negotiated="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            connections=9,
        ),
        ProbeResult(
            "scep",
            EndpointStatus.NO_COMMON_SUITE,
            reason=HOSTILE,
            ip="127.0.0.2",
            tls_versions=(TlsVersion.TLSV1_2,),
            accepted_tls12=("TLS_RSA_WITH_AES_128_CBC_SHA",),
            connections=8,
            notes=(HOSTILE,),
        ),
    ]
    return analysis.verify_all_report(endpoints, results, POLICY, datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


def test_json_contract() -> None:
    doc = json.loads(json_report.render(report()))
    assert doc["schema"] == "tlsverify/verify-all/1"
    assert doc["generated_at"] == "2026-11-26T12:00:00+00:00"
    assert doc["policy"] == {
        "release": "10.3.0.0",
        "protocols": ["TLSv1.2"],
        "protocols_disabled": [],
        "selected": list(POLICY.selected),
        "disabled": list(POLICY.disabled),
        "client": "jsse-17",
    }
    scep = doc["endpoints"][1]
    for key in (
        "id",
        "host",
        "port",
        "ip",
        "status",
        "reason",
        "tls_versions",
        "accepted_tls12",
        "server_preference",
        "negotiated",
        "required_disabled",
        "connections",
    ):
        assert key in scep
    assert scep["status"] == "no_common_suite"
    assert scep["required_disabled"] == ["TLS_RSA_WITH_AES_128_CBC_SHA"]
    suite = next(s for s in doc["suites"] if s["name"] == "TLS_RSA_WITH_AES_128_CBC_SHA")
    assert suite == {
        "name": "TLS_RSA_WITH_AES_128_CBC_SHA",
        "code": "0x002F",
        "jsse_name": "TLS_RSA_WITH_AES_128_CBC_SHA",
        "list": "disabled",
        "position": 1,
        "strength": "weak",
        "negotiated_by": [],
        "required_by": ["scep"],
        "last_seen": {"scep": "2026-11-26T12:00:00+00:00"},
        "legacy": False,
    }
    assert doc["usage_period"] is None and doc["drift"] is None  # made without a store: no period, no comparison
    assert doc["tool"] is None  # made without the pipeline, which says which versions probed
    assert doc["suite_codes"]["TLS_RSA_WITH_AES_128_CBC_SHA"] == "0x002F"
    assert_valid(doc, "verify-all")


def test_html_lists_asterisks_and_hover() -> None:
    page = html_report.render(report())
    assert (
        "1 endpoints have negotiated this cipher since 2026-11-26 12:00 UTC · Endpoints: apns.lab.test/127.0.0.1:443"
        in page
    )
    assert "1 endpoints needed (and failed without) this cipher since" in page
    assert "scep.lab.test/127.0.0.2:8443" in page
    assert 'id="disabled"' in page and 'id="selected"' in page
    assert "<link" not in page and re.search(r'(src|href)="(?!#)', page) is None  # self-contained


def test_html_leads_with_the_fewest_moves_then_the_failing_endpoints_then_the_lists() -> None:
    page = html_report.render(report())
    order = ["moves", "failing", "lists", "required", "unused", "no-tls12", "expiring", "changes", "endpoints", "grid"]
    assert [page.index(f'<section id="{s}"') for s in order] == sorted(page.index(f'<section id="{s}"') for s in order)
    moves = page[page.index('<section id="moves"') : page.index('<section id="failing"')]
    assert "Move this suite to Selected</strong>" in moves and "reconnects scep" in moves
    assert 'data-suite="TLS_RSA_WITH_AES_128_CBC_SHA"' in moves and "out of Disabled" in moves
    assert "Disabled suites required" not in page


def test_html_says_when_there_is_nothing_to_move() -> None:
    fine = report()
    fine = replace(fine, findings=fine.findings[:1])
    page = html_report.render(fine)
    moves = page[page.index('<section id="moves"') : page.index('<section id="failing"')]
    assert "Every endpoint connects; nothing to move." in moves and "Move " not in moves


def test_html_escapes_everything_from_outside() -> None:
    page = html_report.render(report())
    assert HOSTILE not in page
    assert "&lt;script&gt;" in page


def test_text_summary() -> None:
    summary = text.summary(report())
    assert "needs Disabled: TLS_RSA_WITH_AES_128_CBC_SHA" in summary
    assert "1/2 endpoints connect under the policy" in summary


def test_store_round_trip_and_permissions(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "history.sqlite"
    with Store(db) as store:
        first = store.save(report())
        second = store.save(report())
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    with Store(db) as store:
        latest = store.latest()
        assert latest is not None and latest.id == second > first
        assert latest.report.findings[1].required_disabled == ("TLS_RSA_WITH_AES_128_CBC_SHA",)
        assert store.endpoint_history("apns") == [
            (first, "ok", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            (second, "ok", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        ]
        assert len(store.runs()) == 2


def test_store_rejects_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    import pytest

    from scanner.store import StoreError

    bad = tmp_path / "not.sqlite"
    bad.write_text("hello, I am text, not SQLite" * 100)
    with pytest.raises(StoreError, match="cannot use as a tlsverify database"):
        Store(bad)


def test_html_spells_suites_as_the_policy_file_does_with_the_other_name_beside() -> None:
    triple = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"  # Java: SSL_RSA_WITH_3DES_EDE_CBC_SHA
    java_file = replace(POLICY, disabled=(*POLICY.disabled, triple))
    iana_file = replace(java_file, spellings=((triple, triple),))  # the file wrote the IANA name
    for policy, own, other in ((java_file, "SSL_", "IANA TLS_"), (iana_file, "TLS_", "Java SSL_")):
        page = html_report.render(
            replace(report(), policy=policy, suites=analysis.suite_usage(policy, report().findings))
        )
        shown = page[page.index('<li class="" data-suite="TLS_RSA_WITH_3DES_EDE_CBC_SHA">') :]
        shown = shown[: shown.index("</li>")]
        own_at = shown.index(f'<span class="sn">{own}<wbr>RSA_<wbr>WITH_<wbr>3DES_<wbr>EDE_<wbr>CBC_<wbr>SHA</span>')
        assert own_at < shown.index(f'<small class="alt">{other.split()[0]} <span class="sn">{other.split()[1]}<wbr>')


def test_an_interrupted_run_claims_nothing_of_endpoints_never_probed() -> None:
    from dataclasses import replace

    page = html_report.render(replace(report(), findings=(), complete=False))
    assert "no endpoint finished, so nothing is known" in page
    assert "Every endpoint connects" not in page and "All 0 endpoints" not in page
    page = html_report.render(replace(report(), findings=report().findings[:1], complete=False))
    assert "nothing to move among the 1 endpoint that finished" in page


def test_the_page_counts_in_the_right_number() -> None:
    from dataclasses import replace

    page = html_report.render(report())
    assert "1 of 2 endpoints fails under the policy" in page
    one = html_report.render(replace(report(), findings=report().findings[:1]))
    assert "The 1 endpoint connects under the policy" in one and "1 endpoints" not in one.split("<main")[0]
