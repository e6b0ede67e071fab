"""Nothing lost: kill -9 in the middle of a run's write, two runs at once, huge and unreadable inputs,
owner-only files."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.config import write_endpoints
from scanner.lab.demo import DEMO_SERVERS
from scanner.lab.servers import Lab
from scanner.store import Store, run_lock
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def two_endpoints(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    servers = [lab.start(s.spec) for s in DEMO_SERVERS[:2] if s.spec is not None]
    path = tmp_path_factory.mktemp("durability") / "endpoints.yaml"
    write_endpoints(
        [
            {"id": s.spec.name, "host": f"{s.spec.name}.lab.tlsverify.test", "ip": "127.0.0.1", "port": s.port}
            for s in servers
        ],
        path,
        "durability",
        lab.certificates.ca_bundle(),
    )
    return path


def command(endpoints: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scanner",
        "verify-all",
        "--endpoints",
        str(endpoints),
        "--policy",
        str(ROOT / "policy.yaml"),
        "--out",
        str(out),
        "--no-progress",
    ]


def test_kill_9_during_the_write_leaves_the_last_complete_run_intact(two_endpoints: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = subprocess.run(command(two_endpoints, out), capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    db = out / "tlsverify.sqlite"
    mark = tmp_path / "inside-the-write"
    # Hold the write transaction open, and say when it is open, so the kill lands inside it.
    env = {**os.environ, "TLSVERIFY_STORE_PAUSE": "30", "TLSVERIFY_STORE_PAUSE_MARK": str(mark)}
    rng = random.Random(7)
    for attempt in range(4):
        mark.unlink(missing_ok=True)
        process = subprocess.Popen(
            command(two_endpoints, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if attempt % 2 == 0:  # inside the write
            deadline = time.monotonic() + 60
            while not mark.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert mark.exists(), "the run never reached its write"
        else:  # at a random earlier moment: while probing, or starting up
            time.sleep(rng.uniform(0.0, 1.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        with sqlite3.connect(db) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with Store(db) as store:
            runs = store.runs()
            assert [r.id for r in runs] == [1], "a killed run must leave no trace"
            latest = store.latest()
            assert latest is not None and latest.id == 1 and len(latest.report.findings) == 2
            assert store.endpoint_history("apns") == [(1, "ok", latest.report.findings[0].probe.negotiated)]


def test_two_runs_on_one_database_wait_for_each_other(two_endpoints: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    db = out / "tlsverify.sqlite"
    with run_lock(db):
        process = subprocess.Popen(
            command(two_endpoints, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "waiting for another run that uses" in line
        time.sleep(1.0)  # a run that did not wait would be done by now (it takes well under a second)
        assert process.poll() is None
        assert not (out / "verify-all.json").exists()
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 0 and "run 1 stored" in stdout


def test_the_reports_on_disk_are_from_the_last_run_to_finish(two_endpoints: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runs = [
        subprocess.Popen(command(two_endpoints, out), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(3)
    ]
    for run in runs:
        run.communicate(timeout=120)
    with Store(out / "tlsverify.sqlite") as store:
        newest = store.runs()[0]
    assert newest.id == 3
    assert json.loads((out / "verify-all.json").read_text())["run_id"] == 3


def test_reports_and_database_are_owner_only(two_endpoints: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        main(
            [
                "verify-all",
                "--endpoints",
                str(two_endpoints),
                "--policy",
                str(ROOT / "policy.yaml"),
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    for name in ("verify-all.html", "verify-all.json", "tlsverify.sqlite"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    assert not [p for p in out.iterdir() if p.name.startswith(".verify-all")]  # no temp files left behind


def test_a_huge_endpoints_file_is_refused_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = tmp_path / "endpoints.yaml"
    with huge.open("w") as handle:
        handle.write("endpoints:\n")
        handle.write("  - {id: a, host: a.test, port: 443}  # padding padding padding padding\n" * 90_000)
    assert (
        main(
            [
                "verify-all",
                "--endpoints",
                str(huge),
                "--policy",
                str(ROOT / "policy.yaml"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    assert "file is larger than the limit of 5242880 bytes" in capsys.readouterr().err


def test_a_directory_or_a_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path, words in ((tmp_path, "is a directory"), (tmp_path / "nope.yaml", "file not found")):
        assert (
            main(
                [
                    "verify-all",
                    "--endpoints",
                    str(path),
                    "--policy",
                    str(ROOT / "policy.yaml"),
                    "--out",
                    str(tmp_path / "out"),
                ]
            )
            == 2
        )
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    """Read as an unprivileged user (root reads every file): a forked child drops to nobody first."""
    from scanner.config import ConfigError, load_endpoints

    locked = tmp_path / "endpoints.yaml"
    locked.write_text("endpoints: []\n")
    locked.chmod(0)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: drop privileges, try to read, report through the pipe, leave at once
        message = "no error"
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            load_endpoints(locked)
        except ConfigError as exc:
            message = str(exc)
        except BaseException as exc:  # anything else is the failure this test looks for
            message = f"crash: {exc!r}"
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end) as pipe:
        message = pipe.read()
    assert message == f"{locked}: permission denied (check the file's permissions)"


def test_ctrl_c_during_the_write_keeps_the_finished_run(two_endpoints: Path, tmp_path: Path) -> None:
    out, mark = tmp_path / "out", tmp_path / "inside-the-write"
    env = {**os.environ, "TLSVERIFY_STORE_PAUSE": "1", "TLSVERIFY_STORE_PAUSE_MARK": str(mark)}
    process = subprocess.Popen(
        command(two_endpoints, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    with Store(out / "tlsverify.sqlite") as store:
        (run,) = store.runs()
    assert run.complete and len(run.report.findings) == 2  # every probe had finished: nothing is lost
    assert json.loads((out / "verify-all.json").read_text())["run_id"] == run.id


def test_reports_can_be_written_again_from_the_database(two_endpoints: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        main(
            [
                "verify-all",
                "--endpoints",
                str(two_endpoints),
                "--policy",
                str(ROOT / "policy.yaml"),
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    originals = {name: (out / name).read_text() for name in ("verify-all.json", "verify-all.html")}
    for name in originals:
        (out / name).unlink()
    assert main(["report", "--out", str(out)]) == 0
    assert {name: (out / name).read_text() for name in originals} == originals  # the very same reports
    assert main(["report", "--out", str(out), "--run", "99"]) == 2
