"""Pre-change impact and the advisor: predictions from a stored scan, checked against real handshakes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.clients import negotiate
from scanner.config import load_policy, load_releases, write_endpoints
from scanner.document import scanned as scan_from_report
from scanner.impact import ImpactStatus, advise, endpoint_impact, working_today
from scanner.lab import slapd
from scanner.lab.demo import DEMO_SERVERS, start_lab
from scanner.lab.servers import Lab, ServerSpec
from scanner.models import EndpointStatus, Policy, ProbeResult, TlsVersion
from scanner.store import Store
from tests.conftest import ROOT, endpoint

RELEASES = load_releases()
A, B, C = (
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
)


def policy(selected: tuple[str, ...], disabled: tuple[str, ...] = ()) -> Policy:
    return Policy("12.0.0.0", (TlsVersion.TLSV1_2,), (), selected, disabled)


# --- pure predictions ------------------------------------------------------------------------------


def test_negotiate_follows_whose_order_counts() -> None:
    assert negotiate(policy((B, A)), (A, B), server_preference=False) == B  # the client's first choice
    assert negotiate(policy((B, A)), (A, B), server_preference=True) == A  # the server's first choice
    assert negotiate(policy((C,)), (A, B), server_preference=None) is None


def test_a_suite_the_client_does_not_implement_is_never_negotiated() -> None:
    aria = "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"  # OpenSSL has it; SunJSSE does not
    assert negotiate(policy((aria, B)), (aria, B), server_preference=False) == B
    assert negotiate(policy((aria,)), (aria, B), server_preference=True) is None


@pytest.mark.parametrize(
    ("before", "after", "status", "old", "new"),
    [
        ((A, B), (A, B), ImpactStatus.UNCHANGED, A, A),
        ((A, B), (B, A), ImpactStatus.CHANGES, A, B),
        ((A,), (C,), ImpactStatus.BREAKS, A, None),
        ((C,), (A,), ImpactStatus.FIXED, None, A),
    ],
)
def test_statuses(
    before: tuple[str, ...], after: tuple[str, ...], status: ImpactStatus, old: str | None, new: str | None
) -> None:
    probe = ProbeResult("x", EndpointStatus.OK, accepted_tls12=(A, B), server_preference=False)
    row = endpoint_impact(endpoint("x", 1), probe, policy(before), policy(after, disabled=(B,)), RELEASES)
    assert (row.status, row.before, row.after) == (status, old, new)
    if status is ImpactStatus.BREAKS:
        assert [(r.suite, r.where) for r in row.rescue] == [(A, "not listed"), (B, "disabled")]


def test_unknown_says_why() -> None:
    probe = ProbeResult("x", EndpointStatus.UNREACHABLE, reason="connection refused")
    row = endpoint_impact(endpoint("x", 1), probe, policy((A,)), policy((B,)), RELEASES)
    assert row.status is ImpactStatus.UNKNOWN and "unreachable" in row.reason and "refused" in row.reason
    missing = endpoint_impact(endpoint("y", 1), None, policy((A,)), policy((B,)), RELEASES)
    assert missing.status is ImpactStatus.UNKNOWN and "--rescan" in missing.reason


def test_rescue_names_suites_the_release_lacks() -> None:
    probe = ProbeResult("x", EndpointStatus.OK, accepted_tls12=("TLS_RSA_WITH_3DES_EDE_CBC_SHA",))
    before = Policy("9.0", (TlsVersion.TLSV1_2,), (), ("TLS_RSA_WITH_3DES_EDE_CBC_SHA",), ())
    after = Policy("10.3.0.0", (TlsVersion.TLSV1_2,), (), (A,), ())
    row = endpoint_impact(endpoint("x", 1), probe, before, after, RELEASES)
    assert row.status is ImpactStatus.BREAKS
    assert [(r.suite, r.where) for r in row.rescue] == [("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "not in release 10.3.0.0")]


# --- against the real demo lab ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_endpoints(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("impact") / "endpoints.yaml"
    servers = tuple(s for s in DEMO_SERVERS if s.gnutls_priority is None)  # gnutls cases live in test_gnutls
    write_endpoints(start_lab(lab, servers), path, "impact lab")
    return path


def run(tmp_path: Path, endpoints: Path, current: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    out = tmp_path / "out"
    common = ["--endpoints", str(endpoints), "--policy", str(current), "--out", str(out), "--no-progress"]
    code = main([*args, *common])
    doc = json.loads((out / "impact.json").read_text()) if (out / "impact.json").exists() else {}
    return code, doc


def upgraded_from_9(tmp_path: Path) -> Path:
    """The seed's case: a 9.0 policy carried to 10.3.0.0 by upgrades keeps the TLS_RSA_* suites Selected."""
    nine, current = tmp_path / "nine.yaml", tmp_path / "current.yaml"
    assert main(["policy", "reset-to-default", "--release", "9.0", "--output", str(nine)]) == 0
    assert main(["policy", "upgrade", str(nine), "--to", "10.3.0.0", "--output", str(current)]) == 0
    return current


