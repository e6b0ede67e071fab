"""`tlsverify completion SHELL`: a completion script for bash, zsh or tcsh, generated from the parser itself
by shtab (so it knows every command and option, and completes file and folder arguments as such)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from scanner import schemas
from scanner.cli.common import ExitCode, SubParsers
from scanner.cli.examples import commands
from scanner.config import load_releases

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

    parser = build_parser()  # a copy for shtab: choices set here change no error message of the real one
    _mark_paths(parser, shtab.FILE, shtab.DIRECTORY)
    releases = load_releases().names
    _offer(parser, "name", schemas.names())
    _offer(parser, "release", releases)
    _offer(parser, "to", releases)
    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return ExitCode.OK


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every argument of every command, the former spellings (never shown) left out."""
    return [
        action
        for _, command in commands(parser)
        for action in command._actions
        if not isinstance(action, argparse._SubParsersAction) and action.help != argparse.SUPPRESS
    ]


def _offer(parser: argparse.ArgumentParser, dest: str, values: Sequence[str]) -> None:
    """Complete `dest` (a schema's name, a release) with `values`, in every command that has it."""
    for action in _actions(parser):
        if action.dest == dest:
            action.choices = list(values)


def _mark_paths(parser: argparse.ArgumentParser, file: object, folder: object) -> None:
    """Tell shtab which arguments are files and which are folders, in every command."""
    for action in _actions(parser):
        if any(o in FOLDER_OPTIONS for o in action.option_strings) or action.dest == "dir":
            action.complete = folder  # type: ignore[attr-defined]
        elif any(o in FILE_OPTIONS for o in action.option_strings) or action.type is Path:
            action.complete = file  # type: ignore[attr-defined]
