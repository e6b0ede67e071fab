"""`tlsverify schedule run` and `tlsverify schedule print`: Verify All on a cron schedule, in the foreground, or
as a systemd service and timer or a crontab line.

`schedule run` logs to standard error, one line per event, `TIME tlsverify schedule: WHAT`, and no option's
value (a notification URL carries a secret). It exits 0 when stopped (SIGTERM, Ctrl-C) between runs and 130
when stopped during one, whose finished endpoints are stored as an incomplete run, as `verify-all` does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scanner import notify
from scanner.cli.common import ExitCode, SubParsers, add_scan_options, outputs, positive_int
from scanner.cli.verify import verify_all_command
from scanner.config import load_endpoints, load_releases
from scanner.models import ConfigError, Endpoint, Proxy
from scanner.schedule import (
    Clock,
    Invocation,
    RunInterrupted,
    Schedule,
    ScheduleError,
    crontab_line,
    parse_cron,
    run_on_schedule,
    stamp,
    systemd_units,
)
from scanner.store import StoreError
from scanner.verify import UsageError, check_credentials, check_outputs, check_policy, select_endpoints

CRON_HELP = (
    "cron expression, in the machine's time zone: 5 fields (minute hour day-of-month month day-of-week; "
    "numbers, lists, ranges, steps, *, month and day names), 6 with seconds first, or @hourly, @daily, ..."
)


def add_commands(commands: SubParsers) -> None:
    schedule = commands.add_parser(
        "schedule", help="run Verify All on a cron schedule, or print a systemd timer or a crontab line for it"
    )
    sub = schedule.add_subparsers(dest="schedule_command", required=True, metavar="ACTION")
    text = "run Verify All on a cron schedule in the foreground (for a container or a service manager)"
    run = sub.add_parser("run", help=text, description=f"{text}; every verify-all option applies to each run")
    run.add_argument("--cron", type=cron_schedule, required=True, metavar="EXPR", help=CRON_HELP)
    run.add_argument("--max-runs", type=positive_int, default=None, metavar="N", help="stop after N runs")
    add_scan_options(run)
    text = "print a systemd service and timer, or a crontab line, that run verify-all with these options here"
    show = sub.add_parser("print", help=text, description=text)
    form = show.add_mutually_exclusive_group(required=True)
    form.add_argument("--systemd", action="store_true", help="a oneshot service and a timer (OnCalendar=)")
    form.add_argument("--crontab", action="store_true", help="a crontab line")
    show.add_argument("--cron", type=cron_schedule, required=True, metavar="EXPR", help=CRON_HELP)
    add_scan_options(show)


def cron_schedule(value: str) -> Schedule:
    """`--cron EXPR`, checked now: a usage error (exit 2) names the field and what is wrong with it."""
    try:
        return parse_cron(value)
    except ScheduleError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    return run_command(args) if args.schedule_command == "run" else print_command(args)


# --- schedule run --------------------------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    """Check the inputs once (a typo fails now, exit 2), then run Verify All at each fire time until stopped."""
    check_credentials(check_inputs(args))
    where = outputs(args)
    check_outputs(where.out, [where.html.name, where.json.name])
    zone = local_zone()
    clock = Clock(now=lambda: datetime.now(zone), sleep=time.sleep)
    stops = Stops()
    with stop_on_signals(stops, clock.now):
        try:
            run_on_schedule(args.cron, lambda: stops.during(lambda: scheduled_run(args)), clock, log, args.max_runs)
        except RunInterrupted as stopped:
            log(clock.now(), f"stopped during run {stopped.number} ({stops.signal}); exit 130")
            return ExitCode.INTERRUPTED
        except KeyboardInterrupt:
            log(clock.now(), f"stopped between runs ({stops.signal}); exit 0")
    return ExitCode.OK


@dataclass
class Stops:
    """What the signal handler knows: the signals received, and the run going on (None between runs)."""

    received: list[str] = field(default_factory=list)
    run: int | None = None
    runs: int = 0

    @property
    def signal(self) -> str:
        return self.received[-1] if self.received else "Ctrl-C"

    def during(self, job: Callable[[], int]) -> int:
        self.runs += 1
        self.run = self.runs
        try:
            return job()
        finally:
            self.run = None


def check_inputs(args: argparse.Namespace) -> list[Endpoint]:
    """The endpoints (and --only), the policy and the releases, read and checked as a run would."""
    loaded = load_endpoints(args.endpoints, proxy=args.proxy, ca_file=args.ca_file)
    endpoints = select_endpoints(loaded, args.only, args.endpoints)
    check_policy(args.policy, load_releases(args.releases))
    return endpoints


def scheduled_run(args: argparse.Namespace) -> int:
    """One `verify-all`, its files read again (an edit counts from the next run); a usage or configuration
    error is said as the command line says it, and is exit 2."""
    try:
        return verify_all_command(args)
    except (ConfigError, UsageError, StoreError) as exc:
        print(f"tlsverify: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    finally:
        sys.stdout.flush()


def log_line(moment: datetime, message: str) -> str:
    return f"{stamp(moment)} tlsverify schedule: {message}\n"


def log(moment: datetime, message: str) -> None:
    """One line on standard error, after whatever the run printed."""
    sys.stdout.flush()
    sys.stderr.write(log_line(moment, message))
    sys.stderr.flush()


@contextmanager
def stop_on_signals(stops: Stops, now: Callable[[], datetime]) -> Iterator[None]:
    """SIGTERM and Ctrl-C stop the scheduler as Ctrl-C stops a run; during a run, a line says so at once (the
    run then leaves through `verify-all`'s own exit, 130, after storing what finished)."""

    def stop(number: int, frame: FrameType | None) -> None:
        stops.received.append(signal.Signals(number).name)
        if stops.run is not None:
            what = f"{stops.signal} during run {stops.run}: stopping; what finished is stored as an incomplete run"
            with contextlib.suppress(OSError):  # not sys.stderr: the signal may have come in the middle of a write
                os.write(2, log_line(now(), what).encode())
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def local_zone() -> tzinfo:
    """The machine's time zone as cron and systemd use it: $TZ when it names a zone, else /etc/localtime,
    else the current UTC offset (no daylight-saving changes then)."""
    name = os.environ.get("TZ", "").removeprefix(":")
    try:
        if name:
            return ZoneInfo(name)
        with open("/etc/localtime", "rb") as data:
            return ZoneInfo.from_file(data, key="localtime")
    except (OSError, ValueError, ZoneInfoNotFoundError):
        return datetime.now(UTC).astimezone().tzinfo or UTC


# --- schedule print ------------------------------------------------------------------------------------------

_COPIED = frozenset(
    {
        "endpoints",
        "only",
        "proxy",
        "ca_file",
        "policy",
        "out",
        "db",
        "concurrency",
        "rate",
        "timeout",
        "deadline",
        "exhaustive",
        "expiry_warning",
        "period_days",
        "all_addresses",
        "no_progress",
        "releases",
        "notify_config",
        "notify_always",
    }
)
"""The verify-all options `schedule print` copies into the command: those that never hold a secret."""


def print_command(args: argparse.Namespace) -> int:
    """The service and timer, or the crontab line, on standard output."""
    check_inputs(args)
    words, left_out = verify_all_words(args)
    for flag in left_out:
        why = "notification URLs carry secrets: name them in --notify-config FILE" if flag == "--notify" else ""
        print(f"tlsverify: {flag} is not copied into the schedule; {why or 'add it by hand'}", file=sys.stderr)
    command = (*program(sys.argv[0], sys.executable), "verify-all", *words)
    invocation = Invocation(command, Path.cwd(), current_user())
    try:
        text = systemd_units(args.cron, invocation) if args.systemd else crontab_line(args.cron, invocation)
    except ScheduleError as exc:
        raise UsageError(str(exc)) from None
    print(text, end="")
    return ExitCode.OK


def verify_all_words(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The verify-all options given (those not at their default) as words, and the flags left out because
    they may hold a secret."""
    template = argparse.ArgumentParser(add_help=False)
    add_scan_options(template)
    words: list[str] = []
    left_out: list[str] = []
    for dest, default in vars(template.parse_args([])).items():
        value = getattr(args, dest, default)
        flag = "--" + dest.replace("_", "-")
        if value == default:
            continue
        if dest not in _COPIED:
            left_out.append(flag)
        elif value is True:
            words.append(flag)
        else:
            for item in value if isinstance(value, list) else [value]:
                words += [flag, option_word(item)]
    return words, left_out


def option_word(value: object) -> str:
    """An option's value as the command line spells it."""
    if isinstance(value, Proxy):
        return f"http://{value}"
    if isinstance(value, notify.ConfigFile):
        return str(value.path)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def program(argv0: str, python: str) -> tuple[str, ...]:
    """What starts tlsverify: this console script by its absolute path, or `python -m scanner`."""
    script = Path(argv0)
    if script.name == "tlsverify" and script.is_file():
        return (str(script.resolve()),)
    return (python, "-m", "scanner")


def current_user() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a container's uid without a passwd entry
        return None