def test_reset_to_default_breaks_the_server_that_needs_a_tls_rsa_suite(tmp_path: Path, lab_endpoints: Path) -> None:
    current = upgraded_from_9(tmp_path)
    assert "TLS_RSA_WITH_AES_256_GCM_SHA384" in load_policy(current).selected
    run(tmp_path, lab_endpoints, current, "verify-all")  # today: scep works through a TLS_RSA_* suite
    code, doc = run(tmp_path, lab_endpoints, current, "impact", "--reset-to-default", "--verify")
    assert code == 1  # something breaks
    rows = {e["id"]: e for e in doc["endpoints"]}
    scep = rows["scep"]
    assert scep["status"] == "breaks" and scep["before"] == "TLS_RSA_WITH_AES_256_GCM_SHA384" and scep["after"] is None
    rescue = {
        "suite": "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "code": "0x009D",
        "jsse_name": "TLS_RSA_WITH_AES_256_GCM_SHA384",
    }
    assert scep["rescue"][0] == {**rescue, "list": "disabled"}
    assert scep["verified"] is True and scep["verify_note"] is None  # the real handshake fails too
    assert rows["sentry"]["status"] == "unknown"
    assert all(e["verified"] is not False for e in doc["endpoints"])  # no prediction contradicted
    assert doc["schema"] == "tlsverify/impact/1"
    page = (tmp_path / "out" / "impact.html").read_text()
    assert '<tr id="ep-scep" data-tags="breaks fails-after">' in page
    shown = (
        'TLS_<wbr>RSA_<wbr>WITH_<wbr>AES_<wbr>256_<wbr>GCM_<wbr>SHA384</span></span> <span class="origin">(disabled)'
    )
    assert shown in page  # the rescue suite, with where it is
    assert "confirmed" in page and re.search(r'(src|href)="(?!#)', page) is None  # self-contained
    assert page.index('id="moves"') < page.index('id="failing"') < page.index('id="endpoints"')
    reset = load_releases().get("10.3.0.0")
    assert reset is not None and doc["after"]["selected"] == list(reset.default_selected)


@pytest.mark.parametrize(
    "proposed",
    [
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),  # reordered
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"),  # fixes smtps and scep
        ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",),  # breaks every RSA server
    ],
)
def test_every_prediction_matches_a_real_handshake(
    tmp_path: Path, lab_endpoints: Path, proposed: tuple[str, ...]
) -> None:
    current = ROOT / "policy.yaml"
    run(tmp_path, lab_endpoints, current, "verify-all")
    proposal = tmp_path / "proposed.yaml"
    proposal.write_text('release: "12.0.0.0"\ncipher_suites:\n  selected: [' + ", ".join(proposed) + "]\n")
    code, doc = run(tmp_path, lab_endpoints, current, "impact", "--proposed", str(proposal), "--verify")
    checked = [e for e in doc["endpoints"] if e["status"] != "unknown"]
    # all but the closed port (ldaps, without TLS 1.2, fails both ways); ldap runs where slapd is installed
    assert len(checked) == 7 + (slapd.unavailable_reason() is None)
    for row in checked:
        assert row["verified"] is True, row
        assert row["verified_suite"] == row["after"]
    statuses = {e["id"]: e["status"] for e in doc["endpoints"]}
    if proposed[0].endswith("AES_128_GCM_SHA256") and len(proposed) == 2:
        # client order: apns and gateway follow the new first choice; apple-dep imposes its own order
        assert statuses["gateway"] == "changes" and statuses["apple-dep"] == "unchanged"
    if "TLS_RSA_WITH_AES_128_CBC_SHA" in proposed:
        assert statuses["scep"] == "fixed" and statuses["smtps"] == "fixed"
    assert code == (1 if "breaks" in statuses.values() else 0)


