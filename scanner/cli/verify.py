"""`tlsverify verify-all`, `tlsverify demo` and `tlsverify report`: parse, call the pipeline, print, exit."""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from pathlib import Path

from scanner import findings
from scanner.cli.common import (
    ExitCode,
    SubParsers,
    add_db_option,
    add_out_dir_option,
    add_scan_options,
    exit_now,
    info_stream,
    notifications,
    outputs,
    positive_int,
    probe_settings,
    progress_line,
    say_interrupted,
    send_notifications,
)
from scanner.cli.terminal import show
from scanner.config import load_endpoints, load_releases, write_endpoints
from scanner.files import write_atomically
from scanner.models import Endpoint
from scanner.report import csv_report, json_report, text
from scanner.verify import CheckedPolicy, UsageError, check_policy, rewrite_reports, select_endpoints, verify_all


def add_commands(commands: SubParsers) -> None:
    verify = commands.add_parser(
        "verify-all",
        help="probe every endpoint and cross-reference the policy",
        description="Probe every endpoint and cross-reference the policy: reports, history and the exit code.",
    )
    add_scan_options(verify)
    demo = commands.add_parser("demo", help="start the loopback demo lab, run Verify All on it, write the reports")
    add_scan_options(demo, with_inputs=False)
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the lab up after the run and print commands to try against it, until Ctrl-C",
    )
    report = commands.add_parser(
        "report", help="write the verify-all reports again from a stored run (after a crash, say)"
    )
    report.add_argument("--run", type=positive_int, default=None, help="run id (default: the latest complete one)")
    add_out_dir_option(report, "the reports")
    add_db_option(report)


def checked_policy(args: argparse.Namespace) -> CheckedPolicy:
    """The policy of `--policy`, checked; its warnings go to standard error."""
    checked = check_policy(args.policy, load_releases(args.releases))
    for problem in checked.warnings:
        print(f"tlsverify: {problem}", file=sys.stderr)
    return checked


def run_verify_all(
    args: argparse.Namespace, endpoints: list[Endpoint], checked: CheckedPolicy, source: Path | None = None
) -> int:
    """Verify All with the command line's options; prints the summary; exits 130 at once after Ctrl-C.
    `source` is the endpoints file: the run is compared with the previous one over the same file."""
    where = outputs(args)

    def waiting() -> None:
        print(f"tlsverify: waiting for another run that uses {where.database}", file=sys.stderr, flush=True)

    notifications(args)  # a notification option that cannot work stops the run before any traffic
    from scanner.probe.prober import SslyzeProber  # sslyze, nassl, cryptography: only when probing

    prober = SslyzeProber(timeout_s=args.timeout, exhaustive=args.exhaustive)
    partial = bool(getattr(args, "only", None))  # --only: some endpoints of the file, not the whole site
    with progress_line(args) as progress:
        run = verify_all(endpoints, checked, prober, probe_settings(args), where, progress, waiting, partial, source)
    if not run.report.complete:
        say_interrupted(len(run.report.findings))
    if args.format == "json":
        sys.stdout.write(json_report.render(run.report))
    elif args.format == "csv":
        sys.stdout.write(csv_report.render(run.report))
    else:
        show(sys.stdout, lambda width: text.summary_renderables(run.report, width, checked.shipped))
    where_to = f"Reports: {where.html}  {where.json}  (run {run.report.run_id} stored in {where.database})"
    print(f"\n{where_to}" if args.format == "text" else where_to, file=info_stream(args))
    if run.interrupted:
        exit_now(ExitCode.INTERRUPTED)  # everything that finished is stored; an interrupted run notifies no one
    send_notifications(args, run.report, where)
    return findings.exit_code(run.report)


def verify_all_command(args: argparse.Namespace) -> int:
    loaded = load_endpoints(args.endpoints, proxy=args.proxy, ca_file=args.ca_file)
    endpoints = select_endpoints(loaded, args.only, args.endpoints)
    return run_verify_all(args, endpoints, checked_policy(args), args.endpoints)


def demo_command(args: argparse.Namespace) -> int:
    from scanner.lab.demo import start_lab
    from scanner.lab.servers import Lab

    if args.policy == Path("policy.yaml") and not args.policy.exists():
        # Anywhere, even an empty folder: the newest release's Reset to Default lists stand in for the policy.
        from scanner.cli.policy import default_policy  # cli.policy imports this module

        policy, text = default_policy(load_releases(args.releases))
        args.policy = args.out / "demo-policy.yaml"
        try:
            write_atomically(args.policy, text)
        except OSError as exc:
            raise UsageError(f"cannot write {args.policy}: {exc.strerror or exc}") from None
        print(
            f"No policy.yaml here: the demo uses release {policy.release}'s Reset to Default lists ({args.policy})",
            file=info_stream(args),
        )
    checked = checked_policy(args)
    with Lab() as lab:
        skipped: list[str] = []
        entries = start_lab(lab, skipped=skipped)
        endpoints_path = args.out / "demo-endpoints.yaml"
        write_endpoints(entries, endpoints_path, "Written by `tlsverify demo`: the loopback demo lab (ports change)")
        info = info_stream(args)
        print(f"Demo lab: {len(lab.servers)} TLS servers and 1 closed port on 127.0.0.1 ({endpoints_path})", file=info)
        for line in skipped:
            print(f"  left out {line}", file=info)
        endpoints = load_endpoints(endpoints_path)
        run_verify_all(args, endpoints, checked, endpoints_path)  # exits 130 itself when interrupted
        if args.keep_running:
            _keep_running(args, endpoints_path)
    print(
        "Demo lab stopped. Open the HTML report in a browser to see the policy's lists with their asterisks.",
        file=info_stream(args),
    )
    return ExitCode.OK  # the demo worked: its lab fails the policy on purpose, which is no failure of the demo


def _keep_running(args: argparse.Namespace, endpoints: Path) -> None:
    """The lab stays up: commands to try against it, then wait for Ctrl-C (or SIGTERM)."""
    db = shlex.join(["--db", str(outputs(args).database)])
    common = f"--endpoints {shlex.quote(str(endpoints))} --policy {shlex.quote(str(args.policy))} {db}"
    print(
        "\nThe demo lab is still running. Try, in another terminal in this folder:\n"
        f"  tlsverify impact --reset-to-default --verify {common}\n"
        f"  tlsverify policy advise {shlex.quote(str(args.policy))} {db}\n"
        f"  tlsverify verify-all {common}\n"
        "Ctrl-C stops the lab.",
        file=info_stream(args),
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        return


def report_command(args: argparse.Namespace) -> int:
    where = outputs(args)
    stored = rewrite_reports(where, args.run)
    print(f"Reports of run {stored.id} ({stored.generated_at}) written again: {where.html}  {where.json}")
    return ExitCode.OK
