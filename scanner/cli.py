"""The `tlsverify` command line: parse options, run the pipeline, write outputs, pick the exit code.

Exit codes: 0 every enabled endpoint is ok, 1 some endpoint is not, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from scanner import analysis, cli_policy
from scanner.config import (
    ConfigError,
    check_policy_file,
    load_endpoints,
    load_policy,
    load_releases,
    write_endpoints,
)
from scanner.models import Endpoint, Policy, ProbeResult, Severity
from scanner.probe.prober import SslyzeProber
from scanner.report import html_report, json_report, text
from scanner.scan import ScanSettings, scan
from scanner.store import Store, StoreError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad options: printed and turned into exit code 2."""


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return number


def _add_scan_options(parser: argparse.ArgumentParser, with_inputs: bool = True) -> None:
    if with_inputs:
        parser.add_argument(
            "--endpoints",
            type=Path,
            default=Path("endpoints.yaml"),
            help="endpoints file (default: endpoints.yaml)",
        )
        parser.add_argument(
            "--only",
            action="append",
            metavar="ID",
            default=[],
            help="probe only this endpoint id (repeatable)",
        )
    parser.add_argument("--policy", type=Path, default=Path("policy.yaml"), help="policy file (default: policy.yaml)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="report directory (default: reports)")
    parser.add_argument("--db", type=Path, default=None, help="SQLite history (default: OUT/tlsverify.sqlite)")
    parser.add_argument("--concurrency", type=_positive_int, default=8, help="endpoints probed at once (default: 8)")
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=50.0,
        help="new connections per second, all endpoints together (default: 50)",
    )
    parser.add_argument("--timeout", type=_positive_float, default=5.0, help="seconds per connection step (default: 5)")
    parser.add_argument(
        "--deadline",
        type=_positive_float,
        default=120.0,
        help="seconds per endpoint, all connections together (default: 120)",
    )
    parser.add_argument(
        "--exhaustive",
        action="store_true",
        help="use sslyze's one-handshake-per-suite scan instead of elimination",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--releases", type=Path, default=None, metavar="DIR",
                        help="extra release files (*.yaml); also $TLSVERIFY_RELEASES")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlsverify",
        description="Which external TLS servers can this client still talk to under its cipher policy?",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = commands.add_parser("verify-all", help="probe every endpoint and cross-reference the policy")
    _add_scan_options(verify)
    demo = commands.add_parser("demo", help="start the loopback demo lab, run Verify All on it, write the reports")
    _add_scan_options(demo, with_inputs=False)
    cli_policy.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        if args.command == "verify-all":
            return _verify_all(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "policy":
            return cli_policy.run(args)
    except (ConfigError, UsageError, StoreError, cli_policy.PolicyUsageError) as exc:
        print(f"tlsverify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ntlsverify: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def _select(endpoints: list[Endpoint], only: list[str], path: Path) -> list[Endpoint]:
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


def _verify_all(args: argparse.Namespace) -> int:
    endpoints = _select(load_endpoints(args.endpoints), args.only, args.endpoints)
    return _run(args, endpoints, _policy(args))


def _policy(args: argparse.Namespace) -> tuple[Policy, frozenset[str]]:
    """The policy to probe with (warnings printed, errors raised) and its legacy suites."""
    releases = load_releases(args.releases)
    _, found = check_policy_file(args.policy, releases)
    errors = [p for p in found if p.severity is Severity.ERROR]
    if errors:
        raise ConfigError(errors)
    for problem in found:
        print(f"tlsverify: {problem}", file=sys.stderr)
    policy = load_policy(args.policy, releases)
    legacy = frozenset(n for n in (*policy.selected, *policy.disabled) if releases.is_legacy(n, policy.release))
    return policy, legacy


def _run(args: argparse.Namespace, endpoints: list[Endpoint], checked: tuple[Policy, frozenset[str]]) -> int:
    policy, legacy = checked
    db_path = args.db or args.out / "tlsverify.sqlite"
    with Store(db_path) as store:  # open first: a bad --db fails before any traffic
        settings = ScanSettings(concurrency=args.concurrency, rate=args.rate, deadline_s=args.deadline)
        prober = SslyzeProber(timeout_s=args.timeout, exhaustive=args.exhaustive)
        show = not args.no_progress and sys.stderr.isatty()
        done: list[ProbeResult] = []

        def progress(result: ProbeResult) -> None:
            done.append(result)
            if show:
                bar = text.progress_bar(len(done), len(endpoints))
                print(f"\r{bar}  {result.endpoint_id[:30]:<30}", end="", file=sys.stderr, flush=True)

        complete = True
        try:
            results = asyncio.run(scan(endpoints, policy, prober, settings, progress))
        except KeyboardInterrupt:
            complete, results = False, list(done)
            print(f"\ntlsverify: interrupted; keeping the {len(done)} endpoints that finished", file=sys.stderr)
        if show and complete:
            print(file=sys.stderr)
        now = datetime.now(UTC).replace(microsecond=0)
        report = analysis.verify_all_report(endpoints, results, policy, now, complete=complete, legacy=legacy)
        report = replace(report, run_id=store.save(report))
    html_path, json_path = args.out / "verify-all.html", args.out / "verify-all.json"
    _write(html_path, html_report.render(report))
    _write(json_path, json_report.render(report))
    print(text.summary(report))
    print(f"\nReports: {html_path}  {json_path}  (run {report.run_id} stored in {db_path})")
    if not complete:
        # Probes still running in worker threads are abandoned: everything that finished is stored.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    return analysis.exit_code(report)


def _write(path: Path, content: str) -> None:
    """Write atomically (temp file, then rename), owner-only: reports may hold internal host names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _demo(args: argparse.Namespace) -> int:
    from scanner.lab.demo import start_lab
    from scanner.lab.servers import Lab

    checked = _policy(args)
    with Lab() as lab:
        skipped: list[str] = []
        entries = start_lab(lab, skipped=skipped)
        endpoints_path = args.out / "demo-endpoints.yaml"
        write_endpoints(entries, endpoints_path, "Written by `tlsverify demo`: the loopback demo lab (ports change)")
        print(f"Demo lab: {len(lab.servers)} TLS servers and 1 closed port on 127.0.0.1 ({endpoints_path})")
        for line in skipped:
            print(f"  left out {line}")
        endpoints = load_endpoints(endpoints_path)
        code = _run(args, endpoints, checked)
    print("Demo lab stopped. Open the HTML report in a browser to see the policy's lists with their asterisks.")
    return code
