"""Nightly probes, run after run: drift between runs, the usage collection period behind the asterisks,
`history`, `diff`, `usage reset` and `prune`, on real loopback servers whose configuration changes between
runs, with an injected clock for the calendar."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.config import load_endpoints, load_releases, write_endpoints
from scanner.lab.servers import Lab, ServerSpec, TlsServer
from scanner.models import VerifyAllReport
from scanner.probe.prober import SslyzeProber
from scanner.store import Store
from scanner.verify import Outputs, ProbeSettings, check_policy, verify_all
from tests.conftest import ROOT

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a Monday, 02:00
GCM = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
A256 = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
A128 = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


@dataclass
class Site:
    lab: Lab
    servers: dict[str, TlsServer]
    endpoints: Path
    out: Path

    def run(self, at: datetime, period_days: int = 7) -> VerifyAllReport:
        checked = check_policy(ROOT / "policy.yaml", load_releases())
        prober = SslyzeProber(timeout_s=2, clock=lambda: at)
        settings = ProbeSettings(rate=1000, period_days=period_days)
        loaded = load_endpoints(self.endpoints)
        done = verify_all(loaded, checked, prober, settings, Outputs(self.out), source=self.endpoints, clock=lambda: at)
        return done.report

    def reconfigure(self, name: str, **changes: object) -> None:
        server = self.servers[name]
        server.spec = replace(server.spec, **changes)  # type: ignore[arg-type]
        server.start_context()

    def write(self, names: list[str]) -> None:
        entries: list[dict[str, object]] = [
            {
                "id": n,
                "host": f"{n}.lab.tlsverify.test",
                "ip": "127.0.0.1",
                "port": self.servers[n].port,
                "protocol": "tls",
            }
            for n in names
        ]
        write_endpoints(entries, self.endpoints, "nightly", self.lab.certificates.ca_bundle())


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with Lab() as lab:
        servers = {
            "steady": lab.start(ServerSpec("steady", GCM)),
            "moving": lab.start(ServerSpec("moving", GCM)),
            "ordered": lab.start(ServerSpec("ordered", f"{GCM}:AES128-SHA")),
        }
        found = Site(lab, servers, tmp_path / "endpoints.yaml", tmp_path / "out")
        found.write(list(servers))
        yield found


def kinds(report: VerifyAllReport) -> dict[str, list[str]]:
    assert report.drift is not None
    changed: dict[str, list[str]] = {}
    for change in report.drift.changes:
        changed.setdefault(change.endpoint_id, []).append(change.kind.value)
    return changed


def users(report: VerifyAllReport, suite: str) -> dict[str, datetime]:
    usage = next(s for s in report.suites if s.name == suite)
    assert set(usage.negotiated_by) == {e for e, _ in usage.last_seen if e in usage.negotiated_by}
    return {e: at for e, at in usage.last_seen if e in usage.negotiated_by}


def test_drift_lists_exactly_what_changed(site: Site) -> None:
    first = site.run(T0)
    assert first.drift is not None and first.drift.previous_run is None and first.drift.changes == ()
    assert site.run(T0 + timedelta(hours=1)).drift.changes == ()  # type: ignore[union-attr]  # a quiet night
    site.reconfigure("moving", ciphers="ECDHE-RSA-AES128-GCM-SHA256")  # AES-256 gone: removed and renegotiated
    prefers = "AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"
    site.reconfigure("ordered", server_preference=True, ciphers=prefers)  # now imposes its order: AES-128 first
    third = site.run(T0 + timedelta(days=1))
    assert third.drift is not None and third.drift.previous_run == 2
    assert kinds(third) == {
        "moving": ["suites_removed", "negotiated"],
        "ordered": ["server_order", "negotiated"],
    }
    moving = [c for c in third.drift.changes if c.endpoint_id == "moving"]
    assert (moving[0].before, moving[0].after) == ([A256], None)
    assert (moving[1].before, moving[1].after) == (A256, A128)
    site.reconfigure("moving", ciphers="AES128-SHA")  # nothing the policy selects: the status changes
    site.write(["moving", "ordered"])  # steady is no longer in the file
    fourth = site.run(T0 + timedelta(days=2))
    assert fourth.drift is not None
    assert kinds(fourth)["moving"][0] == "status"
    assert kinds(fourth)["steady"] == ["endpoint_removed"]
    assert "ordered" not in kinds(fourth)
    doc = json.loads((site.out / "verify-all.json").read_text())
    assert doc["drift"]["previous_run"] == 3
    assert {"endpoint": "steady", "kind": "endpoint_removed", "before": "ok", "after": None} in doc["drift"]["changes"]
    page = (site.out / "verify-all.html").read_text()
    assert page.count("<svg") == 1 and page.count("<circle") == 2  # runs 3 and 4 changed something
    assert "endpoint removed" in page and "Compared with run 3." in page


def test_an_only_run_and_an_interrupted_one_remove_nothing(site: Site) -> None:
    site.run(T0)
    checked = check_policy(ROOT / "policy.yaml", load_releases())
    only = [e for e in load_endpoints(site.endpoints) if e.id == "moving"]
    report = verify_all(
        only,
        checked,
        SslyzeProber(timeout_s=2),
        ProbeSettings(rate=1000),
        Outputs(site.out),
        partial=True,
        source=site.endpoints,
        clock=lambda: T0 + timedelta(hours=1),
    ).report
    assert report.drift is not None and report.drift.changes == ()  # steady and ordered were not probed


def test_the_period_aggregates_usage_restarts_at_apply_and_rolls_over(site: Site) -> None:
    site.run(T0)  # moving negotiates AES-256
    site.reconfigure("moving", ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    second = site.run(T0 + timedelta(days=1))  # ... and AES-128 now: both carry its asterisk this period
    assert second.usage_period is not None and second.usage_period.runs == 2 and second.usage_period.since == T0
    assert users(second, A256)["moving"] == T0
    assert users(second, A128)["moving"] == T0 + timedelta(days=1)
    assert A128 not in second.unused_selected and A256 not in second.unused_selected
    doc = json.loads((site.out / "verify-all.json").read_text())
    assert doc["usage_period"] == {"since": T0.isoformat(), "runs": 2}
    suite = next(s for s in doc["suites"] if s["name"] == A256)
    assert suite["negotiated_by"] == ["moving", "ordered", "steady"]
    assert suite["last_seen"]["moving"] == T0.isoformat()
    assert (
        f"3 endpoints have negotiated this cipher since {T0:%Y-%m-%d %H:%M} UTC"
        in (site.out / "verify-all.html").read_text()
    )
    # policy apply starts a new period at once: AES-256's asterisk for moving is gone
    applied = T0 + timedelta(days=2)
    with Store(site.out / "tlsverify.sqlite") as store:
        store.apply_policy(second.policy, "policy.yaml", applied)
    third = site.run(applied + timedelta(hours=1))
    assert third.usage_period is not None and (third.usage_period.since, third.usage_period.runs) == (applied, 1)
    assert "moving" not in users(third, A256) and "moving" in users(third, A128)
    # seven days after the apply the period ends, and the next begins, though nothing was applied
    fourth = site.run(applied + timedelta(days=8))
    assert fourth.usage_period is not None
    assert (fourth.usage_period.since, fourth.usage_period.runs) == (applied + timedelta(days=7), 1)
    with Store(site.out / "tlsverify.sqlite") as store:
        assert len(store.runs(limit=10)) == 4  # nothing is deleted when a period ends


def test_history_diff_usage_reset_and_prune_on_the_command_line(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    db = site.out / "tlsverify.sqlite"
    now = datetime.now(UTC).replace(microsecond=0)
    site.run(now - timedelta(days=40))
    site.run(now - timedelta(days=1))
    site.reconfigure("moving", ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    site.run(now - timedelta(minutes=1))
    capsys.readouterr()
    assert main(["history", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "time", "(UTC)", "release", "connect", "fail", "changes"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
    assert [line.split()[-1] for line in lines[1:]] == ["0", "0", "2"]
    assert main(["diff", "1", "3", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "2 changes from run 1" in out and f"moving: negotiated: {A256} -> {A128}" in out
    assert main(["diff", "1", "2", "--db", str(db)]) == 0
    assert main(["diff", "1", "9", "--db", str(db)]) == 2
    assert "no run 9 stored" in capsys.readouterr().err
    assert main(["usage", "reset", "--db", str(db)]) == 0
    after_reset = site.run(datetime.now(UTC) + timedelta(seconds=5))
    assert after_reset.usage_period is not None and after_reset.usage_period.runs == 1
    assert main(["prune", "--older-than", "30", "--db", str(db)]) == 0
    assert "Deleted 1 run older than 30 days" in capsys.readouterr().out
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in raw.execute("SELECT id FROM runs ORDER BY id")] == [2, 3, 4]
        assert raw.execute("SELECT COUNT(*) FROM endpoint_results WHERE run_id = 1").fetchone()[0] == 0


def test_read_only_commands_create_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none" / "tlsverify.sqlite"
    for command in (["history"], ["diff", "1", "2"], ["usage", "reset"], ["prune", "--older-than", "1"]):
        assert main([*command, "--db", str(missing)]) == 2
    assert "no database there" in capsys.readouterr().err
    assert not missing.parent.exists()


# --- round two: what a review found ---------------------------------------------------------------------------


def test_a_change_behind_an_only_run_is_still_reported(site: Site) -> None:
    site.run(T0)
    checked = check_policy(ROOT / "policy.yaml", load_releases())
    only = [e for e in load_endpoints(site.endpoints) if e.id == "steady"]
    verify_all(
        only,
        checked,
        SslyzeProber(timeout_s=2),
        ProbeSettings(rate=1000),
        Outputs(site.out),
        partial=True,
        source=site.endpoints,
        clock=lambda: T0 + timedelta(hours=1),
    )
    site.reconfigure("moving", ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    third = site.run(T0 + timedelta(hours=2))
    assert third.drift is not None and third.drift.previous_run == 2  # run 1 for the others, run 2 for steady
    assert kinds(third) == {"moving": ["suites_removed", "negotiated"]}


def test_the_first_run_after_an_upgrade_is_compared_with_the_runs_before_it(site: Site) -> None:
    site.run(T0)
    with sqlite3.connect(site.out / "tlsverify.sqlite") as raw:  # as schema 2 stored it: no endpoints file
        raw.execute("UPDATE runs SET source = NULL")
    second = site.run(T0 + timedelta(hours=1))
    assert second.drift is not None and second.drift.previous_run == 1 and second.drift.changes == ()


def test_pruning_old_runs_does_not_move_the_period(site: Site) -> None:
    site.run(T0)
    site.run(T0 + timedelta(days=8, hours=3))  # the second period, which began at T0 + 7 days
    with Store(site.out / "tlsverify.sqlite") as store:
        assert store.prune(T0 + timedelta(days=1)) == 1  # the first run is gone
    third = site.run(T0 + timedelta(days=15))  # the third period, from T0 + 14 days
    assert third.usage_period is not None
    assert (third.usage_period.since, third.usage_period.runs) == (T0 + timedelta(days=14), 1)


def test_a_policy_change_is_said_to_be_one(site: Site, tmp_path: Path) -> None:
    site.run(T0)
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(f'release: "12.0.0.0"\ncipher_suites:\n  selected: [{A128}, {A256}]\n')
    checked = check_policy(proposed, load_releases())
    report = verify_all(
        load_endpoints(site.endpoints),
        checked,
        SslyzeProber(timeout_s=2),
        ProbeSettings(rate=1000),
        Outputs(site.out),
        source=site.endpoints,
        clock=lambda: T0 + timedelta(hours=1),
    ).report
    assert report.drift is not None and report.drift.policy_changed
    assert {c.kind.value for c in report.drift.changes} == {"negotiated"}  # the client's doing, and said so
    from scanner.report import text

    assert "The policy changed since run 1" in text.summary(report)


def test_all_addresses_on_or_off_adds_and_removes_nothing(site: Site) -> None:
    from scanner import drift

    plain = site.run(T0)
    moving = next(f for f in plain.findings if f.endpoint.id == "moving")
    expanded = [
        replace(moving, endpoint=replace(moving.endpoint, id=f"moving@{ip}", ip=ip, address_of="moving"))
        for ip in ("127.0.0.1", "::1")
    ]
    others = [f for f in plain.findings if f.endpoint.id != "moving"]
    split = replace(plain, findings=tuple([*others, *expanded]))
    assert drift.compare(plain, split, 1).changes == ()
    assert drift.compare(split, plain, 1).changes == ()
    churned = replace(
        split,
        findings=tuple(
            [
                *others,
                expanded[0],
                replace(expanded[1], endpoint=replace(expanded[1].endpoint, id="moving@127.0.0.2", ip="127.0.0.2")),
            ]
        ),
    )
    assert drift.compare(split, churned, 1).changes == ()  # an address a name no longer has is no endpoint gone


def test_an_anchor_in_the_future_starts_the_period_now() -> None:
    from scanner import drift

    assert drift.period_start(T0 + timedelta(days=3), None, T0, 7) == T0
    assert drift.period_start(T0, None, T0 + timedelta(days=15), 7) == T0 + timedelta(days=14)


def test_one_failing_endpoint_among_a_thousand_shows_in_the_picture() -> None:
    from scanner.models import HistoryPoint
    from scanner.report.html_report import _history_chart

    chart = _history_chart([HistoryPoint(1, T0, "12.0.0.0", 999, 1, 0, True, False)])
    assert chart is not None and chart["bars"][0]["failing_h"] >= 2


def test_history_reads_a_schema_2_database_without_upgrading_it(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.run(T0)
    db = site.out / "tlsverify.sqlite"
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA user_version = 2")
    assert main(["history", "--db", str(db)]) == 0
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 2  # an older tlsverify can go on using it