def test_the_advisors_policy_breaks_nothing_it_promised(
    tmp_path: Path, lab_endpoints: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = upgraded_from_9(tmp_path)
    run(tmp_path, lab_endpoints, current, "verify-all")
    advice = tmp_path / "advice.yaml"
    db = str(tmp_path / "out" / "tlsverify.sqlite")
    assert main(["policy", "advise", "--policy", str(current), "--db", db, "--output", str(advice)]) == 0
    err = capsys.readouterr().err
    assert "TLS_RSA_WITH_AES_256_GCM_SHA384 (no forward secrecy): kept for scep\n" in err  # scep's strongest suite
    assert "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA (no AEAD): kept for smtps\n" in err  # smtps' strongest
    assert main(["policy", "check", str(advice)]) == 0  # ready for policy check
    advised = load_policy(advice)
    assert "TLS_RSA_WITH_AES_256_GCM_SHA384" in advised.selected
    assert len(advised.selected) < len(load_policy(current).selected)
    code, doc = run(tmp_path, lab_endpoints, current, "impact", "--proposed", str(advice), "--verify")
    with Store(Path(db)) as store:
        latest = store.latest()
    assert latest is not None
    promised = set(working_today(scan_from_report(latest.report), load_policy(current)))
    assert promised - {"ldap"} == {"apns", "apple-dep", "gateway", "scep", "smtps", "smtp"}
    assert advised.selected == (  # each endpoint's strongest tier, fewest suites, strongest first
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",  # apns, apple-dep, gateway
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",  # smtps
        "TLS_RSA_WITH_AES_256_GCM_SHA384",  # scep
    )
    rows = {e["id"]: e for e in doc["endpoints"]}
    assert all(rows[i]["status"] != "breaks" and rows[i]["after"] for i in promised)
    assert all(e["verified"] is not False for e in doc["endpoints"])
    assert code == 0
    # Giving up scep buys dropping its weak TLS_RSA_* suite.
    assert main(["policy", "advise", "--policy", str(current), "--db", db, "--drop", "scep"]) == 0
    out, err = capsys.readouterr()
    assert "Giving up scep lets you disable: TLS_RSA_WITH_AES_256_GCM_SHA384 (no forward secrecy)" in err
    selected_part = out.split("cipher_suites:")[1].split("disabled:")[0]
    assert (
        "TLS_RSA_WITH_AES_256_GCM_SHA384" not in selected_part
        and "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in selected_part
    )


def test_impact_needs_a_stored_scan(tmp_path: Path, lab_endpoints: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(tmp_path, lab_endpoints, ROOT / "policy.yaml", "impact", "--reset-to-default")
    assert code == 2
    assert "no complete Verify All run stored" in capsys.readouterr().err


# --- the advisor, pure -------------------------------------------------------------------------------

GCM = (
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
)


def scanned(*accepts: tuple[tuple[str, ...], bool]) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (
            endpoint(f"e{i}", 1),
            ProbeResult(f"e{i}", EndpointStatus.OK, accepted_tls12=acc, server_preference=pref, negotiated=acc[0]),
        )
        for i, (acc, pref) in enumerate(accepts)
    ]


def test_advisor_finds_the_smallest_cover() -> None:
    a, b, c = GCM
    scan = scanned(((a, c), False), ((a, c), False), ((a,), False), ((b, c), False), ((b, c), False), ((b,), False))
    current = policy(GCM)
    assert set(advise(scan, current, RELEASES).policy.selected) == {a, b}  # a greedy cover would take three


def test_advisor_reports_a_server_that_takes_a_weaker_suite_and_drops_idle_ones() -> None:
    strong, weak = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA"
    scan = scanned(((weak, strong), True), ((weak,), False))  # e0 prefers the weak suite; e1 has nothing else
    advice = advise(scan, policy((strong, weak)), RELEASES)
    assert advice.policy.selected == (weak,)  # the strong suite would serve nobody: e0 picks the weak one
    assert advice.weaker_by_server_order == (("e0", weak, strong),)


def test_working_today_is_judged_under_the_current_policy() -> None:
    scan = scanned(((GCM[0],), False), (("TLS_RSA_WITH_AES_128_CBC_SHA",), False))
    assert set(working_today(scan, policy((GCM[0],)))) == {"e0"}
    assert set(working_today(scan, policy((GCM[0], "TLS_RSA_WITH_AES_128_CBC_SHA")))) == {"e0", "e1"}


def test_an_endpoint_that_needs_a_legacy_suite_keeps_it() -> None:
    chacha = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"  # not in 10.3.0.0
    current = Policy("10.3.0.0", (TlsVersion.TLSV1_2,), (), (GCM[0], chacha), ())
    advice = advise(scanned(((chacha,), False), ((GCM[0],), False)), current, RELEASES)
    assert set(advice.policy.selected) == {GCM[0], chacha}
    assert advice.legacy == (chacha,)


# --- verification that cannot happen, or that contradicts ----------------------------------------------


def test_verify_reports_a_contradicted_prediction_and_an_unreachable_server(tmp_path: Path) -> None:
    with Lab() as lab:
        changing = lab.start(ServerSpec("changing", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"))
        leaving = lab.start(ServerSpec("leaving", "ECDHE-RSA-AES128-GCM-SHA256"))
        endpoints = tmp_path / "endpoints.yaml"
        write_endpoints(
            [
                {"id": s.name, "host": f"{s.name}.lab.tlsverify.test", "ip": "127.0.0.1", "port": s.port}
                for s in (changing, leaving)
            ],
            endpoints,
            "verify",
        )
        run(tmp_path, endpoints, ROOT / "policy.yaml", "verify-all")
        # After the scan, one server is reconfigured (AES-256 only) and the other goes away.
        changing.spec = ServerSpec("changing", "ECDHE-RSA-AES256-GCM-SHA384")
        changing.start_context()
        leaving.stop()
        code, doc = run(
            tmp_path,
            endpoints,
            ROOT / "policy.yaml",
            "impact",
            "--proposed",
            str(write_policy(tmp_path, ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])),
            "--verify",
        )
    rows = {e["id"]: e for e in doc["endpoints"]}
    assert rows["changing"]["after"] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert rows["changing"]["verified"] is False and rows["changing"]["verified_suite"] is None
    assert rows["leaving"]["verified"] is None and rows["leaving"]["verify_note"].startswith("could not check")
    assert doc["summary"]["mismatches"] == 1
    assert code == 1  # a contradicted prediction fails the gate


def write_policy(tmp_path: Path, selected: list[str]) -> Path:
    path = tmp_path / "proposed.yaml"
    path.write_text('release: "12.0.0.0"\ncipher_suites:\n  selected: [' + ", ".join(selected) + "]\n")
    return path


def test_only_and_rescan(tmp_path: Path, lab_endpoints: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current = ROOT / "policy.yaml"
    code, doc = run(tmp_path, lab_endpoints, current, "impact", "--reset-to-default", "--rescan", "--only", "apns")
    assert code == 0 and [e["id"] for e in doc["endpoints"]] == ["apns"]  # --rescan needs no earlier scan
    assert run(tmp_path, lab_endpoints, current, "impact", "--reset-to-default", "--only", "apsn")[0] == 2
    assert "--only apsn: not in the stored scan" in capsys.readouterr().err
    assert run(tmp_path, lab_endpoints, current, "impact", "--upgrade-to", "12.0.0.0", "--release", "9.0")[0] == 2
