"""Cron schedules for unattended runs: check an expression, find its fire times, run a job on them with the clock
and the sleep passed in, and write the same schedule as a systemd timer or a crontab line.

Pure but for croniter's arithmetic: nothing here reads the clock, sleeps, prints or starts a process. Datetimes
are aware; fire times follow the zone of the instant they are computed from (a `ZoneInfo` keeps cron's local
wall-clock meaning across daylight-saving changes, as cron and systemd do: see `next_fire` for the hour the
clocks go back).
"""

from __future__ import annotations

import itertools
import re
import shlex
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH_NAMES = {name: i for i, name in enumerate(_MONTHS, start=1)}
DAY_NAMES = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
FIELD_NAMES = "minute hour day-of-month month day-of-week"
MISSED_LIMIT = 1000
"""The most skipped fire times counted after one run (an every-second schedule and a run of hours)."""
NAP_S = 60.0
"""The longest single sleep while waiting: a clock that jumps (a suspend, a correction) is noticed within it."""


class ScheduleError(ValueError):
    """A cron expression that cannot be used, or a schedule that cannot be written in the form asked for; the
    message names the field and says what is wrong."""


@dataclass(frozen=True)
class FieldSpec:
    """One field of a cron expression: its name, the values it allows, and the names that stand for values."""

    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict)


SECOND = FieldSpec("second", 0, 59)
MINUTE = FieldSpec("minute", 0, 59)
HOUR = FieldSpec("hour", 0, 23)
DAY = FieldSpec("day-of-month", 1, 31)
MONTH = FieldSpec("month", 1, 12, MONTH_NAMES)
WEEKDAY = FieldSpec("day-of-week", 0, 7, DAY_NAMES)  # 0 and 7 are both Sunday
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_NUMBER = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True)
class Schedule:
    """A checked cron expression: as written, its fields with names written as numbers (5, or 6 with seconds
    first), and the values each field allows (weekdays 0-6, Sunday 0)."""

    text: str
    fields: tuple[str, ...]
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @property
    def has_seconds(self) -> bool:
        return len(self.fields) == 6

    @property
    def expression(self) -> str:
        """The fields as croniter and cron read them (names as numbers, an alias spelled out)."""
        return " ".join(self.fields)

    @property
    def wildcard_time(self) -> bool:
        """Vixie cron's "wildcard" job: its minute or hour field (or its seconds field) starts with `*`
        (`*/15 2 * * *`, `0 * * * *`, @hourly). When the clocks go back, such a schedule fires in both passes of
        the repeated hour; one with fixed times (`30 2 * * *`, `0,30 1-3 * * *`) fires once (see `next_fire`)."""
        return any(word.startswith("*") for word in self.fields[:-3])

    @property
    def day_or(self) -> bool:
        """Cron's rule: when both day fields are restricted, a day matching either one fires."""
        return self.fields[-3] != "*" and self.fields[-1] != "*"


def parse_cron(text: str) -> Schedule:
    """`text` checked: 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or an alias
    such as @daily; numbers, lists, ranges, steps, `*` and month and day names. ScheduleError otherwise."""
    words = ALIASES.get(text.strip().lower(), text).split()
    if len(words) == 1 and words[0].startswith("@"):
        raise ScheduleError(f"{words[0]!r} is not a schedule; the aliases are {', '.join(ALIASES)}")
    if len(words) not in (5, 6):
        raise ScheduleError(
            f"{text!r} has {len(words)} field{'' if len(words) == 1 else 's'}; a cron expression has 5 "
            f"({FIELD_NAMES}), or 6 with seconds first"
        )
    specs = (SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY)[6 - len(words) :]
    parsed = [parse_field(word, spec) for word, spec in zip(words, specs, strict=True)]
    values = [frozenset({0})] * (6 - len(words)) + [found for _, found in parsed]
    schedule = Schedule(text.strip(), tuple(normal for normal, _ in parsed), *values)
    _check_days(schedule)
    from croniter import croniter  # 10 ms: imported when a schedule is read, not at every start

    if not croniter.is_valid(schedule.expression, second_at_beginning=schedule.has_seconds):
        raise ScheduleError(f"{text!r}: croniter cannot use {schedule.expression!r}")
    return schedule


