"""What every command shares: exit codes, the one usage-error path, the scan options and how they become
typed settings, the progress line, and leaving at once after Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys
from enum import IntEnum
from pathlib import Path
from typing import TypeAlias

from scanner.models import ProbeResult
from scanner.report import text
from scanner.verify import Outputs, ProbeSettings, Progress

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class ExitCode(IntEnum):
    """What `tlsverify` exits with."""

    OK = 0
    """Every endpoint connects under the policy (or: nothing to report)."""
    FINDINGS = 1
    """Something breaks, needs a Disabled suite, or differs (policy check --strict: warnings)."""
    USAGE = 2
    """A usage or configuration error: the message names the file, line, column and field."""
    INTERRUPTED = 130
    """Ctrl-C: what finished is kept."""


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return number


def add_releases_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--releases",
        type=Path,
        default=None,
        metavar="DIR",
        help="extra release files (*.yaml); also $TLSVERIFY_RELEASES",
    )


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
    parser.add_argument("--concurrency", type=positive_int, default=8, help="endpoints probed at once (default: 8)")
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=50.0,
        help="new connections per second, all endpoints together (default: 50)",
    )
    parser.add_argument("--timeout", type=positive_float, default=5.0, help="seconds per connection step (default: 5)")
    parser.add_argument(
        "--deadline",
        type=positive_float,
        default=120.0,
        help="seconds per endpoint, all connections together (default: 120)",
    )
    parser.add_argument(
        "--exhaustive",
        action="store_true",
        help="use sslyze's one-handshake-per-suite scan instead of elimination",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_releases_option(parser)


def probe_settings(args: argparse.Namespace) -> ProbeSettings:
    return ProbeSettings(
        concurrency=args.concurrency,
        rate=args.rate,
        timeout_s=args.timeout,
        deadline_s=args.deadline,
        exhaustive=args.exhaustive,
    )


def outputs(args: argparse.Namespace) -> Outputs:
    return Outputs(out=args.out, db=args.db)


def progress_line(args: argparse.Namespace) -> Progress | None:
    """A progress bar on standard error, when it is a terminal and not turned off."""
    if args.no_progress or not sys.stderr.isatty():
        return None

    def show(result: ProbeResult, done: int, total: int) -> None:
        bar = text.progress_bar(done, total)
        end = "\n" if done == total else ""
        print(f"\r{bar}  {result.endpoint_id[:30]:<30}", end=end, file=sys.stderr, flush=True)

    return show


def say_interrupted(kept: int) -> None:
    print(f"\ntlsverify: interrupted; keeping the {kept} endpoints that finished", file=sys.stderr)


def exit_now(code: int) -> None:
    """Leave at once, abandoning probes still running in worker threads (after Ctrl-C)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
