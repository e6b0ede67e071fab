"""What every command shares: exit codes, the one usage-error path, the scan options and how they become
typed settings, the progress line, the notifications after a run, and leaving at once after Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeAlias

from scanner import notify
from scanner.config import parse_proxy_url
from scanner.models import Proxy, VerifyAllReport
from scanner.scan import CONCURRENCY, RATE_PER_SERVER
from scanner.store import Store
from scanner.verify import Outputs, ProbeSettings, UsageError

if TYPE_CHECKING:
    from scanner.cli.terminal import LiveProgress

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class ExitCode(IntEnum):
    """What `tlsverify` exits with."""

    OK = 0
    """Every endpoint connects under the policy (or: nothing to report)."""
    FINDINGS = 1
    """Something breaks, needs a Disabled suite, or differs (policy check --strict: warnings)."""
    USAGE = 2
    """A usage or configuration error: the message names the file, line, column and field."""
    UNPROBED = 3
    """Some endpoint could not be probed (unreachable, timeout, DNS) and none failed otherwise (1 wins)."""
    INTERRUPTED = 130
    """Ctrl-C: what finished is kept."""


def bounded_int(high: int) -> Callable[[str], int]:
    """A whole number from 1 to `high`."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if not 1 <= number <= high:
            raise argparse.ArgumentTypeError(f"must be from 1 to {high}, got {number}")
        return number

    return parse


positive_int = bounded_int(1_000_000_000)


def bounded_float(high: float) -> Callable[[str], float]:
    """A finite number greater than 0 and at most `high` (inf, nan and 1e10 seconds are refused)."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
        if not (math.isfinite(number) and 0 < number <= high):
            raise argparse.ArgumentTypeError(f"must be greater than 0 and at most {high:g}, got {value}")
        return number

    return parse


def _file(value: str, example: str) -> Path:
    """A file to read or write: not empty, not a folder."""
    path = Path(value)
    if not value.strip() or value.endswith(("/", os.sep)) or path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a file name: it is a folder or no name at all; name a file, e.g. {example}"
        )
    return path


EXIT_CODES = """exit codes:
  0    every endpoint connects under the policy (negotiation and certificate)
  1    some endpoint does not, for a reason of policy, TLS or certificate (1 wins over 3)
  2    a usage or configuration error: the message names the file, line and field
  3    some endpoint could not be probed at all (unreachable, timeout, DNS)
  130  interrupted: what finished is stored"""
"""What every command may exit with, for the end of `--help`."""


FORMATS = ("text", "json", "csv")

DEFAULT_DB = Path("reports") / "tlsverify.sqlite"
DB_ENV = "TLSVERIFY_DB"


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """The one `--db` every command has: the history lives in one place, whatever `--out` says."""
    parser.add_argument(
        "--db",
        type=database_path,
        default=None,
        metavar="FILE",
        help=f"SQLite history (default: ${DB_ENV}, else {DEFAULT_DB} in the current folder; never follows --out-dir)",
    )


def database(args: argparse.Namespace) -> Path:
    """The history database: --db, else $TLSVERIFY_DB, else reports/tlsverify.sqlite."""
    given = getattr(args, "db", None)
    if given is not None:
        return Path(given)
    named = os.environ.get(DB_ENV)
    if named is None:
        return DEFAULT_DB
    try:
        return database_path(named)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"${DB_ENV}: {exc}") from None


def database_path(value: str) -> Path:
    """A file for the SQLite history."""
    return _file(value, "reports/tlsverify.sqlite")


def output_file(value: str) -> Path:
    """A file to write."""
    return _file(value, "policy.yaml")


def folder_path(value: str) -> Path:
    """A folder for reports: not empty, not an existing file."""
    path = Path(value)
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty folder name; name a folder, e.g. reports")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a file, not a folder; name a folder for the reports")
    return path


def alias(parser: argparse._ActionsContainer, old: str, dest: str, **kwargs: object) -> None:
    """An option's former name, still read (scripts keep working) and never shown: one name per idea."""
    parser.add_argument(old, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]


def add_releases_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--release-dir",
        dest="releases",
        type=Path,
        default=None,
        metavar="DIR",
        help="a folder of extra release files (*.yaml); also $TLSVERIFY_RELEASES",
    )
    alias(parser, "--releases", "releases", type=Path)


def policy_file_argument(parser: argparse.ArgumentParser) -> None:
    """A policy command's policy file: a positional FILE, as `check`, `upgrade` and `apply` take it."""
    parser.add_argument(
        "file", nargs="?", type=Path, default=None, metavar="FILE", help="policy file (default: policy.yaml)"
    )
    alias(parser, "--policy", "former_policy", type=Path)


