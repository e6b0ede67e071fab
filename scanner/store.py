"""Run history in an embedded SQLite file; the only module that uses sqlite3.

Each Verify All run is written in one transaction (a run row, one row per endpoint, one per suite use), so a
reader sees either the whole run or none of it. The file is created owner-only: it holds internal host names.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from scanner import document
from scanner.files import private_folders
from scanner.models import Endpoint, EndpointFinding, HistoryPoint, Policy, ProbeResult, VerifyAllReport

T = TypeVar("T")

SCHEMA_VERSION = 3
_OUR_COLUMNS = {
    "runs": {"id", "kind", "generated_at", "complete", "policy_release", "policy_json", "report_json"},
    "usage_resets": {"id", "reset_at"},
    "endpoint_results": {"run_id", "endpoint_id", "host", "port", "ip", "status", "result_json"},
    "suite_usage": {"run_id", "suite", "list", "kind", "endpoint_id"},
    "applied_policies": {"id", "applied_at", "release", "source", "policy_json"},
}
_OUR_TABLES = frozenset(_OUR_COLUMNS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'verify-all',
    generated_at TEXT NOT NULL,
    complete INTEGER NOT NULL,
    policy_release TEXT NOT NULL,
    policy_json TEXT NOT NULL,
    report_json TEXT NOT NULL,
    source TEXT,
    notification TEXT
);
CREATE TABLE IF NOT EXISTS endpoint_results (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    ip TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    negotiated TEXT,
    server_preference INTEGER,
    connections INTEGER NOT NULL,
    result_json TEXT NOT NULL,
    PRIMARY KEY (run_id, endpoint_id)
);
CREATE TABLE IF NOT EXISTS suite_usage (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    suite TEXT NOT NULL,
    list TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('negotiated', 'required')),
    endpoint_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS suite_usage_suite ON suite_usage (suite, kind);
CREATE TABLE IF NOT EXISTS usage_resets (
    id INTEGER PRIMARY KEY,
    reset_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applied_policies (
    id INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL,
    release TEXT NOT NULL,
    source TEXT NOT NULL,
    policy_json TEXT NOT NULL
);
"""


class StoreError(Exception):
    """The database cannot be opened or is not a tlsverify database."""