def parse_field(text: str, spec: FieldSpec) -> tuple[str, frozenset[int]]:
    """One field: its text with names as numbers, and the values it allows; ScheduleError naming the field."""
    try:
        items = [_parse_item(item, spec) for item in text.lower().split(",")]
    except ScheduleError as exc:
        raise ScheduleError(f"{spec.name} field {text!r}: {exc}") from None
    values = frozenset(v % 7 if spec is WEEKDAY else v for _, found in items for v in found)
    return ",".join(normal for normal, _ in items), values


def _parse_item(item: str, spec: FieldSpec) -> tuple[str, range]:
    """One item of a list: `*`, N, N-M, each with an optional /STEP."""
    if not item:
        raise ScheduleError("an empty list item (two commas together, or a comma at an end)")
    base, slash, step_text = item.partition("/")
    step = _step(step_text, spec) if slash else 1
    if base == "*":
        low, high = spec.low, spec.high
        normal = "*"
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _value(first, spec), _value(last, spec)
        if low > high:
            raise ScheduleError(f"the range {base} runs backwards (cron ranges do not wrap; write two ranges)")
        normal = f"{low}-{high}"
    elif slash:
        raise ScheduleError(f"a step needs a range or '*' (write {base}-{spec.high}/{step_text} or */{step_text})")
    else:
        low = high = _value(base, spec)
        normal = str(low)
    return normal + (f"/{step}" if slash else ""), range(low, high + 1, step)


def _step(text: str, spec: FieldSpec) -> int:
    if not _NUMBER.fullmatch(text):
        raise ScheduleError(f"the step {text!r} is not a whole number")
    step = int(text)
    if not 1 <= step <= spec.high - spec.low:
        raise ScheduleError(f"the step {step} is not from 1 to {spec.high - spec.low}")
    return step


def _value(text: str, spec: FieldSpec) -> int:
    if text in spec.names:
        return spec.names[text]
    if not _NUMBER.fullmatch(text):
        names = list(spec.names)
        hint = f" or a name ({names[0]}..{names[-1]})" if names else ""
        raise ScheduleError(f"{text!r} is not a number{hint}")
    number = int(text)
    if not spec.low <= number <= spec.high:
        raise ScheduleError(f"{number} is out of range {spec.low}-{spec.high}")
    return number


def _check_days(schedule: Schedule) -> None:
    """Refuse day fields that never fire, or that cron implementations read differently."""
    day, weekday = schedule.fields[-3], schedule.fields[-1]
    if schedule.day_or and (day.startswith("*") or weekday.startswith("*")):
        raise ScheduleError(
            f"day-of-month {day!r} with day-of-week {weekday!r}: with both restricted, cron fires on a day matching "
            "either, but implementations disagree when one starts with '*'; list the days instead (e.g. 1-31/2)"
        )
    if weekday == "*" and not any(d <= _DAYS_IN_MONTH[m - 1] for m in schedule.months for d in schedule.days):
        raise ScheduleError(f"day-of-month {day!r} and month {schedule.fields[-2]!r} never meet: it would never fire")


# --- fire times ----------------------------------------------------------------------------------------------


