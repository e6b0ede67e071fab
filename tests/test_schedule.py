"""`tlsverify schedule`: cron expressions checked, fire times (a fixed time repeated when the clocks go back fires
once), the loop on a fake clock (a slow run skips the fire times it overran, a failing run does not stop it), the
systemd and crontab text (OnCalendar= checked against `systemd-analyze` where it is installed), what `schedule run`
refuses at start (a database in use by another scheduler, another application's or a damaged one), its exit code
after --max-runs, and real scheduled runs stopped by SIGTERM, between runs, in one, and while it notifies."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import pytest

from scanner.cli import main
from scanner.cli.schedule import option_word, program, scheduler_lock, verify_all_words, worst_exit
from scanner.config import write_endpoints
from scanner.lab.demo import DEMO_SERVERS
from scanner.lab.hostile import DribbleServer
from scanner.lab.servers import Lab
from scanner.models import Proxy
from scanner.schedule import (
    Clock,
    Invocation,
    RunInterrupted,
    ScheduleError,
    crontab_line,
    missed_fires,
    next_fire,
    on_calendar,
    parse_cron,
    run_on_schedule,
    stamp,
    systemd_units,
)
from scanner.verify import UsageError
from tests.conftest import ROOT

POLICY = str(ROOT / "policy.yaml")
START = datetime(2025, 6, 1, 1, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- cron expressions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("0 2 * * *", "0 2 * * *"),
        ("*/15 8-17 * * MON-fri", "*/15 8-17 * * 1-5"),
        ("0 0 * jan,Jul sun", "0 0 * 1,7 0"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("*/2 * * * * *", "*/2 * * * * *"),
        ("  5 4 1-31/2 * 7  ", "5 4 1-31/2 * 7"),
    ],
)
def test_cron_expressions_are_read_with_names_as_numbers(text: str, expression: str) -> None:
    assert parse_cron(text).expression == expression


def test_sunday_is_0_and_7() -> None:
    assert parse_cron("0 0 * * 7").weekdays == parse_cron("0 0 * * 0").weekdays == frozenset({0})
    assert parse_cron("0 0 * * 5-7").weekdays == frozenset({5, 6, 0})
    assert parse_cron("0 0 * * */2").weekdays == frozenset({0, 2, 4, 6})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("61 * * * *", "minute field '61': 61 is out of range 0-59"),
        ("* 24 * * *", "hour field '24': 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month field '0': 0 is out of range 1-31"),
        ("* * * 13 *", "month field '13': 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week field '8': 8 is out of range 0-7"),
        ("* * *", "'* * *' has 3 fields; a cron expression has 5 (minute hour day-of-month month day-of-week)"),
        ("* * * * * * *", "has 7 fields"),
        ("", "has 0 fields"),
        ("@reboot", "'@reboot' is not a schedule; the aliases are @yearly"),
        ("x * * * *", "minute field 'x': 'x' is not a number"),
        ("* * * foo *", "month field 'foo': 'foo' is not a number or a name (jan..dec)"),
        ("* * * * funday", "'funday' is not a number or a name (sun..sat)"),
        ("* * * * mon#2", "'mon#2' is not a number or a name (sun..sat)"),
        ("* * L * *", "day-of-month field 'L'"),
        ("1,,2 * * * *", "minute field '1,,2': an empty list item"),
        ("*/0 * * * *", "minute field '*/0': the step 0 is not from 1 to 59"),
        ("*/x * * * *", "the step 'x' is not a whole number"),
        ("5/10 * * * *", "a step needs a range or '*' (write 5-59/10 or */10)"),
        ("* * * * 5-1", "day-of-week field '5-1': the range 5-1 runs backwards"),
        ("0 0 31 2 *", "day-of-month '31' and month '2' never meet: it would never fire"),
        ("0 0 30,31 feb *", "never meet"),
        ("0 0 */2 * 1", "implementations disagree when one starts with '*'"),
        ("60 * * * * *", "second field '60': 60 is out of range 0-59"),
    ],
)
def test_a_bad_cron_expression_names_its_problem(text: str, words: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_cron(text)
    assert words in str(caught.value)


def test_a_bad_cron_expression_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "run", "--cron", "0 25 * * *", "--policy", POLICY]) == 2
    assert "argument --cron: hour field '25': 25 is out of range 0-23" in capsys.readouterr().err


def test_a_missing_endpoints_file_fails_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "endpoints.yaml")
    code = main(["schedule", "run", "--cron", "* * * * * *", "--endpoints", missing, "--policy", POLICY])
    assert code == 2
    err = capsys.readouterr().err
    assert "file not found" in err and "run 1" not in err
    assert not (tmp_path / "reports").exists()


# --- fire times ------------------------------------------------------------------------------------------------


def test_the_next_fire_time_is_strictly_after() -> None:
    daily = parse_cron("0 2 * * *")
    assert next_fire(daily, at("2025-06-01 01:59:59")) == at("2025-06-01 02:00:00")
    assert next_fire(daily, at("2025-06-01 02:00:00")) == at("2025-06-02 02:00:00")
    assert next_fire(parse_cron("*/2 * * * * *"), at("2025-06-01 02:00:00.5")) == at("2025-06-01 02:00:02")
    either = parse_cron("0 0 13 * fri")  # the 13th, or a Friday
    assert next_fire(either, at("2025-06-01 00:00")) == at("2025-06-06 00:00")
    assert next_fire(either, at("2025-06-12 00:00")) == at("2025-06-13 00:00")


def test_fire_times_keep_the_wall_clock_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    before = datetime(2025, 3, 29, 6, 0, tzinfo=berlin)  # clocks go forward on the 30th
    assert next_fire(parse_cron("0 5 * * *"), before) == datetime(2025, 3, 30, 5, 0, tzinfo=berlin)
    assert next_fire(parse_cron("0 5 * * *"), before).utcoffset() == timedelta(hours=2)


def test_missed_fire_times_are_those_after_the_start_up_to_the_end() -> None:
    every_ten = parse_cron("*/10 * * * *")
    missed = missed_fires(every_ten, at("2025-06-01 00:10"), at("2025-06-01 00:40"))
    assert missed == [at("2025-06-01 00:20"), at("2025-06-01 00:30"), at("2025-06-01 00:40")]
    assert missed_fires(every_ten, at("2025-06-01 00:10"), at("2025-06-01 00:15")) == []
    assert len(missed_fires(parse_cron("* * * * * *"), START, START + timedelta(days=1), limit=50)) == 50


# --- the loop, on a fake clock -----------------------------------------------------------------------------------


@dataclass
class FakeClock:
    """Time that moves only when the loop sleeps or a job says it took a while."""

    moment: datetime
    naps: list[float] = field(default_factory=list)
    zone: tzinfo = UTC
    """The zone `now` is in; `moment` itself moves in UTC (wall-clock arithmetic would go wrong across DST)."""

    def now(self) -> datetime:
        return self.moment.astimezone(self.zone)

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.moment += timedelta(seconds=seconds)

    @property
    def clock(self) -> Clock:
        return Clock(self.now, self.sleep)


@dataclass
class Recorder:
    """A job that notes when it started, takes `durations` seconds, and returns (or raises) `outcomes`."""

    fake: FakeClock
    durations: list[float]
    outcomes: list[int | BaseException]
    started: list[datetime] = field(default_factory=list)

    def __call__(self) -> int:
        self.started.append(self.fake.now())
        self.fake.moment += timedelta(seconds=self.durations.pop(0))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def loop(text: str, durations: list[float], outcomes: list[int | BaseException]) -> tuple[Recorder, list[str]]:
    fake = FakeClock(START + timedelta(seconds=30))
    job = Recorder(fake, durations, outcomes)
    lines: list[str] = []
    runs = run_on_schedule(parse_cron(text), job, fake.clock, lambda when, what: lines.append(f"{when} {what}"), 3)
    assert runs == 3
    return job, lines


def test_runs_start_at_the_fire_times() -> None:
    job, lines = loop("0 2 * * *", [60, 60, 60], [0, 1, 0])
    assert job.started == [at("2025-06-01 02:00"), at("2025-06-02 02:00"), at("2025-06-03 02:00")]
    assert lines[0] == "2025-06-01 01:00:30+00:00 cron '0 2 * * *': first run at 2025-06-01T02:00:00+00:00"
    assert lines[1] == "2025-06-01 02:00:00+00:00 run 1 started"
    assert (
        lines[2] == "2025-06-01 02:01:00+00:00 run 1 ended: exit 0 after 60.0 s; next run at 2025-06-02T02:00:00+00:00"
    )
    assert "run 2 ended: exit 1 after 60.0 s" in lines[4]
    assert lines[-1].endswith("run 3 ended: exit 0 after 60.0 s; 3 runs done")


def test_a_slow_run_skips_the_fire_times_it_overran() -> None:
    job, lines = loop("*/10 * * * *", [25 * 60, 60, 60], [0, 0, 0])
    assert job.started == [at("2025-06-01 01:10"), at("2025-06-01 01:40"), at("2025-06-01 01:50")]
    assert (
        "run 1 ended: exit 0 after 1500.0 s; it overran 2 fire times (2025-06-01T01:20:00+00:00 to "
        "2025-06-01T01:30:00+00:00), skipped; next run at 2025-06-01T01:40:00+00:00"
    ) in lines[2]


def test_a_failing_run_does_not_stop_the_loop_and_its_message_is_not_logged() -> None:
    problems: list[int | BaseException] = [RuntimeError("https://hooks.example/T0KEN"), OSError(28, "No space left"), 1]
    job, lines = loop("0 * * * *", [5, 5, 5], problems)
    assert job.started == [at("2025-06-01 02:00"), at("2025-06-01 03:00"), at("2025-06-01 04:00")]
    assert re.search(
        r"run 1 failed after 5\.0 s: internal error RuntimeError at test_schedule\.py:\d+ in __call__", lines[2]
    )
    assert "run 2 failed after 5.0 s: No space left; next run at" in lines[4]
    assert "run 3 ended: exit 1" in lines[6]
    assert not any("T0KEN" in line for line in lines)


def test_a_slept_through_fire_time_is_run_late_once_and_the_rest_skipped() -> None:
    fake = FakeClock(START)
    lines: list[str] = []

    def suspend(seconds: float) -> None:  # the machine sleeps four hours through the first nap
        fake.moment += timedelta(hours=4)

    job = Recorder(fake, [1], [0])
    run_on_schedule(parse_cron("0 * * * *"), job, Clock(fake.now, suspend), lambda _, what: lines.append(what), 1)
    assert job.started == [at("2025-06-01 05:00")]
    assert "it overran 3 fire times (2025-06-01T03:00:00+00:00 to 2025-06-01T05:00:00+00:00)" in lines[-1]


def test_the_wait_is_in_naps_so_a_clock_jump_is_noticed() -> None:
    fake = FakeClock(START)
    run_on_schedule(parse_cron("0 2 * * *"), Recorder(fake, [1], [0]), fake.clock, lambda *_: None, 1)
    assert fake.naps == [60.0] * 60


def test_ctrl_c_between_runs_propagates_and_during_a_run_says_which() -> None:
    fake = FakeClock(START)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_on_schedule(parse_cron("0 2 * * *"), Recorder(fake, [], []), Clock(fake.now, interrupted), print)
    job = Recorder(fake, [1, 1], [0, KeyboardInterrupt()])
    with pytest.raises(RunInterrupted) as caught:
        run_on_schedule(parse_cron("0 2 * * *"), job, fake.clock, lambda *_: None)
    assert caught.value.number == 2


# --- the hour the clocks go back ---------------------------------------------------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = datetime(2025, 10, 25, 22, 0, tzinfo=UTC)
"""Midnight in Berlin; at 03:00+02:00 (01:00 UTC) the clocks go back to 02:00+01:00."""


def berlin_runs(text: str, start: datetime, runs: int, duration_s: float = 60) -> tuple[list[str], list[str]]:
    """When each of `runs` runs started, as the log stamps them (with their UTC offset), and the log."""
    fake = FakeClock(start, zone=BERLIN)
    job = Recorder(fake, [duration_s] * runs, [0] * runs)
    lines: list[str] = []
    run_on_schedule(parse_cron(text), job, fake.clock, lambda _, what: lines.append(what), runs)
    return [stamp(moment) for moment in job.started], lines


@pytest.mark.parametrize(
    ("text", "started"),
    [
        ("30 2 * * *", ["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"]),
        ("0 30 2 * * *", ["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"]),
        ("0,30 2 * * *", ["2025-10-26T02:00:00+02:00", "2025-10-26T02:30:00+02:00", "2025-10-27T02:00:00+01:00"]),
        ("0 1-3 * * *", ["2025-10-26T01:00:00+02:00", "2025-10-26T02:00:00+02:00", "2025-10-26T03:00:00+01:00"]),
    ],
)
def test_a_fixed_time_repeated_when_the_clocks_go_back_fires_once(text: str, started: list[str]) -> None:
    assert berlin_runs(text, NIGHT, len(started))[0] == started


@pytest.mark.parametrize(
    ("text", "started"),
    [
        ("0 * * * *", ["01:00:00+02:00", "02:00:00+02:00", "02:00:00+01:00", "03:00:00+01:00"]),
        ("@hourly", ["01:00:00+02:00", "02:00:00+02:00", "02:00:00+01:00", "03:00:00+01:00"]),
        ("*/30 2 * * *", ["02:00:00+02:00", "02:30:00+02:00", "02:00:00+01:00", "02:30:00+01:00"]),
        ("0 */5 2 * * *", ["02:00:00+02:00", "02:05:00+02:00", "02:10:00+02:00", "02:15:00+02:00"]),
    ],
)
def test_a_wildcard_schedule_fires_in_both_passes_of_the_repeated_hour(text: str, started: list[str]) -> None:
    assert berlin_runs(text, NIGHT, len(started))[0] == [f"2025-10-26T{time}" for time in started]


def test_which_schedules_are_wildcard_ones_as_vixie_cron_says() -> None:
    assert [parse_cron(text).wildcard_time for text in ("* 2 * * *", "0 */2 * * *", "*/10 30 2 * * *")] == [True] * 3
    assert [parse_cron(text).wildcard_time for text in ("30 2 * * *", "0 1-3 * * *", "@daily", "0 0 2 * * *")] == [
        False
    ] * 4


@pytest.mark.parametrize(
    "start",
    [
        datetime(2025, 10, 26, 0, 45, tzinfo=UTC),  # 02:45+02:00: after the first 02:30, before the clocks go back
        datetime(2025, 10, 26, 1, 10, tzinfo=UTC),  # 02:10+01:00: in the repeated hour
    ],
)
def test_a_scheduler_started_after_the_first_pass_fires_in_the_second(start: datetime) -> None:
    started, _ = berlin_runs("30 2 * * *", start, 2)
    assert started == ["2025-10-26T02:30:00+01:00", "2025-10-27T02:30:00+01:00"]


def test_a_second_pass_is_not_counted_as_overrun() -> None:
    started, lines = berlin_runs("0,30 2 * * *", NIGHT, 2, duration_s=90 * 60)  # 02:00+02:00 to 02:30+01:00
    assert started == ["2025-10-26T02:00:00+02:00", "2025-10-27T02:00:00+01:00"]
    assert "it overran 1 fire time (2025-10-26T02:30:00+02:00), skipped; next run at 2025-10-27T02:00" in lines[2]


def test_without_since_nothing_is_skipped() -> None:
    after = datetime(2025, 10, 26, 0, 31, tzinfo=UTC).astimezone(BERLIN)  # 02:31+02:00
    assert stamp(next_fire(parse_cron("30 2 * * *"), after)) == "2025-10-26T02:30:00+01:00"
    watched = datetime(2025, 10, 25, 22, 0, tzinfo=UTC)
    assert stamp(next_fire(parse_cron("30 2 * * *"), after, since=watched)) == "2025-10-27T02:30:00+01:00"


# --- systemd and crontab -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "calendar"),
    [
        ("0 2 * * *", ["*-*-* 02:00:00"]),
        ("@hourly", ["*-*-* *:00:00"]),
        ("*/15 * * * *", ["*-*-* *:00/15:00"]),
        ("5-59/20 3,15 * * *", ["*-*-* 03,15:05/20:00"]),
        ("0 8-17 * * mon-fri", ["Mon..Fri *-*-* 08..17:00:00"]),
        ("0 0 * * 6,0", ["Sat,Sun *-*-* 00:00:00"]),
        ("0 0 * * 0-2,4", ["Mon,Tue,Thu,Sun *-*-* 00:00:00"]),
        ("30 4 1 */3 *", ["*-01/3-01 04:30:00"]),
        ("0 0 1,15 * 1", ["*-*-01,15 00:00:00", "Mon *-*-* 00:00:00"]),
        ("0 0 1-31 * 1", ["*-*-* 00:00:00"]),
        ("0 6 1-7 jun sun", ["*-06-01..07 06:00:00", "Sun *-06-* 06:00:00"]),
        ("*/2 * * * * *", ["*-*-* *:*:00/2"]),
        ("0,30 0 0 1 1 *", ["*-01-01 00:00:00,30"]),
        ("@yearly", ["*-01-01 00:00:00"]),
    ],
)
def test_cron_to_on_calendar(text: str, calendar: list[str]) -> None:
    assert list(on_calendar(parse_cron(text))) == calendar


ORACLE_CASES = [
    "0 2 * * *",
    "*/15 8-17 * * mon-fri",
    "5-59/20 3,15 * * *",
    "0 0 1,15 * 1",
    "0 6 1-7 jun sun",
    "30 4 1 */3 *",
    "0 0 29 2 *",
    "0 0 31 * *",
    "7 */5 2-9/3 1-6,11 0,3-5",
    "*/7 * * * * *",
    "@weekly",
]
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
_ELAPSE = re.compile(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("text", ORACLE_CASES)
def test_on_calendar_fires_when_croniter_does_by_systemd_analyze(text: str) -> None:
    schedule = parse_cron(text)
    base, count = at("2024-12-30 12:34:56"), 40
    command = [str(SYSTEMD_ANALYZE), "calendar", f"--iterations={count}", "--base-time=2024-12-30 12:34:56 UTC"]
    found = subprocess.run(
        [*command, *on_calendar(schedule)], capture_output=True, text=True, check=True, env={**os.environ, "TZ": "UTC"}
    )
    systemd = sorted({at(moment) for moment in _ELAPSE.findall(found.stdout)})[:count]
    expected, moment = [], base
    for _ in range(count):
        moment = next_fire(schedule, moment)
        expected.append(moment)
    assert systemd == expected


def invocation(tmp_path: Path) -> Invocation:
    folder = tmp_path / "nightly 100%"
    return Invocation(("/opt/tls verify/bin/tlsverify", "verify-all", "--only", "a$b", "--out", 'x"y'), folder, "ops")


def test_the_systemd_units(tmp_path: Path) -> None:
    text = systemd_units(parse_cron("0 2 * * mon-fri"), invocation(tmp_path))
    assert "Type=oneshot\nUser=ops\n" in text
    assert f"WorkingDirectory={tmp_path}/nightly 100%%\n" in text
    assert 'ExecStart="/opt/tls verify/bin/tlsverify" verify-all --only "a$$b" --out "x\\"y"\n' in text
    assert "[Timer]\nOnCalendar=Mon..Fri *-*-* 02:00:00\nPersistent=true\n" in text
    assert "WantedBy=timers.target" in text
    assert "AccuracySec=1s" in systemd_units(parse_cron("*/5 * * * * *"), invocation(tmp_path))


def test_the_crontab_line_runs_the_same_words_in_the_same_folder(tmp_path: Path) -> None:
    comment, line = crontab_line(parse_cron("@daily"), invocation(tmp_path)).splitlines()
    assert comment.startswith("# ")
    assert line.startswith("0 0 * * * cd ")
    command = line.removeprefix("0 0 * * * ").replace("\\%", "%")  # cron turns \% into %
    assert "%" not in line.replace("\\%", "")
    words = shlex.split(command)
    assert words[:3] == ["cd", f"{tmp_path}/nightly 100%", "&&"]
    assert words[3:] == list(invocation(tmp_path).command)


def test_crontab_cannot_take_seconds_and_no_file_takes_a_newline(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match="crontab fires at most once a minute"):
        crontab_line(parse_cron("*/5 * * * * *"), invocation(tmp_path))
    broken = Invocation(("tlsverify", "verify-all", "--only", "a\nb"), tmp_path)
    with pytest.raises(ScheduleError, match="control character"):
        systemd_units(parse_cron("@daily"), broken)


@pytest.fixture
def here(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with an endpoints file of one loopback server and the shipped policy, as the working directory."""
    server = lab.start(DEMO_SERVERS[0].spec)  # type: ignore[arg-type]
    write_endpoints(
        [{"id": "apns", "host": "apns.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}],
        tmp_path / "endpoints.yaml",
        "schedule",
        lab.certificates.ca_bundle(),
    )
    shutil.copy(POLICY, tmp_path / "policy.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TLSVERIFY_DB")  # the default database: reports/tlsverify.sqlite in this folder
    return tmp_path


def test_print_systemd_for_these_paths_and_options(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "notify.txt").write_text("json://127.0.0.1:9/hook\n")
    options = ["--only", "apns", "--rate", "20", "--period-days", "14"]
    options += ["--notify-config", "notify.txt", "--notify-always"]
    assert main(["schedule", "print", "--systemd", "--cron", "0 2 * * *", *options]) == 0
    out, err = capsys.readouterr()
    python = sys.executable
    assert f"WorkingDirectory={here}\n" in out
    words = "--only apns --rate 20.0 --period-days 14 --notify-config notify.txt --notify-always"
    assert f"ExecStart={python} -m scanner verify-all {words}\n" in out
    assert "OnCalendar=*-*-* 02:00:00\n" in out
    assert "json://" not in out and err == ""
    service, timer = out.split("\n\n# /etc/systemd/system/tlsverify.timer\n")
    (here / "tlsverify.service").write_text(service)
    (here / "tlsverify.timer").write_text(timer)
    if SYSTEMD_ANALYZE is not None:
        checked = subprocess.run(
            [SYSTEMD_ANALYZE, "verify", "./tlsverify.service", "./tlsverify.timer"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


def test_print_names_the_database_that_tlsverify_db_names(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A service or cron job does not run with this shell's environment: the database it names is written out."""
    monkeypatch.setenv("TLSVERIFY_DB", "/var/lib/tlsverify/history.sqlite")
    assert main(["schedule", "print", "--crontab", "--cron", "0 2 * * *"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("verify-all --db /var/lib/tlsverify/history.sqlite")


def test_print_crontab(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "notify.txt").write_text("json://user:s3cret@127.0.0.1:9/hook\n")
    options = ["--out", "night", "--notify-config", "notify.txt"]
    assert main(["schedule", "print", "--crontab", "--cron", "30 1 * * sat", *options]) == 0
    out, err = capsys.readouterr()
    line = out.splitlines()[-1]
    # the former --out given, the name --help shows written: the installed line outlives the alias
    command = f"{sys.executable} -m scanner verify-all --out-dir night --notify-config notify.txt"
    assert line == f"30 1 * * 6 cd {here} && {command}"
    assert "s3cret" not in out + err


def test_print_with_notify_is_a_usage_error_and_prints_nothing(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    options = ["--cron", "0 2 * * *", "--notify", "json://user:s3cret@127.0.0.1:9/hook"]
    for form in ("--systemd", "--crontab"):
        assert main(["schedule", "print", form, *options]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert (
            "--notify cannot go into a schedule: notification URLs carry secrets; name them in --notify-config" in err
        )
        assert "s3cret" not in err


def test_print_with_notify_always_alone_is_a_usage_error(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "print", "--crontab", "--cron", "0 2 * * *", "--notify-always"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "--notify-always says when, not where" in err


def test_print_crontab_with_seconds_is_a_usage_error(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "print", "--crontab", "--cron", "* * * * * *"]) == 2
    assert "crontab fires at most once a minute" in capsys.readouterr().err


def test_the_command_is_the_console_script_when_run_as_one(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "tlsverify"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    assert program(str(script), "/usr/bin/python3") == (str(script.resolve()),)
    assert program("/src/scanner/__main__.py", "/venv/bin/python") == ("/venv/bin/python", "-m", "scanner")


def test_option_values_are_written_back_as_given() -> None:
    assert (
        option_word(Proxy("proxy.corp.example", 3128, "TLSVERIFY_PROXY_USER", "X")) == "http://proxy.corp.example:3128"
    )
    assert option_word(Proxy("::1", 3128)) == "http://[::1]:3128"
    assert option_word(0.25) == "0.25"
    assert option_word(Path("a b/c")) == "a b/c"


def test_unknown_options_are_left_out_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.delenv("TLSVERIFY_DB")
    args = argparse.Namespace(only=["a", "b"], exhaustive=True, notify=["secret"], something_new="x")
    words, left_out = verify_all_words(args)
    assert words == ["--only", "a", "--only", "b", "--exhaustive"]
    assert left_out == ["--notify"]


@pytest.mark.parametrize("kind", ["foreign", "damaged"])
def test_a_foreign_or_damaged_database_fails_at_start(
    here: Path, lab: Lab, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = here / "app.sqlite"
    if kind == "foreign":  # another application's database: refused before any traffic, left as it is
        with sqlite3.connect(db) as connection:
            connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        connection.close()
    else:
        db.write_bytes(b"this is not an SQLite file, but it is long enough to look like one " * 100)
    before = db.read_bytes()
    connections = sum(getattr(s, "connections", 0) for s in lab.servers)
    secret = "json://user:s3cret@127.0.0.1:9/hook"
    options = ["--cron", "* * * * * *", "--max-runs", "2", "--db", str(db), "--notify", secret, "--no-progress"]
    assert main(["schedule", "run", *options]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"tlsverify: error: {db}: ")
    assert ("not a tlsverify database" if kind == "foreign" else "cannot use as a tlsverify database") in err
    assert "first run at" not in err and "run 1" not in err and out == ""
    assert "s3cret" not in out + err and "Traceback" not in err
    assert db.read_bytes() == before
    assert sum(getattr(s, "connections", 0) for s in lab.servers) == connections


@pytest.mark.parametrize(
    ("codes", "worst"),
    [([], 0), ([0, 0], 0), ([0, 1, 0], 1), ([1, 2, 0], 2), ([2, 1], 2), ([0, 5], 5), ([0, 3], 3), ([3, 1, 3], 1)],
)
def test_the_worst_exit_code(codes: list[int], worst: int) -> None:
    assert worst_exit(codes) == worst


def fake_runs(monkeypatch: pytest.MonkeyPatch, outcomes: list[int | Exception]) -> None:
    """Each scheduled verify-all returns (or raises) the next outcome, without probing."""

    def verify_all(args: object) -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr("scanner.cli.schedule.verify_all_command", verify_all)


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        ([0, 1], 1),
        ([UsageError("--only x: no endpoint with that id"), 0], 2),
        ([RuntimeError("https://hooks.example/T0KEN"), 1], 2),
        ([0, 0], 0),
    ],
)
def test_max_runs_exits_with_the_worst_code_of_its_runs(
    here: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    outcomes: list[int | Exception],
    code: int,
) -> None:
    fake_runs(monkeypatch, outcomes)
    assert main(["schedule", "run", "--cron", "* * * * * *", "--max-runs", "2", "--no-progress"]) == code
    err = capsys.readouterr().err
    assert re.search(r"run 1 (ended: exit \d|failed) after [0-9.]+ s[^\n]*; next run at", err)  # the loop went on
    assert re.search(r"run 2 ended: exit \d after [0-9.]+ s; 2 runs done", err)
    assert "T0KEN" not in err and "stored as run id" not in err  # nothing was stored


def test_the_stored_run_id_is_logged_after_each_run(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify-all", "--no-progress"]) == 0  # run id 1, from outside the scheduler
    capsys.readouterr()
    assert main(["schedule", "run", "--cron", "* * * * * *", "--max-runs", "2", "--no-progress"]) == 0
    err = capsys.readouterr().err
    first, second = err.index("run 1 stored as run id 2\n"), err.index("run 2 stored as run id 3\n")
    assert first < err.index("run 1 ended: exit 0") < second < err.index("run 2 ended: exit 0")
    fake_runs(monkeypatch, [2])  # a run that stores nothing: the newest id is not its
    assert main(["schedule", "run", "--cron", "* * * * * *", "--max-runs", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "run 1 ended: exit 2" in err and "stored as" not in err


def hold_lock(path: Path) -> int:
    """Another scheduler's hold on `path` (flock locks belong to an open file description, so this conflicts
    with an open of the same file in this process)."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_a_second_scheduler_on_the_same_database_is_refused(
    here: Path, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "reports").mkdir()
    held = hold_lock(here / "reports" / "tlsverify.sqlite.schedule.lock")
    connections = sum(getattr(s, "connections", 0) for s in lab.servers)
    try:
        code = main(["schedule", "run", "--cron", "* * * * * *", "--max-runs", "1", "--no-progress"])
    finally:
        os.close(held)
    out, err = capsys.readouterr()
    assert code == 2
    assert (
        "tlsverify: error: another `tlsverify schedule run` is already running on the database "
        "reports/tlsverify.sqlite (it holds "
    ) in err
    assert out == "" and "first run at" not in err
    assert sum(getattr(s, "connections", 0) for s in lab.servers) == connections
    assert not (here / "reports" / "tlsverify.sqlite").exists()


def test_the_scheduler_lock_is_owner_only_exclusive_and_let_go(tmp_path: Path) -> None:
    db = tmp_path / "new" / "history.sqlite"
    link = tmp_path / "link.sqlite"
    link.symlink_to(db)
    with scheduler_lock(db):
        lock = tmp_path / "new" / "history.sqlite.schedule.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
        with pytest.raises(UsageError, match=r"already running on the database .*link\.sqlite"), scheduler_lock(link):
            pass
    with scheduler_lock(link):  # let go when the first one ended
        pass


# --- real runs, stopped by SIGTERM -----------------------------------------------------------------------------


class Lines:
    """Standard error of a running process, line by line, read by a thread."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)

    def wait_for(self, words: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if words in line:
                return line
        raise AssertionError(f"no line with {words!r} in {timeout} s:\n{''.join(self.seen)}")

    def rest(self) -> str:
        """Everything, once the process has closed its end."""
        self._reader.join(timeout=60)
        while not self._queue.empty():
            self.seen.append(self._queue.get())
        return "".join(self.seen)


def start_schedule(cron: str, endpoints: Path, out: Path, *options: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "scanner", "schedule", "run", "--cron", cron, "--endpoints", str(endpoints)]
    command += ["--policy", POLICY, "--out", str(out), "--timeout", "30", "--no-progress", *options]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen[str], lines: Lines) -> tuple[str, str]:
    """Standard output and error once the process has ended (killed if it has not within a minute)."""
    try:
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.stdout is not None
    return process.stdout.read(), lines.rest()


def wait_steady(count: Callable[[], int], at_least: int, timeout: float = 60) -> None:
    """Until `count()` reaches `at_least` and then stays put for a second."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif now >= at_least and time.monotonic() - since >= 1.0:
            return
        time.sleep(0.05)
    raise AssertionError(f"the count did not settle at {at_least} or more: {last}")


def test_sigterm_during_a_scheduled_run_stores_it_as_incomplete(lab: Lab, tmp_path: Path) -> None:
    fast = lab.start(DEMO_SERVERS[0].spec)  # type: ignore[arg-type]
    slow = lab.add(DribbleServer("slow-schedule", interval_s=0.5))
    endpoints = tmp_path / "endpoints.yaml"
    write_endpoints(
        [
            {"id": "fast", "host": "fast.lab.tlsverify.test", "ip": "127.0.0.1", "port": fast.port},
            {"id": "slow", "host": "slow.lab.tlsverify.test", "ip": "127.0.0.1", "port": slow.port},
        ],
        endpoints,
        "schedule",
        lab.certificates.ca_bundle(),
    )
    out = tmp_path / "out"
    with start_schedule("* * * * * *", endpoints, out) as process:
        assert process.stderr is not None
        lines = Lines(process.stderr)
        try:
            lines.wait_for("first run at")
            lines.wait_for("run 1 started")
            wait_steady(lambda: fast.connections, 10)  # the fast endpoint is done; the slow one dribbles on
            process.send_signal(signal.SIGTERM)
        finally:
            stdout, err = stop(process, lines)
    assert process.returncode == 130, err
    said = "SIGTERM during run 1: stopping; what it finished probing is stored (as an incomplete run if it was"
    assert said in err
    assert err.count("stopped during run 1 (SIGTERM); exit 130\n") == 1  # said before verify-all's own exit
    assert err.index(said) < err.index("stopped during run 1") < err.index("interrupted; keeping the 1 endpoints")
    assert "run 2" not in err and "Traceback" not in err
    with sqlite3.connect(out / "tlsverify.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT complete FROM runs").fetchall() == [(0,)]
    doc = json.loads((out / "verify-all.json").read_text())
    assert doc["complete"] is False and [e["id"] for e in doc["endpoints"]] == ["fast"]
    assert "(run 1 stored in" in stdout


def test_sigterm_between_runs_exits_0_at_once(lab: Lab, tmp_path: Path) -> None:
    server = lab.start(DEMO_SERVERS[0].spec)  # type: ignore[arg-type]
    endpoints = tmp_path / "endpoints.yaml"
    entry = {"id": "apns", "host": "apns.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}
    write_endpoints([entry], endpoints, "schedule", lab.certificates.ca_bundle())
    with start_schedule("0 0 1 1 *", endpoints, tmp_path / "out") as process:
        assert process.stderr is not None
        lines = Lines(process.stderr)
        try:
            lines.wait_for("first run at")
            process.send_signal(signal.SIGTERM)
        finally:
            _, err = stop(process, lines)
    assert process.returncode == 0, err
    assert "stopped between runs (SIGTERM); exit 0" in err
    assert server.connections == 0
    with sqlite3.connect(tmp_path / "out" / "tlsverify.sqlite") as db:  # created at start, to check it
        assert db.execute("SELECT COUNT(*) FROM runs").fetchall() == [(0,)]
    db.close()


def test_a_second_scheduler_process_on_the_same_database_exits_2(lab: Lab, tmp_path: Path) -> None:
    server = lab.start(DEMO_SERVERS[0].spec)  # type: ignore[arg-type]
    endpoints = tmp_path / "endpoints.yaml"
    entry = {"id": "apns", "host": "apns.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}
    write_endpoints([entry], endpoints, "schedule", lab.certificates.ca_bundle())
    out = tmp_path / "out"
    with start_schedule("0 0 1 1 *", endpoints, out) as first:
        assert first.stderr is not None
        lines = Lines(first.stderr)
        try:
            lines.wait_for("first run at")
            with start_schedule("* * * * * *", endpoints, out, "--max-runs", "1") as second:
                second_out, second_err = second.communicate(timeout=60)
            first.send_signal(signal.SIGTERM)
        finally:
            _, err = stop(first, lines)
    assert second.returncode == 2, second_err
    assert f"another `tlsverify schedule run` is already running on the database {out / 'tlsverify.sqlite'}" in (
        second_err
    )
    assert second_out == "" and "first run at" not in second_err
    assert first.returncode == 0 and "stopped between runs (SIGTERM); exit 0" in err
    assert server.connections == 0


class SilentHook:
    """A notification service that takes the request and never answers; `requested` is set once it has it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requested = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            connection, _ = self.listener.accept()
            self.held.append(connection)
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            self.requested.set()

    def close(self) -> None:
        for connection in self.held:
            connection.close()
        self.listener.close()


def test_sigterm_while_notifying_says_the_run_is_stored_complete(lab: Lab, tmp_path: Path) -> None:
    server = lab.start(DEMO_SERVERS[0].spec)  # type: ignore[arg-type]
    endpoints = tmp_path / "endpoints.yaml"
    entry = {"id": "apns", "host": "apns.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}
    write_endpoints([entry], endpoints, "schedule", lab.certificates.ca_bundle())
    hook = SilentHook()
    out = tmp_path / "out"
    secret = f"json://user:s3cret@127.0.0.1:{hook.port}/hook"
    try:
        with start_schedule("* * * * * *", endpoints, out, "--notify", secret, "--notify-always") as process:
            assert process.stderr is not None
            lines = Lines(process.stderr)
            try:
                lines.wait_for("run 1 started")
                assert hook.requested.wait(timeout=60), "no notification came"
                process.send_signal(signal.SIGTERM)
            finally:
                stdout, err = stop(process, lines)
    finally:
        hook.close()
    assert process.returncode == 130, err
    assert "SIGTERM during run 1: stopping; what it finished probing is stored" in err
    assert "what finished is stored as an incomplete run" not in err
    assert err.count("stopped during run 1 (SIGTERM); exit 130\n") == 1
    assert "run 2" not in err and "Traceback" not in err and "s3cret" not in stdout + err
    with sqlite3.connect(out / "tlsverify.sqlite") as db:
        assert db.execute("SELECT complete FROM runs").fetchall() == [(1,)]
    db.close()
