"""The `tlsverify` command line: parse the options, call a pipeline, print, and pick the exit code.

Exit codes: 0 every enabled endpoint is ok, 1 some endpoint is not (or a finding), 2 usage or configuration
error, 3 some endpoint could not be probed (unreachable, timeout, DNS) and none failed otherwise, 130
interrupted.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from scanner.cli import completion, history, impact, init, policy, schedule, schema, verify
from scanner.cli.common import ExitCode, add_scan_options, exit_now
from scanner.cli.examples import add_examples
from scanner.models import ConfigError
from scanner.probe import defer_sslyze_init
from scanner.store import StoreError
from scanner.verify import UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlsverify",
        description="Which external TLS servers can this client still talk to under its cipher policy?",
    )
    parser.add_argument("--version", action=_Version, help="print the versions of tlsverify and its probe, and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init.add_command(commands)
    verify.add_commands(commands)
    impact.add_impact_command(commands, add_scan_options)
    policy.add_commands(commands)
    history.add_commands(commands)
    schedule.add_commands(commands)
    completion.add_command(commands)
    schema.add_command(commands)
    add_examples(parser)
    return parser


class _Version(argparse.Action):
    """--version: the versions are read only when asked for (importlib.metadata is not free at start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from scanner.versions import current

        tool = current()
        sslyze, nassl = tool.sslyze or "not installed", tool.nassl or "not installed"
        print(f"tlsverify {tool.version} (sslyze {sslyze}, nassl {nassl}, Python {sys.version.split()[0]})")
        parser.exit()


_COMMANDS = {
    "init": init.run,
    "verify-all": verify.verify_all_command,
    "demo": verify.demo_command,
    "report": verify.report_command,
    "policy": policy.run,
    "impact": impact.run_impact,
    "history": history.history_command,
    "schedule": schedule.run,
    "diff": history.diff_command,
    "usage": history.usage_command,
    "prune": history.prune_command,
    "completion": completion.run,
    "schema": schema.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; SIGTERM (what `timeout`, systemd and container runtimes send) counts as Ctrl-C, so
    what finished is stored."""
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        return int(_COMMANDS[args.command](args))
    except (ConfigError, UsageError, StoreError) as exc:
        print(f"tlsverify: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("\ntlsverify: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a program whose reader left


def entry() -> None:
    """The console script: run, then leave even if a probe thread was abandoned past its deadline (a
    resolver that never answers, say); everything is written by then."""
    code = _BROKEN_PIPE
    defer_sslyze_init()  # 0.2 s of every start, for modules of sslyze the probe does not use
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `tlsverify ... | head`: the reader left; nothing more to say, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    for thread in threading.enumerate():
        if thread.name.startswith("tlsverify-probe"):
            thread.join(timeout=1)
            if thread.is_alive():
                exit_now(code)
    sys.exit(code)
