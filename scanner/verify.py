"""The pipelines behind the commands, callable from Python (and a scheduler) without a command line:
check the policy, probe, cross-reference, store, write the reports; and write a stored run's reports again.

Nothing here prints or exits: callers get values back, and hooks (`progress`, `on_wait`) for what they
want to show while a run goes on.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from scanner import drift, findings, versions
from scanner import policy as policy_rules
from scanner.config import check_policy_file, load_releases
from scanner.files import check_writable, write_atomically, write_together
from scanner.models import (
    ConfigError,
    Drift,
    Endpoint,
    HistoryPoint,
    Policy,
    ProbeResult,
    Problem,
    Severity,
    UsagePeriod,
    VerifyAllReport,
)
from scanner.policy import Releases
from scanner.probe.contract import Prober
from scanner.report import html_report, json_report
from scanner.scan import CONCURRENCY, RATE_PER_SERVER, ScanSettings, every_address, scan
from scanner.store import Store, StoredRun, run_lock


class UsageError(Exception):
    """A request that cannot be carried out as asked (an unknown endpoint id, a run that is not stored,
    a directory that cannot be made); the command line prints it and exits 2."""


@dataclass(frozen=True)
class ProbeSettings:
    """How hard and how long to probe: what the scan options of the command line set."""

    concurrency: int = CONCURRENCY
    rate: float | None = None
    rate_per_server: float = RATE_PER_SERVER
    timeout_s: float = 5.0
    deadline_s: float = 120.0
    exhaustive: bool = False
    expiry_warning_days: int = findings.EXPIRY_WARNING_DAYS
    all_addresses: bool = False
    period_days: int = 7
    """Length of a usage collection period (the vendor's weekly clearing of the asterisks)."""

    @property
    def scan(self) -> ScanSettings:
        return ScanSettings(self.concurrency, self.rate, self.rate_per_server, self.deadline_s)


@dataclass(frozen=True)
class Outputs:
    """Where a run's reports and its history go."""

    out: Path = Path("reports")
    db: Path | None = None

    @property
    def database(self) -> Path:
        return self.db or self.out / "tlsverify.sqlite"

    @property
    def html(self) -> Path:
        return self.out / "verify-all.html"

    @property
    def json(self) -> Path:
        return self.out / "verify-all.json"


@dataclass(frozen=True)
class CheckedPolicy:
    """A policy that passed `policy check`, its warnings, the suites its release no longer ships, and the
    suites it ships (None where the release is not known)."""

    policy: Policy
    legacy: frozenset[str]
    warnings: tuple[Problem, ...] = ()
    shipped: frozenset[str] | None = None


def check_policy(path: Path, releases: Releases) -> CheckedPolicy:
    """The policy in `path`, checked: ConfigError with every error, or the policy with its warnings."""
    doc, found = check_policy_file(path, releases)
    errors = [p for p in found if p.severity is Severity.ERROR]
    if errors:
        raise ConfigError(errors)
    policy = policy_rules.build(doc, releases)
    legacy = frozenset(n for n in (*policy.selected, *policy.disabled) if releases.is_legacy(n, policy.release))
    return CheckedPolicy(policy, legacy, tuple(found), _shipped(releases, policy.release))


def _shipped(releases: Releases, name: str) -> frozenset[str] | None:
    release = releases.get(name)
    return frozenset(release.available) if release else None


def select_endpoints(endpoints: Sequence[Endpoint], only: Sequence[str], path: Path) -> list[Endpoint]:
    """The enabled endpoints, or exactly those named in `only` (enabled or not)."""
    if not only:
        enabled = [e for e in endpoints if e.enabled]
        if not enabled:
            raise UsageError(f"{path}: every endpoint has 'enabled: false'; enable one, or name one with --only")
        return enabled
    ids = {e.id for e in endpoints}
    for wanted in only:
        if wanted not in ids:
            close = difflib.get_close_matches(wanted, sorted(ids), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; ids in the file: {', '.join(sorted(ids))}"
            raise UsageError(f"--only {wanted}: no endpoint with that id in {path}{hint}")
    return [e for e in endpoints if e.id in only]


class Progress(Protocol):
    """What a run shows while it goes on: called from the scan's threads."""

    def started(self, total: int) -> None:
        """The probing starts: `total` endpoints (each address of a name, with --all-addresses)."""

    def connected(self, endpoint_id: str) -> None:
        """An endpoint's probe opened a connection (from the worker thread probing it)."""

    def finished(self, result: ProbeResult, done: int, total: int) -> None:
        """An endpoint finished: its result, how many are done, how many there are."""


def probe_all(
    endpoints: Sequence[Endpoint],
    policy: Policy,
    prober: Prober,
    settings: ProbeSettings,
    progress: Progress | None = None,
) -> tuple[list[ProbeResult], bool]:
    """Probe every endpoint; Ctrl-C keeps what finished. Returns the results and whether all finished."""
    done: list[ProbeResult] = []

    def finished(result: ProbeResult) -> None:
        done.append(result)
        if progress is not None:
            progress.finished(result, len(done), len(endpoints))

    connected = None
    if progress is not None:
        progress.started(len(endpoints))
        connected = progress.connected
    try:
        return asyncio.run(scan(list(endpoints), policy, prober, settings.scan, finished, connected)), True
    except KeyboardInterrupt:
        return list(done), False


@dataclass(frozen=True)
class VerifyAllRun:
    """What a Verify All run produced: the report (with its run id), where it went, and whether a Ctrl-C
    cut the probing short or came while the run was written (held until it was committed)."""

    report: VerifyAllReport
    outputs: Outputs
    interrupted: bool


def verify_all(
    endpoints: Sequence[Endpoint],
    checked: CheckedPolicy,
    prober: Prober,
    settings: ProbeSettings,
    outputs: Outputs,
    progress: Progress | None = None,
    on_wait: Callable[[], None] | None = None,
    partial: bool = False,
    source: Path | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> VerifyAllRun:
    """Probe, cross-reference with the policy, store the run and write its reports, under the database's
    run lock (so a run that waited for this one cannot have its reports overwritten by ours)."""
    policy = checked.policy
    if settings.all_addresses:
        endpoints = every_address(endpoints)
    check_credentials(endpoints)
    check_outputs(outputs.out, [outputs.html.name, outputs.json.name])
    with run_lock(outputs.database, on_wait), Store(outputs.database) as store:  # a bad db fails before traffic
        results, complete = probe_all(endpoints, policy, prober, settings, progress)
        now = clock().replace(microsecond=0)
        report = findings.verify_all_report(
            list(endpoints),
            results,
            policy,
            now,
            complete=complete,
            legacy=checked.legacy,
            expiry_days=settings.expiry_warning_days,
        )
        applied = store.current_policy()
        if applied is not None and applied.policy == policy:
            report = replace(report, period_start=applied.applied_at)
        report = replace(
            report, partial=partial, source=str(source.resolve()) if source else None, tool=versions.current()
        )
        report = _with_history(store, report, now, settings.period_days)
        report = replace(report, run_id=store.save(report))
        write_verify_all_reports(report, outputs, store.history(up_to=report.run_id), checked.shipped)
        return VerifyAllRun(report, outputs, interrupted=not complete or store.interrupted)


def _with_history(store: Store, report: VerifyAllReport, now: datetime, period_days: int) -> VerifyAllReport:
    """The run read against the ones before it: its suites' usage over the collection period, and what
    changed since the previous complete run over the same endpoints file."""
    anchor = store.usage_anchor()
    if anchor is None:  # the first period starts at the first run; kept, so pruning old runs does not move it
        anchor = store.first_run_at() or now
        store.reset_usage(anchor)
    start = drift.period_start(anchor, None, now, period_days)
    earlier, runs = store.usage_since(start, report.policy)
    usage = drift.aggregate(findings.own_usage(report.findings), earlier, now)
    report = findings.over_period(report, usage, UsagePeriod(start, runs + 1))
    baseline = store.baseline(report.source)
    changes = drift.compare(baseline[0], report, baseline[1]) if baseline else Drift(None)
    return replace(report, drift=changes)


def write_verify_all_reports(
    report: VerifyAllReport,
    outputs: Outputs,
    history: Sequence[HistoryPoint] = (),
    shipped: Collection[str] | None = None,
) -> None:
    """verify-all.html and verify-all.json, both or neither (never a new one beside an old one); `history`
    (the runs up to this one) draws the report's picture of recent runs; `shipped` (the suites the policy's
    release ships) keeps suites the admin cannot select out of the HTML report's fewest moves."""
    html = html_report.render(report, history, shipped)
    write_reports({outputs.html: html, outputs.json: json_report.render(report)})


def write_reports(files: dict[Path, str]) -> None:
    """Reports, all or none, owner-only; UsageError if they cannot be written."""
    try:
        write_together(files)
    except OSError as exc:
        folder = next(iter(files)).parent
        raise UsageError(f"cannot write the reports to {folder}: {exc.strerror or exc}") from None


def check_credentials(endpoints: Sequence[Endpoint]) -> None:
    """Before any traffic: UsageError if a proxy's credentials are named but not in the environment (its
    variable's name only; never a value)."""
    for endpoint in endpoints:
        proxy = endpoint.proxy
        for name in (proxy.username_env, proxy.password_env) if proxy else ():
            if name and os.environ.get(name) is None:
                raise UsageError(
                    f"endpoint {endpoint.id}: the proxy's credentials are named in ${name}, which is not set; "
                    "export it (or remove username_env and password_env); nothing was probed"
                )


def check_outputs(folder: Path, names: list[str]) -> None:
    """Before any traffic: UsageError if the reports could not be written afterwards."""
    problem = check_writable(folder, names)
    if problem is not None:
        raise UsageError(f"{problem}; the reports could not be written, so nothing was probed")


def write_report(path: Path, content: str) -> None:
    """A report, atomically and owner-only; UsageError if its folder cannot be made or written."""
    try:
        write_atomically(path, content)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def rewrite_reports(outputs: Outputs, run_id: int | None = None) -> StoredRun:
    """Write a stored run's reports again (the latest complete one by default), as after a crash between
    the database commit and the reports."""
    with Store(outputs.database, read_only=True) as store:
        stored = store.run(run_id) if run_id is not None else store.latest()
        if stored is None:
            which = f"run {run_id}" if run_id is not None else "complete run"
            raise UsageError(f"{outputs.database}: no {which} stored; see `tlsverify verify-all`")
        history = store.history(up_to=stored.id)
    try:
        shipped = _shipped(load_releases(), stored.report.policy.release)
    except ConfigError:  # a broken $TLSVERIFY_RELEASES: the reports all the same, the release not known
        shipped = None
    write_verify_all_reports(stored.report, outputs, history, shipped)
    return stored
