"""`tlsverify completion SHELL`: a completion script for bash, zsh or tcsh, generated from the parser itself
by shtab (so it knows every command and option, and completes file and folder arguments as such)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scanner.cli.common import ExitCode, SubParsers

SHELLS = ("bash", "zsh", "tcsh")

FILE_OPTIONS = ("--endpoints", "--policy", "--db", "--ca-file", "--output", "--notify-config", "--proposed")
FOLDER_OPTIONS = ("--out-dir", "--release-dir")


def add_command(commands: SubParsers) -> None:
    text = "print a shell completion script (bash, zsh or tcsh) for tlsverify"
    parser = commands.add_parser("completion", help=text, description=text)
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def run(args: argparse.Namespace) -> int:
    import shtab

    from scanner.cli import build_parser

    parser = build_parser()
    _mark_paths(parser, shtab.FILE, shtab.DIRECTORY)
    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return ExitCode.OK


def _mark_paths(parser: argparse.ArgumentParser, file: object, folder: object) -> None:
    """Tell shtab which arguments are files and which are folders, in every command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_paths(sub, file, folder)
        elif any(o in FOLDER_OPTIONS for o in action.option_strings) or action.dest == "dir":
            action.complete = folder  # type: ignore[attr-defined]
        elif any(o in FILE_OPTIONS for o in action.option_strings) or action.type is Path:
            action.complete = file  # type: ignore[attr-defined]