@contextmanager
def run_lock(db: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Serialize runs that share a database: an exclusive lock on DB.lock, waited for (not failed on)."""
    real = db.resolve()  # two links to one database share one lock
    path = real.with_name(real.name + ".lock")
    try:
        private_folders(path.parent)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:
        raise StoreError(f"{db}: cannot create its lock file {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def _ctrl_c_held() -> Iterator[list[int]]:
    """Hold Ctrl-C while a transaction runs: an interrupt must not throw away a finished run. The list
    says whether one came; the caller decides what to do after the commit. (Only the main thread can
    take signals; elsewhere this holds nothing.)"""
    pending: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    held = (signal.SIGINT, signal.SIGTERM)
    previous = [signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held]
    try:
        yield pending
    finally:
        for s, handler in zip(held, previous, strict=True):
            signal.signal(s, handler)


def _pause_for_crash_tests() -> None:
    """Tests that kill -9 a run in the middle of its write set TLSVERIFY_STORE_PAUSE (seconds), and
    TLSVERIFY_STORE_PAUSE_MARK (a file created when the pause begins, so they know when to kill)."""
    pause = os.environ.get("TLSVERIFY_STORE_PAUSE")
    if pause:
        mark = os.environ.get("TLSVERIFY_STORE_PAUSE_MARK")
        if mark:
            Path(mark).touch()
        time.sleep(float(pause))


@dataclass(frozen=True)
class StoredRun:
    """A stored run: its id, time and completeness, and the report it was made from."""

    id: int
    generated_at: str
    complete: bool
    report: VerifyAllReport


def _decoded(path: Path, run_id: object, decode: Callable[[], T]) -> T:
    """A stored document decoded, or StoreError saying which run is damaged."""
    try:
        return decode()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise StoreError(f"{path}: run {run_id} is stored damaged ({detail}); it cannot be read back") from None


def _finding(text: str) -> EndpointFinding:
    return document.decode_finding(json.loads(text))


def _stored(row: tuple[Any, ...], path: Path) -> StoredRun:
    run_id = int(row[0])
    report = _decoded(path, run_id, lambda: document.decode(json.loads(row[3]), run_id))
    return StoredRun(run_id, str(row[1]), bool(row[2]), report)


@dataclass(frozen=True)
class AppliedPolicy:
    """A policy recorded by `tlsverify policy apply`; its time starts a usage collection period."""

    id: int
    applied_at: datetime
    source: str
    policy: Policy


@dataclass(frozen=True)
class Site:
    """Every endpoint of the newest complete whole-file run, each with its newest result and the run it is from."""

    base: StoredRun
    results: tuple[tuple[Endpoint, ProbeResult, int], ...]


class Store:
    """A tlsverify SQLite database; use as a context manager."""

    def __init__(self, path: Path, create: bool = True, read_only: bool = False) -> None:
        """Open the database at `path`, creating it (owner-only) if `create`; a file that is not a tlsverify
        database, or is damaged, is refused before anything in it is touched. `read_only` opens it for reading
        alone: no schema upgrade, no journal change, nothing written (a read-only mount works; an older
        tlsverify can go on using the file)."""
        self.path = path
        self.interrupted = False  # Ctrl-C came during a write (held until it was committed)
        if read_only:
            create = False
        if not create and not path.is_file():
            raise StoreError(
                f"{path}: no database there, so no complete Verify All run stored; run `tlsverify verify-all` "
                "first, or point --db at a database"
            )
        try:
            if create:
                private_folders(path.parent)
                if not path.exists():
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            if read_only:
                self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
                self._refuse_foreign_or_damaged()
                return
            self._db = sqlite3.connect(path, timeout=30)
            self._refuse_foreign_or_damaged()
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path}: made by a newer tlsverify (schema {version}); upgrade tlsverify")
            with self._db:
                self._db.executescript(_SCHEMA)
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
                for column in ("source", "notification"):  # schema 2 had neither
                    if column not in columns:
                        self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot use as a tlsverify database: {exc}") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot create the database: {exc.strerror}") from None

    def _refuse_foreign_or_damaged(self) -> None:
        """Check a file before writing to it: another application's database (whatever its tables are
        called) is left exactly as it is. Ours has our user_version and our tables with our columns."""
        check = self._db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            self._db.close()
            raise StoreError(f"{self.path}: the database is damaged ({check}); move it away and run again")
        names = [row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        tables = {name for name in names if not name.startswith("sqlite_")}  # ANALYZE's statistics are fine
        if not tables:
            return  # empty: a new database
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self._db.close()
            raise StoreError(f"{self.path}: made by a newer tlsverify (schema {version}); upgrade tlsverify")
        foreign = sorted(tables - _OUR_TABLES)
        wrong = [
            table
            for table in sorted(tables & _OUR_TABLES)
            if not _OUR_COLUMNS[table] <= {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
        ]
        if foreign or wrong or version < 1:
            self._db.close()
            if foreign:
                what = f"it has other tables: {', '.join(foreign[:5])}"
            elif wrong:
                what = f"its {', '.join(wrong[:5])} is not tlsverify's"
            else:
                what = "tables but no tlsverify schema version"
            raise StoreError(
                f"{self.path}: not a tlsverify database ({what}); left untouched. "
                "Point --db at a new file or at a tlsverify database"
            )

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """A read; the database's own errors (a damaged page, a table changed under us) as StoreError."""
        try:
            return list(self._db.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read the database: {exc}") from None

    def _row(self, sql: str, params: tuple[object, ...] = ()) -> tuple[Any, ...] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with _ctrl_c_held() as pending, self._db:
            yield self._db
        self.interrupted = self.interrupted or bool(pending)

    def save(self, report: VerifyAllReport) -> int:
        """Store one run in a single transaction; returns its id."""
        doc = document.encode(report)
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (generated_at, complete, policy_release, policy_json, report_json, source)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    report.generated_at.isoformat(),
                    int(report.complete),
                    report.policy.release,
                    json.dumps(doc["policy"]),
                    json.dumps(doc),
                    report.source,
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            _pause_for_crash_tests()
            db.executemany(
                "INSERT INTO endpoint_results (run_id, endpoint_id, host, port, ip, status, reason, negotiated,"
                " server_preference, connections, result_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        e["id"],
                        e["host"],
                        e["port"],
                        e["ip"],
                        e["status"],
                        e["reason"],
                        e["negotiated"],
                        None if e["server_preference"] is None else int(e["server_preference"]),
                        e["connections"],
                        json.dumps(e),
                    )
                    for e in doc["endpoints"]
                ],
            )
            # This run's own usage (the report's suites hold the period's): what later periods add up.
            lists = {s["name"]: s["list"] for s in doc["suites"]}
            own = [(e["negotiated"], "negotiated", e["id"]) for e in doc["endpoints"] if e["negotiated"]]
            own += [(name, "required", e["id"]) for e in doc["endpoints"] for name in e["required_disabled"]]
            db.executemany(
                "INSERT INTO suite_usage (run_id, suite, list, kind, endpoint_id) VALUES (?, ?, ?, ?, ?)",
                [(run_id, suite, lists.get(suite, "selected"), kind, endpoint_id) for suite, kind, endpoint_id in own],
            )
        return run_id

    def reset_usage(self, at: datetime) -> None:
        """`tlsverify usage reset`: a new usage collection period starts at `at` (nothing is deleted)."""
        with self._transaction() as db:
            db.execute("INSERT INTO usage_resets (reset_at) VALUES (?)", (at.isoformat(),))

    def usage_anchor(self) -> datetime | None:
        """When the newest period was started by hand: the last `policy apply` or `usage reset`, if any."""
        found = [
            datetime.fromisoformat(str(row[0]))
            for row in (
                self._row("SELECT applied_at FROM applied_policies ORDER BY id DESC LIMIT 1"),
                self._row("SELECT reset_at FROM usage_resets ORDER BY id DESC LIMIT 1"),
            )
            if row is not None
        ]
        return max(found, default=None)

    def first_run_at(self) -> datetime | None:
        row = self._row("SELECT MIN(generated_at) FROM runs")
        return datetime.fromisoformat(str(row[0])) if row and row[0] else None

    def usage_since(self, start: datetime, policy: Policy) -> tuple[list[tuple[str, str, str, datetime]], int]:
        """The suites used in the runs since `start` under `policy` (suite, kind, endpoint id, run time), and
        how many such runs there are: what the period's asterisks are made of."""
        policy_json = json.dumps(document.encode_policy(policy))
        rows = self._rows(
            "SELECT u.suite, u.kind, u.endpoint_id, r.generated_at FROM suite_usage u JOIN runs r ON r.id = u.run_id"
            " WHERE r.generated_at >= ? AND r.policy_json = ?",
            (start.isoformat(), policy_json),
        )
        count = self._row(
            "SELECT COUNT(*) FROM runs WHERE generated_at >= ? AND policy_json = ?", (start.isoformat(), policy_json)
        )
        used = [(str(r[0]), str(r[1]), str(r[2]), datetime.fromisoformat(str(r[3]))) for r in rows]
        return used, int(count[0]) if count else 0

    def baseline(self, source: str | None) -> tuple[VerifyAllReport, int] | None:
        """What a new run over the endpoints file `source` is compared with: the newest complete run over the
        whole file, each endpoint's result replaced by a newer complete --only run's where there is one (so a
        change is never lost behind an --only run), and the newest run id used. Runs stored before runs said
        their file (schema 2) stand in when no run names it. None when there is nothing to compare with."""
        for match in ("source IS ?", "source IS NULL"):
            params: tuple[object, ...] = (source,) if "?" in match else ()
            rows = self._rows(f"SELECT id FROM runs WHERE complete = 1 AND {match} ORDER BY id DESC", params)
            if rows:
                return self._merged([int(r[0]) for r in rows])
        return None

    def _merged(self, newest_first: list[int]) -> tuple[VerifyAllReport, int]:
        later: list[StoredRun] = []
        base: StoredRun | None = None
        for run_id in newest_first:
            run = self.run(run_id)
            if run is None:
                continue
            if not run.report.partial:
                base = run
                break
            later.append(run)
        if base is None:  # only --only runs: the oldest of them is the base
            base, later = later[-1], later[:-1]
        findings = {f.endpoint.id: f for f in base.report.findings}
        for run in reversed(later):  # oldest first, so the newest result wins
            findings.update({f.endpoint.id: f for f in run.report.findings})
        merged = replace(base.report, findings=tuple(sorted(findings.values(), key=lambda f: f.endpoint.id)))
        return merged, max([base.id, *(run.id for run in later)])

    def history(self, limit: int = 30, up_to: int | None = None) -> list[HistoryPoint]:
        """The last `limit` runs (up to run `up_to`), oldest first, with their counts and changes."""
        query = "SELECT id, generated_at, complete, report_json FROM runs"
        params: tuple[object, ...] = ()
        if up_to is not None:
            query += " WHERE id <= ?"
            params = (up_to,)
        rows = self._rows(query + " ORDER BY id DESC LIMIT ?", (*params, limit))
        points = []
        for row in reversed(rows):
            report = _stored(row, self.path).report
            connect = sum(1 for f in report.findings if f.connects)
            points.append(
                HistoryPoint(
                    int(row[0]),
                    report.generated_at,
                    report.policy.release,
                    connect,
                    len(report.findings) - connect,
                    len(report.drift.changes) if report.drift is not None else None,
                    report.complete,
                    report.partial,
                )
            )
        return points

    def set_notification(self, run_ids: list[int], state: str) -> None:
        """Record what became of runs' notification: "pending" (owed: sending had not worked yet) or "sent"."""
        with self._transaction() as db:
            db.executemany("UPDATE runs SET notification = ? WHERE id = ?", [(state, i) for i in run_ids])

    def undelivered(self, before: int) -> list[StoredRun]:
        """Runs before run `before` whose notification is still owed, oldest first."""
        rows = self._rows(
            "SELECT id, generated_at, complete, report_json FROM runs WHERE notification = 'pending' AND id < ?"
            " ORDER BY id",
            (before,),
        )
        return [_stored(r, self.path) for r in rows]

    def prune(self, older_than: datetime) -> int:
        """Delete the runs made before `older_than` (and their rows); how many were deleted."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM runs WHERE generated_at < ?", (older_than.isoformat(),))
        return int(cursor.rowcount)

    def apply_policy(self, policy: Policy, source: str, applied_at: datetime) -> int:
        """Record `policy` as the current one: a new usage collection period starts at `applied_at`."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO applied_policies (applied_at, release, source, policy_json) VALUES (?, ?, ?, ?)",
                (applied_at.isoformat(), policy.release, source, json.dumps(document.encode_policy(policy))),
            )
        return int(cursor.lastrowid or 0)

    def current_policy(self) -> AppliedPolicy | None:
        """The policy applied last, or None if none was ever applied."""
        row = self._row("SELECT id, applied_at, source, policy_json FROM applied_policies ORDER BY id DESC LIMIT 1")
        if row is None:
            return None
        return AppliedPolicy(row[0], datetime.fromisoformat(row[1]), row[2], document.decode_policy(json.loads(row[3])))

    def runs(self, limit: int = 20) -> list[StoredRun]:
        """The most recent runs, newest first."""
        rows = self._rows("SELECT id, generated_at, complete, report_json FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [_stored(r, self.path) for r in rows]

    def run(self, run_id: int) -> StoredRun | None:
        """One run by its id, or None."""
        row = self._row("SELECT id, generated_at, complete, report_json FROM runs WHERE id = ?", (run_id,))
        return _stored(row, self.path) if row else None

    def latest(self, complete_only: bool = True) -> StoredRun | None:
        """The newest (complete) run, or None."""
        query = "SELECT id, generated_at, complete, report_json FROM runs"
        query += " WHERE complete = 1" if complete_only else ""
        row = self._row(query + " ORDER BY id DESC LIMIT 1")
        return _stored(row, self.path) if row else None

    def site(self) -> Site | None:
        """What is known of the whole site: the endpoints of the newest complete run over the whole endpoints
        file, and any a later --only run added, each with its newest complete result; None with no complete
        run."""
        base = self._newest_whole_run() or self.latest()
        if base is None:
            return None
        ids = [f.endpoint.id for f in base.report.findings]
        later = self._rows(
            "SELECT DISTINCT e.endpoint_id FROM endpoint_results e JOIN runs r ON r.id = e.run_id"
            " WHERE r.complete = 1 AND r.id > ? ORDER BY e.endpoint_id",
            (base.id,),
        )
        ids += [str(row[0]) for row in later if str(row[0]) not in ids]
        results = []
        for endpoint_id in ids:
            row = self._row(
                "SELECT r.id, e.result_json FROM endpoint_results e JOIN runs r ON r.id = e.run_id"
                " WHERE r.complete = 1 AND e.endpoint_id = ? ORDER BY r.id DESC LIMIT 1",
                (endpoint_id,),
            )
            if row is not None:
                finding = _decoded(self.path, row[0], functools.partial(_finding, str(row[1])))
                results.append((finding.endpoint, finding.probe, int(row[0])))
        return Site(base, tuple(results))

    def _newest_whole_run(self) -> StoredRun | None:
        """The newest complete run that was not over some endpoints only, decoding one run at a time."""
        for (run_id,) in self._rows("SELECT id FROM runs WHERE complete = 1 ORDER BY id DESC"):
            run = self.run(int(run_id))
            if run is not None and not run.report.partial:
                return run
        return None

    def endpoint_history(self, endpoint_id: str) -> list[tuple[int, str, str | None]]:
        """(run id, status, negotiated suite) for one endpoint across runs, oldest first."""
        rows = self._rows(
            "SELECT run_id, status, negotiated FROM endpoint_results WHERE endpoint_id = ? ORDER BY run_id",
            (endpoint_id,),
        )
        return [(int(r[0]), str(r[1]), r[2]) for r in rows]