def policy_file(args: argparse.Namespace) -> Path:
    """The policy file of `policy_file_argument`: FILE, else the former --policy, else policy.yaml."""
    return Path(args.file or getattr(args, "former_policy", None) or "policy.yaml")


def add_out_dir_option(parser: argparse.ArgumentParser, reports: str) -> None:
    """`--out-dir DIR`: the folder a command writes its reports in (a single file is `--output FILE`)."""
    parser.add_argument(
        "--out-dir",
        dest="out",
        type=folder_path,
        default=Path("reports"),
        metavar="DIR",
        help=f"folder for {reports} (default: reports)",
    )
    alias(parser, "--out", "out", type=folder_path)


def add_output_option(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    """`-o/--output FILE`: the one file a command writes, instead of standard output."""
    parser.add_argument(
        "-o", "--output", type=output_file, default=None, metavar="FILE", help="write to FILE, not standard output"
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
        parser.add_argument(
            "--proxy",
            type=proxy_url,
            default=None,
            metavar="URL",
            help="HTTP CONNECT proxy for every endpoint without a proxy of its own (http://HOST:PORT; overrides "
            "the file's top-level proxy); Basic-auth credentials from $TLSVERIFY_PROXY_USER and "
            "$TLSVERIFY_PROXY_PASSWORD when both are set, never from the URL",
        )
        parser.add_argument(
            "--ca-file",
            type=Path,
            default=None,
            metavar="FILE",
            help="PEM file of CA certificates that server chains are checked against (default: the system's "
            "trust store; an endpoint's own ca_file wins)",
        )
    parser.add_argument("--policy", type=Path, default=Path("policy.yaml"), help="policy file (default: policy.yaml)")
    add_out_dir_option(parser, "the HTML and JSON reports")
    add_db_option(parser)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="standard output: text (the summary), json (the verify-all.json document) or csv (one row an "
        "endpoint); with json and csv, everything else goes to standard error (default: text)",
    )
    parser.add_argument(
        "--concurrency",
        type=bounded_int(1024),
        default=CONCURRENCY,
        help=f"endpoints probed at once (default: {CONCURRENCY}, at most 1024)",
    )
    parser.add_argument(
        "--rate-per-server",
        type=bounded_float(1_000_000),
        default=RATE_PER_SERVER,
        metavar="N",
        help=f"new connections per second to any one server, or to the proxy for endpoints behind one; also the "
        f"burst one endpoint's probe may use (default: {RATE_PER_SERVER:g})",
    )
    parser.add_argument(
        "--rate",
        type=bounded_float(1_000_000),
        default=None,
        metavar="N",
        help="new connections per second, all servers together: a cap for the client's own network (default: none)",
    )
    parser.add_argument(
        "--timeout", type=bounded_float(3600), default=5.0, help="seconds per connection step (default: 5)"
    )
    parser.add_argument(
        "--deadline",
        type=bounded_float(86_400),
        default=120.0,
        help="seconds per endpoint, all connections together (default: 120)",
    )
    parser.add_argument(
        "--exhaustive",
        action="store_true",
        help="use sslyze's one-handshake-per-suite scan instead of elimination",
    )
    parser.add_argument(
        "--expiry-warning",
        type=bounded_int(3650),
        default=30,
        metavar="DAYS",
        help="warn about certificates that expire within DAYS days (default: 30)",
    )
    parser.add_argument(
        "--period-days",
        type=bounded_int(366),
        default=7,
        metavar="DAYS",
        help="length of a usage collection period: the asterisks add up every run since the last `policy apply` "
        "or `usage reset`, for DAYS days at a time (default: 7, as the vendor clears them weekly)",
    )
    parser.add_argument(
        "--all-addresses",
        action="store_true",
        help="probe every A and AAAA address of each name, and report where they disagree",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_notify_options(parser)
    add_releases_option(parser)


def add_notify_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "notifications",
        "sent through Apprise after a complete run that has changes since the previous run over the same "
        "endpoints file, or endpoints that newly fail (any failing endpoint on a first run); never after an "
        "interrupted run. URLs carry secrets: they are shown redacted and written nowhere.",
    )
    group.add_argument(
        "--notify",
        type=notify_url,
        action="append",
        default=[],
        metavar="URL",
        help="notify this Apprise URL (mailto://, mailtos://, json://, slack://, msteams://, ...; repeatable); "
        "a URL with a password or token is better kept in --notify-config FILE, since a command line is visible "
        "to other users of the machine",
    )
    group.add_argument(
        "--notify-config",
        type=notify_config,
        default=None,
        metavar="FILE",
        help="notify every URL of this Apprise configuration file (text: one URL a line; or YAML with `urls:`)",
    )
    group.add_argument(
        "--notify-always",
        action="store_true",
        help="notify after every complete run, quiet ones too (nothing changed, nothing newly failing)",
    )


def proxy_url(value: str) -> Proxy:
    """`--proxy URL`: an HTTP proxy; the error never repeats the URL (it may hold a password)."""
    try:
        return parse_proxy_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def notify_url(value: str) -> notify.Target:
    """`--notify URL`: an Apprise URL, checked without traffic; the error shows it redacted."""
    try:
        return notify.check_url(value)
    except notify.NotifyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def notify_config(value: str) -> notify.ConfigFile:
    """`--notify-config FILE`: an Apprise configuration file, read and checked now, before any traffic."""
    try:
        return notify.read_config(Path(value))
    except notify.NotifyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def notifications(args: argparse.Namespace) -> notify.Notifications:
    """Where the command line says a run's notification goes (nowhere for a command without the options)."""
    config = getattr(args, "notify_config", None)
    wanted = notify.Notifications(
        targets=tuple(getattr(args, "notify", None) or ()),
        configs=(config,) if config is not None else (),
        always=bool(getattr(args, "notify_always", False)),
    )
    if wanted.always and not (wanted.targets or wanted.configs):
        raise UsageError("--notify-always says when, not where: add --notify URL or --notify-config FILE")
    return wanted


def info_stream(args: argparse.Namespace) -> TextIO:
    """Where lines for a person go: standard output, unless it carries a document (--format json or csv)."""
    return sys.stdout if getattr(args, "format", "text") == "text" else sys.stderr


def send_notifications(args: argparse.Namespace, report: VerifyAllReport, where: Outputs) -> None:
    """After a run: notify if the options ask for it and the run warrants it. A notification that cannot be
    sent is said on standard error (its URL redacted) and changes nothing else, the exit code included."""
    wanted = notifications(args)
    if not wanted or report.run_id is None:
        return
    with Store(where.database) as store:
        owed = store.undelivered(report.run_id)
    if not report.complete or not (notify.should_send(report, wanted.always) or owed):
        why = "the run was interrupted" if not report.complete else "nothing changed and no endpoint newly fails"
        print(f"No notification: {why}", file=info_stream(args))
        return
    runs = [report.run_id, *(run.id for run in owed)]
    with Store(where.database) as store:  # owed until sent: a failed send, or a stop while sending, is not lost
        store.set_notification(runs, "pending")
    message = notify.compose(report, [where.html, where.json, where.database], [run.report for run in owed])
    delivery = notify.send(message, wanted)
    for failure in delivery.failed:
        print(f"tlsverify: notification to {failure} failed; the run is stored all the same", file=sys.stderr)
    if delivery.sent:
        with Store(where.database) as store:
            store.set_notification(runs, "sent")
        print(
            f"Notification sent to {delivery.sent} service{'' if delivery.sent == 1 else 's'}", file=info_stream(args)
        )
    else:
        print("Notification not sent: it will come with the next run's", file=sys.stderr)


def probe_settings(args: argparse.Namespace) -> ProbeSettings:
    return ProbeSettings(
        concurrency=args.concurrency,
        rate=args.rate,
        rate_per_server=args.rate_per_server,
        timeout_s=args.timeout,
        deadline_s=args.deadline,
        exhaustive=args.exhaustive,
        expiry_warning_days=args.expiry_warning,
        all_addresses=args.all_addresses,
        period_days=args.period_days,
    )


def outputs(args: argparse.Namespace) -> Outputs:
    return Outputs(out=args.out, db=database(args))


@contextlib.contextmanager
def progress_line(args: argparse.Namespace) -> Iterator[LiveProgress | None]:
    """A live progress bar on standard error while the block runs, when standard error is a terminal and the
    bar is not turned off; the bar's last state stays on the screen."""
    if args.no_progress or not sys.stderr.isatty():
        yield None
        return
    from scanner.cli.terminal import LiveProgress

    progress = LiveProgress(sys.stderr)
    try:
        yield progress
    finally:
        progress.close()


def say_interrupted(kept: int) -> None:
    print(f"\ntlsverify: interrupted; keeping the {kept} endpoints that finished", file=sys.stderr)


def exit_now(code: int) -> None:
    """Leave at once, abandoning probes still running in worker threads (after Ctrl-C)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
