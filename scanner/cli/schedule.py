"""`tlsverify schedule run` and `tlsverify schedule print`: Verify All on a cron schedule, in the foreground, or
as a systemd service and timer or a crontab line.

`schedule run` logs to standard error, one line per event, `TIME tlsverify schedule: WHAT`, and no option's
value (a notification URL carries a secret). Its "run N" counts this process's runs; after a run that stored
one, a line gives the run id it has in the database. One scheduler at a time per database: it holds
DB.schedule.lock while it runs, and a second one on the same database exits 2 at once, as it does when the
database is another application's or damaged. It exits 0 when stopped (SIGTERM, Ctrl-C) between runs, and 130
when stopped during one (a run stopped while probing stores what finished as an incomplete run, as
`verify-all` does); with --max-runs, after the last run, with the worst exit code of its runs: 2 (a usage or
configuration error, or a run that failed), else 1 (findings), else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pwd
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scanner import notify
from scanner.cli.common import (
    DB_ENV,
    ExitCode,
    SubParsers,
    add_scan_options,
    database,
    notifications,
    outputs,
    positive_int,
)
from scanner.cli.verify import verify_all_command
from scanner.config import load_endpoints, load_releases
from scanner.files import private_folders
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
from scanner.store import Store, StoreError
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
    run.add_argument(
        "--max-runs",
        type=positive_int,
        default=None,
        metavar="N",
        help="stop after N runs, with the worst exit code of them (2, else 1, else 3, else 0)",
    )
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
    """Check the inputs once (a typo fails now, exit 2), take the database's scheduler lock, open the database
    as the runs will, then run Verify All at each fire time until stopped (or --max-runs)."""
    check_credentials(check_inputs(args))
    where = outputs(args)
    check_outputs(where.out, [where.html.name, where.json.name])
    with scheduler_lock(where.database):
        check_database(where.database)
        newest = newest_run_id(where.database)
        zone = local_zone()
        clock = Clock(now=lambda: datetime.now(zone), sleep=time.sleep)
        stops = Stops()
        codes: list[int] = []

        def run_and_say_its_id() -> int:
            nonlocal newest
            code = scheduled_run(args)
            stored = newest_run_id(where.database)  # still during the run, for the signal handler
            if stored is not None and stored != newest:
                newest = stored
                log(clock.now(), f"run {stops.runs} stored as run id {stored}")
            return code

        def job() -> int:
            try:
                code = stops.during(run_and_say_its_id)
            except Exception:
                codes.append(ExitCode.USAGE)  # a run that failed did no better than one refused at its start
                raise
            codes.append(code)
            return code

        with stop_on_signals(stops, clock.now):
            try:
                run_on_schedule(args.cron, job, clock, log, args.max_runs)
            except RunInterrupted as stopped:
                if not stops.said:
                    log(clock.now(), stopped_line(stopped.number, stops.signal))
                return ExitCode.INTERRUPTED
            except KeyboardInterrupt:
                log(clock.now(), f"stopped between runs ({stops.signal}); exit 0")
                return ExitCode.OK
    return worst_exit(codes)


def worst_exit(codes: Iterable[int]) -> int:
    """The worst of the runs' exit codes: 2 (or any other failure) before 1 before 3 before 0; 0 with no
    runs."""
    rank: dict[int, int] = {ExitCode.OK: 0, ExitCode.UNPROBED: 1, ExitCode.FINDINGS: 2}
    return max(codes, key=lambda code: rank.get(code, 3), default=ExitCode.OK)


def stopped_line(run: int, signal_name: str) -> str:
    return f"stopped during run {run} ({signal_name}); exit 130"


@contextmanager
def scheduler_lock(db: Path) -> Iterator[None]:
    """Hold DB.schedule.lock while this scheduler runs (an exclusive flock, not waited for): a second
    `schedule run` on the same database would run every fire time again, so it is refused (UsageError, exit 2).
    The kernel lets go of it when the process ends, however it ends."""
    real = db.resolve()  # two links to one database share one lock
    path = real.with_name(real.name + ".schedule.lock")
    try:
        private_folders(path.parent)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:
        raise UsageError(f"{db}: cannot open the scheduler's lock file {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"another `tlsverify schedule run` is already running on the database {db} (it holds {path}); "
                "stop it first, or give this one its own --db"
            ) from None
        yield
    finally:
        os.close(fd)  # closing lets go of the lock


def check_database(db: Path) -> None:
    """Open the database as each run will, so that another application's database, a damaged one or a newer
    tlsverify's fails now (StoreError, exit 2) instead of every run; a missing one is created, as the first run
    would create it."""
    with Store(db):
        pass


def newest_run_id(db: Path) -> int | None:
    """The newest run id in the database (the newest run is read whole: one report a run), or None when it
    cannot be read: it is only logged."""
    try:
        with Store(db, create=False) as store:
            runs = store.runs(limit=1)
    except (StoreError, OSError):
        return None
    return runs[0].id if runs else None


@dataclass
class Stops:
    """What the signal handler knows: the signals received, the run going on (None between runs), and whether
    it has logged the final line."""

    received: list[str] = field(default_factory=list)
    run: int | None = None
    runs: int = 0
    said: bool = False

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
    """SIGTERM and Ctrl-C stop the scheduler as Ctrl-C stops a run. During a run, this handler runs before the
    run's own Ctrl-C handling, and the run may then leave through `verify-all`'s own exit (130, which no code
    after it sees), so the lines saying so, the final one included, are written here, at once."""

    def stop(number: int, frame: FrameType | None) -> None:
        stops.received.append(signal.Signals(number).name)
        if stops.run is not None and not stops.said:
            stops.said = True
            what = (
                f"{stops.signal} during run {stops.run}: stopping; what it finished probing is stored (as an "
                "incomplete run if it was still probing)"
            )
            text = log_line(now(), what) + log_line(now(), stopped_line(stops.run, stops.signal))
            with contextlib.suppress(OSError):  # not sys.stderr: the signal may have come in the middle of a write
                os.write(2, text.encode())
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
        "format",
        "concurrency",
        "rate",
        "rate_per_server",
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
    """The service and timer, or the crontab line, on standard output; --notify is a usage error (exit 2,
    nothing printed): its URLs carry secrets, which a unit file or a crontab would show."""
    check_inputs(args)
    notifications(args)  # --notify-always without a place to notify: every scheduled run would refuse it
    words, left_out = verify_all_words(args)
    if "--notify" in left_out:  # a schedule that never notifies is not what was asked for
        raise UsageError(
            "--notify cannot go into a schedule: notification URLs carry secrets; name them in --notify-config FILE"
        )
    for flag in left_out:
        print(f"tlsverify: {flag} is not copied into the schedule; add it by hand", file=sys.stderr)
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
    # each option by the name --help shows, never a former spelling kept for old scripts
    shown = {
        a.dest: a.option_strings[-1] for a in template._actions if a.option_strings and a.help != argparse.SUPPRESS
    }
    words: list[str] = []
    left_out: list[str] = []
    for dest, default in vars(template.parse_args([])).items():
        value = getattr(args, dest, default)
        flag = shown[dest]
        if value == default:
            continue
        if dest not in _COPIED:
            left_out.append(flag)
        elif value is True:
            words.append(flag)
        else:
            for item in value if isinstance(value, list) else [value]:
                words += [flag, option_word(item)]
    if getattr(args, "db", None) is None and os.environ.get(DB_ENV):  # service and cron lack this environment
        words += ["--db", option_word(database(args))]
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
