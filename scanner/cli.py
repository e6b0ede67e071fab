"""The `tlsverify` command line: parse options, run the pipeline, write outputs, pick the exit code.

Exit codes: 0 every enabled endpoint is ok, 1 some endpoint is not, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from scanner import cli_impact, cli_policy
from scanner.config import ConfigError, load_endpoints, write_endpoints
from scanner.runner import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
    checked_policy,
    exit_now,
    rebuild_reports,
    run_verify_all,
    select_endpoints,
)
from scanner.store import StoreError


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


def add_scan_options(parser: argparse.ArgumentParser, with_inputs: bool = True) -> None:
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
    add_scan_options(verify)
    demo = commands.add_parser("demo", help="start the loopback demo lab, run Verify All on it, write the reports")
    add_scan_options(demo, with_inputs=False)
    report = commands.add_parser(
        "report", help="write the verify-all reports again from a stored run (after a crash, say)"
    )
    report.add_argument("--run", type=_positive_int, default=None, help="run id (default: the latest complete one)")
    report.add_argument("--out", type=Path, default=Path("reports"), help="report directory (default: reports)")
    report.add_argument("--db", type=Path, default=None, help="SQLite history (default: OUT/tlsverify.sqlite)")
    cli_impact.add_impact_command(commands, add_scan_options)
    cli_policy.add_commands(commands)
    return parser


def entry() -> None:
    """The console script: run, then leave even if a probe thread was abandoned past its deadline (a
    resolver that never answers, say); everything is written by then."""
    code = main()
    for thread in threading.enumerate():
        if thread.name.startswith("tlsverify-probe"):
            thread.join(timeout=1)
            if thread.is_alive():
                exit_now(code)
    sys.exit(code)


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
        if args.command == "impact":
            return cli_impact.run_impact(args)
        if args.command == "report":
            return rebuild_reports(args)
    except (ConfigError, UsageError, StoreError, cli_policy.PolicyUsageError) as exc:
        print(f"tlsverify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ntlsverify: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def _verify_all(args: argparse.Namespace) -> int:
    endpoints = select_endpoints(load_endpoints(args.endpoints), args.only, args.endpoints)
    return run_verify_all(args, endpoints, checked_policy(args))


def _demo(args: argparse.Namespace) -> int:
    from scanner.lab.demo import start_lab
    from scanner.lab.servers import Lab

    checked = checked_policy(args)
    with Lab() as lab:
        skipped: list[str] = []
        entries = start_lab(lab, skipped=skipped)
        endpoints_path = args.out / "demo-endpoints.yaml"
        write_endpoints(entries, endpoints_path, "Written by `tlsverify demo`: the loopback demo lab (ports change)")
        print(f"Demo lab: {len(lab.servers)} TLS servers and 1 closed port on 127.0.0.1 ({endpoints_path})")
        for line in skipped:
            print(f"  left out {line}")
        endpoints = load_endpoints(endpoints_path)
        code = run_verify_all(args, endpoints, checked)
    print("Demo lab stopped. Open the HTML report in a browser to see the policy's lists with their asterisks.")
    return code
