"""`tlsverify impact` (what breaks before a change) and `tlsverify policy advise` (the strongest policy that
keeps today's working endpoints working), both from the latest stored scan unless told to probe."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scanner import impact
from scanner import policy as rules
from scanner.cli.common import (
    ExitCode,
    SubParsers,
    add_db_option,
    add_output_option,
    add_releases_option,
    database,
    exit_now,
    outputs,
    policy_file,
    policy_file_argument,
    probe_settings,
    progress_line,
    say_interrupted,
)
from scanner.cli.verify import checked_policy, run_verify_all
from scanner.config import load_endpoints, load_policy, load_releases, policy_yaml
from scanner.models import Endpoint, Policy, ProbeResult
from scanner.probe.contract import Gate
from scanner.report import impact_report, policy_text
from scanner.report.text import count
from scanner.store import Store
from scanner.verify import UsageError, check_outputs, probe_all, select_endpoints, write_report, write_reports

if TYPE_CHECKING:
    from scanner.probe.prober import SslyzeProber


def add_impact_command(commands: SubParsers, scan_options: object) -> None:
    text = "what a policy change does to every endpoint, before you make it (exit 1 if anything breaks)"
    parser = commands.add_parser("impact", help=text, description=text)
    change = parser.add_mutually_exclusive_group(required=True)
    change.add_argument("--proposed", type=Path, metavar="FILE", help="a proposed policy file")
    change.add_argument("--reset-to-default", action="store_true", help="the Reset to Default lists")
    change.add_argument(
        "--upgrade", action="store_true", help="what an upgrade to the release --release names does to the policy"
    )
    change.add_argument("--upgrade-to", metavar="RELEASE", help=argparse.SUPPRESS)  # former spelling
    parser.add_argument(
        "--release",
        metavar="RELEASE",
        help="the release: whose Reset to Default lists (default: the policy's release), or the one to upgrade to",
    )
    parser.add_argument("--rescan", action="store_true", help="probe every endpoint first (a full Verify All)")
    parser.add_argument(
        "--allow-unknown",
        action="store_true",
        help="exit 0 even when an endpoint was never probed, or --verify could not check a prediction (else exit 1)",
    )
    parser.add_argument(
        "--verify", action="store_true", help="confirm each prediction with a real handshake offering the new Selected"
    )
    assert callable(scan_options)
    scan_options(parser)
    # Without --rescan the stored scan says which endpoints there are; an --endpoints file given anyway
    # adds the ones the scan lacks, as unknown.
    parser.set_defaults(endpoints=None)
    for action in parser._actions:
        if action.dest == "endpoints":
            action.help = "endpoints file: with --rescan, default endpoints.yaml; without, adds endpoints no run probed"


def add_advise_command(sub: SubParsers) -> None:
    text = "the strongest policy that keeps every endpoint that works today working, from the stored scan"
    parser = sub.add_parser("advise", help=text, description=text)
    policy_file_argument(parser)
    add_db_option(parser)
    parser.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="ID",
        help="accept losing this endpoint: see what you gain (repeatable)",
    )
    add_output_option(parser)
    add_releases_option(parser)


@dataclass(frozen=True)
class _Scan:
    """What the stored runs know of the site: each endpoint's newest result, and from which runs."""

    scanned: list[tuple[Endpoint, ProbeResult]]
    time: str
    policy: Policy
    notes: list[str]


def _latest_scan(db: Path, rescan_hint: bool = True) -> _Scan:
    with Store(db, read_only=True) as store:
        site = store.site()
    if site is None:
        hint = "run `tlsverify verify-all` first" + (", or add --rescan" if rescan_hint else "")
        raise UsageError(f"{db}: no complete Verify All run stored; {hint}")
    base = site.base
    newer: dict[int, list[str]] = {}
    for endpoint, _, run_id in site.results:
        if run_id != base.id:
            newer.setdefault(run_id, []).append(endpoint.id)
    notes = [f"{', '.join(ids)}: from run {run_id} (over some endpoints only)" for run_id, ids in sorted(newer.items())]
    if newer:
        notes.append(f"every other endpoint: from run {base.id}, the newest over the whole endpoints file")
    if base.report.partial:
        notes.append(f"run {base.id} covered some endpoints only: no run over the whole endpoints file is stored")
    scanned = [(endpoint, probe) for endpoint, probe, _ in site.results]
    return _Scan(scanned, base.generated_at, base.report.policy, notes)


def _proposed(args: argparse.Namespace, current: Policy, releases: rules.Releases) -> tuple[Policy, str]:
    try:
        if args.proposed is not None:
            return load_policy(args.proposed, releases), f"the proposed policy {args.proposed}"
        if args.reset_to_default:
            release = args.release or current.release
            return rules.reset_to_default(releases, release), f"Reset to Default ({release})"
        result = rules.upgrade(current, releases, args.upgrade_to or args.release)
        return result.policy, f"an upgrade to {result.policy.release}"
    except ValueError as exc:
        raise UsageError(str(exc)) from None