def next_fire(schedule: Schedule, after: datetime, since: datetime | None = None) -> datetime:
    """The first fire time strictly after `after` (aware), in its zone.

    The hour the clocks go back comes twice (02:00-02:59 at +02:00, then again at +01:00), and so does each
    wall-clock time in it. Vixie cron's rule, which this follows: a schedule with fixed times (neither its
    minute nor its hour field starts with `*`: `30 2 * * *`, `0,30 1-3 * * *`) fires once at such a time, in
    the first pass; a wildcard schedule (`*/15 2 * * *`, `0 * * * *`, @hourly) fires in both, as they are
    different instants. The second pass of a fixed time is skipped when its first pass came after `since` (when
    the watching began: the first pass was then a fire time, run or overrun); when the watching began later,
    the second pass is the one that fires, so the job still runs once that night. Without `since`, nothing
    before `after` was watched, and nothing is skipped. (Vixie cron started between the two passes runs a
    fixed-time job neither time that night; this runs it once.) The hour the clocks go forward is croniter's: a
    fixed time in it (02:30) fires at 03:00, when the clocks have jumped, which is when Vixie cron runs it too."""
    from croniter import croniter

    times = croniter(schedule.expression, after, second_at_beginning=schedule.has_seconds)
    while True:
        found: datetime = times.get_next(datetime)
        if not second_pass(schedule, found, since):
            return found


def second_pass(schedule: Schedule, moment: datetime, since: datetime | None) -> bool:
    """Whether `moment` is a fixed-time schedule's fire time in the second pass of the hour the clocks go back,
    with its first pass after `since`, so skipped (see `next_fire`)."""
    if since is None or schedule.wildcard_time or moment.tzinfo is None:
        return False
    local = moment.astimezone(UTC).astimezone(moment.tzinfo)  # fold set by the zone itself, whatever croniter set
    first = local.replace(fold=0)
    return local.fold == 1 and first.utcoffset() != local.utcoffset() and seconds_between(since, first) > 0


def missed_fires(
    schedule: Schedule, fired: datetime, until: datetime, limit: int = MISSED_LIMIT, since: datetime | None = None
) -> list[datetime]:
    """The fire times after `fired` up to and including `until`, at most `limit`: those a run that started at
    `fired` and ended at `until` overran (or a sleep past its time slept through). A fixed time's second pass
    when the clocks go back is not one of them if its first pass came after `since` (default: `fired`)."""
    from croniter import croniter

    times = croniter(schedule.expression, fired, second_at_beginning=schedule.has_seconds)
    missed: list[datetime] = []
    while len(missed) < limit:
        candidate: datetime = times.get_next(datetime)
        if seconds_between(candidate, until) < 0:
            break
        if not second_pass(schedule, candidate, fired if since is None else since):
            missed.append(candidate)
    return missed


def seconds_between(start: datetime, end: datetime) -> float:
    """Elapsed seconds from `start` to `end`, by the instants (not the wall clock, which repeats an hour)."""
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()


def stamp(moment: datetime) -> str:
    """A moment as the log shows it: ISO 8601 to the second, with its UTC offset."""
    return moment.isoformat(timespec="seconds")


# --- the loop --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """Where the loop's time comes from and how it waits: the real clock and time.sleep, or a test's."""

    now: Callable[[], datetime]
    sleep: Callable[[float], None]


Log = Callable[[datetime, str], None]
"""Called with the moment and one line of what happened."""


class RunInterrupted(BaseException):
    """Ctrl-C (or SIGTERM made Ctrl-C) came while a run was going on, not between runs."""

    def __init__(self, number: int) -> None:
        super().__init__(f"run {number} interrupted")
        self.number = number


def run_on_schedule(
    schedule: Schedule, job: Callable[[], int], clock: Clock, log: Log, max_runs: int | None = None
) -> int:
    """Run `job` at each fire time, one run at a time, `max_runs` times (for ever without it); returns the
    number of runs. A run that raises is logged and the loop goes on; fire times a run overran are skipped,
    and the next one is the first after its end; a fixed time repeated when the clocks go back fires once
    (`next_fire`). KeyboardInterrupt between runs propagates as it is; during a run it becomes RunInterrupted."""
    watching = clock.now()
    due = next_fire(schedule, watching)
    log(clock.now(), f"cron {schedule.text!r}: first run at {stamp(due)}")
    runs = 0
    while max_runs is None or runs < max_runs:
        wait_until(due, clock)
        runs += 1
        ended, outcome = one_run(runs, job, clock, log)
        skipped = missed_fires(schedule, due, ended, since=watching)
        due = next_fire(schedule, ended, since=watching)
        then = f"next run at {stamp(due)}" if max_runs is None or runs < max_runs else f"{runs} runs done"
        log(ended, f"run {runs} {outcome}{_skipped(skipped)}; {then}")
    return runs


