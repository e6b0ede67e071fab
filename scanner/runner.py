"""The Verify All pipeline shared by the commands: check the policy, probe, store, write the reports.

Everything here works from parsed command-line options; `cli` and the other command modules call it.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import os
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from scanner import analysis
from scanner import policy as policy_rules
from scanner.config import ConfigError, check_policy_file, load_releases
from scanner.models import Endpoint, Policy, ProbeResult, Severity
from scanner.probe.contract import Prober
from scanner.probe.prober import SslyzeProber
from scanner.report import html_report, json_report, text
from scanner.scan import ScanSettings, scan
from scanner.store import Store, run_lock

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad options: printed and turned into exit code 2."""


def select_endpoints(endpoints: list[Endpoint], only: list[str], path: Path) -> list[Endpoint]:
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


def checked_policy(args: argparse.Namespace) -> tuple[Policy, frozenset[str]]:
    """The policy to probe with (warnings printed, errors raised) and its legacy suites."""
    releases = load_releases(args.releases)
    doc, found = check_policy_file(args.policy, releases)
    errors = [p for p in found if p.severity is Severity.ERROR]
    if errors:
        raise ConfigError(errors)
    for problem in found:
        print(f"tlsverify: {problem}", file=sys.stderr)
    policy = policy_rules.build(doc, releases)
    legacy = frozenset(n for n in (*policy.selected, *policy.disabled) if releases.is_legacy(n, policy.release))
    return policy, legacy


def probe_all(
    args: argparse.Namespace, endpoints: list[Endpoint], policy: Policy, prober: Prober
) -> tuple[list[ProbeResult], bool]:
    """Probe with the scan options of `args`, a progress bar on a terminal; Ctrl-C keeps what finished.
    Returns the results and whether the run completed."""
    settings = ScanSettings(concurrency=args.concurrency, rate=args.rate, deadline_s=args.deadline)
    show = not args.no_progress and sys.stderr.isatty()
    done: list[ProbeResult] = []

    def progress(result: ProbeResult) -> None:
        done.append(result)
        if show:
            bar = text.progress_bar(len(done), len(endpoints))
            print(f"\r{bar}  {result.endpoint_id[:30]:<30}", end="", file=sys.stderr, flush=True)

    try:
        results = asyncio.run(scan(endpoints, policy, prober, settings, progress))
    except KeyboardInterrupt:
        print(f"\ntlsverify: interrupted; keeping the {len(done)} endpoints that finished", file=sys.stderr)
        return list(done), False
    if show:
        print(file=sys.stderr)
    return results, True


def exit_now(code: int) -> None:
    """Leave at once, abandoning probes still running in worker threads (after Ctrl-C)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def db_path(args: argparse.Namespace) -> Path:
    path: Path = args.db or args.out / "tlsverify.sqlite"
    return path


def run_verify_all(args: argparse.Namespace, endpoints: list[Endpoint], checked: tuple[Policy, frozenset[str]]) -> int:
    policy, legacy = checked

    def waiting() -> None:
        print(f"tlsverify: waiting for another run that uses {db_path(args)}", file=sys.stderr, flush=True)

    with run_lock(db_path(args), waiting), Store(db_path(args)) as store:  # a bad --db fails before any traffic
        prober = SslyzeProber(timeout_s=args.timeout, exhaustive=args.exhaustive)
        results, complete = probe_all(args, endpoints, policy, prober)
        now = datetime.now(UTC).replace(microsecond=0)
        report = analysis.verify_all_report(endpoints, results, policy, now, complete=complete, legacy=legacy)
        applied = store.current_policy()
        if applied is not None and applied.policy == policy:
            report = replace(report, period_start=applied.applied_at)
        report = replace(report, run_id=store.save(report))
        interrupted = not complete or store.interrupted  # a Ctrl-C held during the write leaves after the reports
        # Still under the lock: a run that waited for this one cannot have its reports overwritten by ours.
        html_path, json_path = args.out / "verify-all.html", args.out / "verify-all.json"
        write_report(html_path, html_report.render(report))
        write_report(json_path, json_report.render(report))
    print(text.summary(report))
    print(f"\nReports: {html_path}  {json_path}  (run {report.run_id} stored in {db_path(args)})")
    if interrupted:
        exit_now(EXIT_INTERRUPTED)  # everything that finished is stored
    return analysis.exit_code(report)


def write_report(path: Path, content: str) -> None:
    """Write atomically (temp file, then rename), owner-only: reports may hold internal host names."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report directory {path.parent}: {exc.strerror or exc}") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rebuild_reports(args: argparse.Namespace) -> int:
    """Write verify-all.html and .json again from a stored run (the latest complete one by default), as
    after a crash between the database commit and the reports."""
    with Store(db_path(args)) as store:
        stored = store.run(args.run) if args.run is not None else store.latest()
    if stored is None:
        which = f"run {args.run}" if args.run is not None else "a complete run"
        raise UsageError(f"{db_path(args)}: no {which} stored; see `tlsverify verify-all`")
    report = stored.report
    html_path, json_path = args.out / "verify-all.html", args.out / "verify-all.json"
    write_report(html_path, html_report.render(report))
    write_report(json_path, json_report.render(report))
    print(f"Reports of run {stored.id} ({stored.generated_at}) written again: {html_path}  {json_path}")
    return EXIT_OK