class _PolicyHandshake:
    """A prober that only offers the policy's Selected list once: to check predictions for real."""

    def __init__(self, prober: SslyzeProber) -> None:
        self._prober = prober

    def probe(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult:
        return self._prober.handshake_only(endpoint, policy, gate)


def run_impact(args: argparse.Namespace) -> int:
    if args.release and not (args.reset_to_default or args.upgrade):
        raise UsageError("--release goes with --reset-to-default or --upgrade")
    if args.upgrade and not args.release:
        raise UsageError("--upgrade: name the release to upgrade to with --release RELEASE")
    releases = load_releases(args.releases)
    checked = checked_policy(args)
    current = checked.policy
    endpoints_file = args.endpoints
    if args.rescan:
        check_outputs(args.out, ["impact.json", "impact.html"])
        endpoints_file = endpoints_file or Path("endpoints.yaml")
        loaded = load_endpoints(endpoints_file, proxy=args.proxy, ca_file=args.ca_file)
        endpoints = select_endpoints(loaded, args.only, endpoints_file)
        run_verify_all(args, endpoints, checked, endpoints_file)
        print()
    stored = _latest_scan(outputs(args).database)
    scanned_now, scan_time, scanned_policy = stored.scanned, stored.time, stored.policy
    check_outputs(args.out, ["impact.json", "impact.html"])  # before --verify's traffic
    scanned: list[tuple[Endpoint, ProbeResult | None]] = list(scanned_now)
    if endpoints_file is not None:
        known = {e.id for e, _ in scanned}
        extra = load_endpoints(endpoints_file, proxy=args.proxy, ca_file=args.ca_file)
        scanned += [(e, None) for e in extra if e.enabled and e.id not in known]
    if args.only:
        ids = {e.id for e, _ in scanned}
        wrong = [i for i in args.only if i not in ids]
        if wrong:
            raise UsageError(f"--only {', '.join(wrong)}: not in the stored scan ({', '.join(sorted(ids))})")
        scanned = [item for item in scanned if item[0].id in set(args.only)]
    after, change = _proposed(args, current, releases)
    notes = list(stored.notes)
    if scanned_policy.selected != current.selected:
        notes.append(
            f"the stored scan ran with another Selected list than {args.policy}: today's suites are "
            "predicted from what it learned, not taken from its handshakes"
        )
    report = impact.impact(scanned, current, after, releases, change, scan_time, notes)
    complete = True
    if args.verify:
        report, complete = _verify(args, report, after)
    now = datetime.now(UTC).replace(microsecond=0)
    json_path, html_path = args.out / "impact.json", args.out / "impact.html"
    write_reports(
        {json_path: impact_report.render_json(report, now), html_path: impact_report.render_html(report, now)}
    )
    print(impact_report.summary(report))
    print(f"\nReports: {html_path}  {json_path}")
    if not complete:
        exit_now(ExitCode.INTERRUPTED)
    if report.unchecked and not args.allow_unknown:
        print(
            f"tlsverify: {count(len(report.unchecked), 'prediction')} could not be checked by a real handshake; exit 1 "
            "(--allow-unknown to accept that)",
            file=sys.stderr,
        )
        return ExitCode.FINDINGS
    if report.never_scanned and not args.allow_unknown:
        unknown = ", ".join(row.endpoint.id for row in report.never_scanned)
        print(
            f"tlsverify: nothing is known of {unknown} (never probed); exit 1 (--allow-unknown to accept that)",
            file=sys.stderr,
        )
        return ExitCode.FINDINGS
    return ExitCode.FINDINGS if report.breaks or report.mismatches else ExitCode.OK


def _verify(args: argparse.Namespace, report: impact.ImpactReport, after: Policy) -> tuple[impact.ImpactReport, bool]:
    targets = [row.endpoint for row in report.endpoints if row.status is not impact.ImpactStatus.UNKNOWN]
    from scanner.probe.prober import SslyzeProber  # sslyze, nassl, cryptography: only when probing

    prober = _PolicyHandshake(SslyzeProber(timeout_s=args.timeout))
    with progress_line(args) as progress:
        results, complete = probe_all(targets, after, prober, probe_settings(args), progress)
    if not complete:
        say_interrupted(len(results))
    by_id = {r.endpoint_id: r for r in results}
    rows = tuple(impact.with_verification(row, by_id.get(row.endpoint.id)) for row in report.endpoints)
    return replace(report, endpoints=rows), complete


def run_advise(args: argparse.Namespace) -> int:
    releases = load_releases(args.releases)
    args.file = policy_file(args)
    current = load_policy(args.file, releases)
    stored = _latest_scan(database(args), rescan_hint=False)
    scanned, scan_time = stored.scanned, stored.time
    for note in stored.notes:
        print(f"tlsverify: {note}", file=sys.stderr)
    working = impact.working_today(scanned, current)
    wrong = sorted(set(args.drop) - set(working))
    if wrong:
        those = ", ".join(sorted(working)) or "none"
        raise UsageError(
            f"--drop {', '.join(wrong)}: not an endpoint that works today under {args.file} (those are: {those})"
        )
    advice = impact.advise(scanned, current, releases, drop=args.drop)
    if not advice.policy.selected:
        why = "every endpoint that works today was dropped" if working else f"no endpoint works today under {args.file}"
        print(
            f"tlsverify: nothing to advise: {why}, and a policy with no Selected suite connects to nothing "
            "(policy check refuses it). No policy written.",
            file=sys.stderr,
        )
        return ExitCode.FINDINGS
    lines = policy_text.advice_lines(advice, current, scan_time)
    text = policy_yaml(advice.policy, "\n".join(lines))
    if args.output is not None:
        write_report(args.output, text)
        print(f"Wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    for line in lines[2:]:
        print(line, file=sys.stderr)
    if args.drop:
        without = impact.advise(scanned, current, releases).policy.selected
        for line in policy_text.drop_gain(args.drop, without, advice.policy.selected):
            print(line, file=sys.stderr)
    kept = (
        f"Selected {count(len(advice.policy.selected), 'suite')}, "
        f"keeping {count(len(advice.keeps), 'working endpoint')}."
    )
    print(kept, file=sys.stderr)
    return ExitCode.OK