def wait_until(moment: datetime, clock: Clock, nap_s: float = NAP_S) -> None:
    """Sleep until the clock reaches `moment`, in naps of at most `nap_s` seconds."""
    while (left := seconds_between(clock.now(), moment)) > 0:
        clock.sleep(min(left, nap_s))


def one_run(number: int, job: Callable[[], int], clock: Clock, log: Log) -> tuple[datetime, str]:
    """Run the job once; its end and what became of it ("ended: exit N after S s" or "failed ...")."""
    started = clock.now()
    log(started, f"run {number} started")
    try:
        code = job()
    except KeyboardInterrupt:
        raise RunInterrupted(number) from None
    except Exception as exc:
        ended = clock.now()
        return ended, f"failed after {seconds_between(started, ended):.1f} s: {describe_failure(exc)}"
    ended = clock.now()
    return ended, f"ended: exit {int(code)} after {seconds_between(started, ended):.1f} s"


def describe_failure(exc: Exception) -> str:
    """What went wrong, without the exception's text (a library's message may quote a URL with its secret):
    an OSError's reason and file, or the exception's type and where it was raised."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"internal error {type(exc).__name__}{where} (its message is not logged: it may hold a secret)"


def _skipped(missed: Sequence[datetime]) -> str:
    if not missed:
        return ""
    count = f"{len(missed)} or more" if len(missed) >= MISSED_LIMIT else str(len(missed))
    span = stamp(missed[0]) if len(missed) == 1 else f"{stamp(missed[0])} to {stamp(missed[-1])}"
    return f"; it overran {count} fire time{'' if len(missed) == 1 else 's'} ({span}), skipped"


# --- systemd and crontab -----------------------------------------------------------------------------------


def on_calendar(schedule: Schedule) -> tuple[str, ...]:
    """systemd OnCalendar= expressions that fire exactly when `schedule` does: one, or two when both day fields
    are restricted (cron fires on either; one systemd expression requires both)."""
    time = ":".join(_numbers(v, s) for v, s in ((schedule.hours, HOUR), (schedule.minutes, MINUTE)))
    time += f":{_numbers(schedule.seconds, SECOND)}"
    month = _numbers(schedule.months, MONTH)
    if schedule.day_or and (len(schedule.days) == 31 or len(schedule.weekdays) == 7):
        return (f"*-{month}-* {time}",)  # every day matches one of them
    if schedule.day_or:
        return f"*-{month}-{_numbers(schedule.days, DAY)} {time}", f"{_weekdays(schedule.weekdays)} *-{month}-* {time}"
    weekdays = "" if len(schedule.weekdays) == 7 else f"{_weekdays(schedule.weekdays)} "
    return (f"{weekdays}*-{month}-{_numbers(schedule.days, DAY)} {time}",)


def _numbers(values: frozenset[int], spec: FieldSpec) -> str:
    """One systemd calendar component: `*`, `START/STEP` running to the field's end, or a list of values and
    `A..B` ranges, two digits each."""
    ordered = sorted(values)
    if len(ordered) == spec.high - spec.low + 1:
        return "*"
    steps = {b - a for a, b in itertools.pairwise(ordered)}
    if len(ordered) >= 3 and len(steps) == 1 and min(steps) > 1 and ordered[-1] + min(steps) > spec.high:
        return f"{ordered[0]:02d}/{min(steps)}"
    return ",".join(f"{a:02d}" if a == b else f"{a:02d}..{b:02d}" for a, b in _runs(ordered))


_SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _weekdays(values: frozenset[int]) -> str:
    """Cron weekdays (Sunday 0) as systemd's, Monday first: `Mon..Fri`, `Sat,Sun`."""
    ordered = sorted((d - 1) % 7 for d in values)
    return ",".join(
        _SYSTEMD_DAYS[a] if a == b else f"{_SYSTEMD_DAYS[a]}..{_SYSTEMD_DAYS[b]}" for a, b in _runs(ordered)
    )


