"""`tlsverify schema`: the JSON Schema of a document tlsverify writes or a file it reads, for other tools."""

from __future__ import annotations

import argparse
import sys

from scanner import schemas
from scanner.cli.common import ExitCode, SubParsers
from scanner.verify import UsageError


def add_command(commands: SubParsers) -> None:
    parser = commands.add_parser(
        "schema",
        help="print the JSON Schema of a document tlsverify writes or a file it reads",
        description="Print the JSON Schema (draft 2020-12) of verify-all.json, impact.json or an input file\n"
        "(endpoints.yaml, policy.yaml, release files) to standard output. Without NAME: the list.\n"
        "Each schema's $id (https://tlsverify.invalid/schemas/...) names it and is never fetched.",
    )
    parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help=f"the schema to print: {', '.join(schemas.names())} (default: list them)",
    )
    parser.add_argument("--list", action="store_true", help="list the schemas, what each describes, and exit")


def run(args: argparse.Namespace) -> int:
    if args.list and args.name is not None:
        raise UsageError(f"--list lists every schema: drop --list to print {args.name!r}, or drop {args.name!r}")
    if args.list or args.name is None:
        width = max(len(name) for name in schemas.names())
        for listed in schemas.SCHEMAS:
            print(f"{listed.name:<{width}}  {listed.describes}")
        return ExitCode.OK
    found = schemas.find(args.name)
    if found is None:
        close = schemas.suggest(args.name)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise UsageError(f"no schema {args.name!r}; {hint}the schemas: {', '.join(schemas.names())}")
    sys.stdout.write(schemas.text(found))
    return ExitCode.OK
