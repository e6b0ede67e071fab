"""`tlsverify history`, `diff`, `usage reset` and `prune`: the stored runs, what changed between two of
them, a new usage collection period, and deleting old runs. None of them probes; only `usage reset` and
`prune` write, and only to an existing database."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from scanner import drift
from scanner.cli.common import ExitCode, SubParsers, add_db_option, bounded_int, database, positive_int
from scanner.report.text import change_line
from scanner.store import Store
from scanner.verify import UsageError


def add_commands(commands: SubParsers) -> None:
    history = commands.add_parser(
        "history",
        help="list the stored runs: time, policy, counts, changes",
        description="The stored runs, oldest first: id, time, policy release, endpoints that connect and fail, "
        "and how many changes each had since the run before it over the same endpoints file. Reads the database "
        "only.",
    )
    history.add_argument("--limit", type=bounded_int(100_000), default=30, help="newest runs shown (default: 30)")
    add_db_option(history)
    diff = commands.add_parser(
        "diff",
        help="what changed between two stored runs (exit 1 when something did)",
        description="What changed from RUN_A to RUN_B, endpoint by endpoint, in the words of the nightly drift. "
        "Endpoints only one run has count as added or removed when both runs covered the whole endpoints file. "
        "Exit 0: nothing changed; 1: something did; 2: a run is not stored. Reads the database only.",
    )
    diff.add_argument("run_a", type=positive_int, metavar="RUN_A", help="the earlier run's id (see `history`)")
    diff.add_argument("run_b", type=positive_int, metavar="RUN_B", help="the later run's id")
    add_db_option(diff)
    usage = commands.add_parser("usage", help="the usage collection period behind the asterisks")
    actions = usage.add_subparsers(dest="usage_action", required=True, metavar="ACTION")
    reset = actions.add_parser("reset", help="start a new usage collection period now (nothing is deleted)")
    add_db_option(reset)
    prune = commands.add_parser(
        "prune",
        help="delete the runs older than some days",
        description="Delete the runs stored more than DAYS days ago, with their results. Nothing else deletes "
        "runs: a usage collection period that ends keeps them. The periods keep their start.",
    )
    prune.add_argument(
        "--older-than", type=bounded_int(100_000), required=True, metavar="DAYS", help="delete runs older than DAYS"
    )
    add_db_option(prune)


def history_command(args: argparse.Namespace) -> int:
    with Store(database(args), read_only=True) as store:
        points = store.history(limit=args.limit)
    if not points:
        print(f"{database(args)}: no runs stored")
        return ExitCode.OK
    print(f"{'run':>5}  {'time (UTC)':<16}  {'release':<10}  {'connect':>7}  {'fail':>4}  changes")
    for p in points:
        changes = "—" if p.changes is None else str(p.changes)
        notes = ("" if p.complete else "  incomplete") + ("  some endpoints only" if p.partial else "")
        when = p.generated_at.strftime("%Y-%m-%d %H:%M")
        print(f"{p.run_id:>5}  {when:<16}  {p.release:<10}  {p.connect:>7}  {p.failing:>4}  {changes}{notes}")
    return ExitCode.OK


def diff_command(args: argparse.Namespace) -> int:
    with Store(database(args), read_only=True) as store:
        runs = [store.run(args.run_a), store.run(args.run_b)]
    missing = [str(i) for i, run in zip((args.run_a, args.run_b), runs, strict=True) if run is None]
    if missing:
        raise UsageError(f"{database(args)}: no run {', '.join(missing)} stored; see `tlsverify history`")
    a, b = runs
    assert a is not None and b is not None
    changes = drift.compare(a.report, b.report, a.id).changes
    if not changes:
        print(f"No changes from run {a.id} to run {b.id}.")
        return ExitCode.OK
    if a.report.source != b.report.source or a.report.policy != b.report.policy:
        differ = " and ".join(
            w
            for w, d in (
                ("endpoints files", a.report.source != b.report.source),
                ("policies", a.report.policy != b.report.policy),
            )
            if d
        )
        print(f"Note: the two runs were over different {differ}: not every change is the servers'.")
    noun = "change" if len(changes) == 1 else "changes"
    print(f"{len(changes)} {noun} from run {a.id} ({a.generated_at}) to run {b.id} ({b.generated_at}):")
    for change in changes:
        print(f"  {change_line(change)}")
    return ExitCode.FINDINGS


def usage_command(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)  # to the microsecond: a run stored in this same second came before the reset
    with Store(database(args), create=False) as store:
        store.reset_usage(now)
    print(f"A new usage collection period starts now ({now:%Y-%m-%d %H:%M:%S} UTC): the asterisks count from here.")
    return ExitCode.OK


def prune_command(args: argparse.Namespace) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=args.older_than)
    with Store(database(args), create=False) as store:
        deleted = store.prune(cutoff)
    runs = "run" if deleted == 1 else "runs"
    print(f"Deleted {deleted} {runs} older than {args.older_than} days (before {cutoff:%Y-%m-%d %H:%M} UTC).")
    return ExitCode.OK