def _runs(ordered: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted values as (first, last): runs of three or more consecutive values, and single values."""
    groups: list[list[int]] = []
    for value in ordered:
        if groups and value == groups[-1][-1] + 1:
            groups[-1].append(value)
        else:
            groups.append([value])
    runs: list[tuple[int, int]] = []
    for group in groups:
        runs.extend([(group[0], group[-1])] if len(group) >= 3 else [(value, value) for value in group])
    return runs


@dataclass(frozen=True)
class Invocation:
    """How a scheduled run is started: the command's words, the folder it runs in, the user it runs as."""

    command: tuple[str, ...]
    directory: Path
    user: str | None = None


UNIT = "tlsverify"


def systemd_units(schedule: Schedule, invocation: Invocation) -> str:
    """A oneshot service running the command and a timer firing it on the schedule, as one text with a
    comment line naming each file."""
    _check_printable(invocation)
    user = f"User={_unit_value(invocation.user)}\n" if invocation.user else ""
    calendar = "".join(f"OnCalendar={expression}\n" for expression in on_calendar(schedule))
    accuracy = "AccuracySec=1s\n" if schedule.has_seconds else ""
    return (
        f"# /etc/systemd/system/{UNIT}.service\n"
        "[Unit]\n"
        "Description=tlsverify verify-all: which external TLS servers this client can still talk to\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"{user}"
        f"WorkingDirectory={_unit_value(str(invocation.directory))}\n"
        f"ExecStart={' '.join(_exec_word(word) for word in invocation.command)}\n"
        "# Secrets the endpoints name by environment variable (proxy credentials): a file only root can read,\n"
        "# EnvironmentFile=/etc/tlsverify.env\n"
        "\n"
        f"# /etc/systemd/system/{UNIT}.timer\n"
        "[Unit]\n"
        f"Description=tlsverify verify-all on cron schedule {schedule.expression}\n"
        "\n"
        "[Timer]\n"
        f"{calendar}"
        f"{accuracy}"
        "Persistent=true\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
        "\n"
        f"# then: systemctl daemon-reload && systemctl enable --now {UNIT}.timer\n"
    )


def crontab_line(schedule: Schedule, invocation: Invocation) -> str:
    """A crontab line running the command in its folder on the schedule, with a comment line above it."""
    if schedule.has_seconds:
        raise ScheduleError(
            f"{schedule.text!r} has a seconds field; crontab fires at most once a minute (drop the seconds, or "
            "print --systemd)"
        )
    _check_printable(invocation)
    command = f"cd {shlex.quote(str(invocation.directory))} && {shlex.join(invocation.command)}"
    return (
        "# tlsverify verify-all (crontab -e to add it; cron's time zone is the machine's)\n"
        f"{schedule.expression} {command.replace('%', chr(92) + '%')}\n"
    )


def _check_printable(invocation: Invocation) -> None:
    words = (*invocation.command, str(invocation.directory), invocation.user or "")
    if any(ord(c) < 32 or ord(c) == 127 for word in words for c in word):
        raise ScheduleError("a path or an option has a control character (a newline?); it cannot go in the file")


_PLAIN_WORD = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


def _exec_word(word: str) -> str:
    """One ExecStart= word: as it is when plain, else double-quoted with `\\` and `"` escaped; `%` (a unit
    specifier) and `$` (a variable) doubled wherever they are."""
    quoted = word if _PLAIN_WORD.fullmatch(word) else '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return quoted.replace("%", "%%").replace("$", "$$")


def _unit_value(value: str) -> str:
    """A unit file value taken as it is, but for `%` (a specifier)."""
    return value.replace("%", "%%")
