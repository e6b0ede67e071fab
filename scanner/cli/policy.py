"""`tlsverify policy ...`: show, check, upgrade, reset-to-default, diff, apply, releases and clients.

Commands that write a policy print it to standard output, or to `--output FILE`; they never overwrite
their input unless asked with `--in-place`. What they did goes to standard error.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from scanner import policy as rules
from scanner.cli import impact
from scanner.cli.common import (
    ExitCode,
    SubParsers,
    add_db_option,
    add_output_option,
    add_releases_option,
    alias,
    database,
    policy_file,
    policy_file_argument,
)
from scanner.config import check_policy_file, load_policy, load_releases, policy_yaml, read_policy_document
from scanner.files import write_atomically
from scanner.models import Policy
from scanner.naming import spelling_of
from scanner.policy import Releases
from scanner.report import policy_text
from scanner.store import Store
from scanner.verify import UsageError


def add_commands(commands: SubParsers) -> None:
    policy = commands.add_parser("policy", help="show, check, upgrade, reset, diff and apply cipher policies")
    sub = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")

    def parser(name: str, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        add_releases_option(p)
        return p

    show = parser(
        "show", "both lists in order as the file spells them, with code points, strength and legacy suites marked"
    )
    policy_file_argument(show)

    check = parser("check", "every problem of a policy file at once, each with its place in the file")
    check.add_argument("file", type=Path, metavar="FILE", help="the policy file to check (e.g. policy.yaml)")
    check.add_argument("--profile", choices=rules.PROFILES, help="also check a compliance profile")
    check.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")

    upgrade = parser("upgrade", "what an upgrade does to a policy: protocols reset, removed suites dropped")
    upgrade.add_argument("file", type=Path, metavar="FILE", help="the policy file to upgrade (e.g. policy.yaml)")
    target = upgrade.add_mutually_exclusive_group(required=True)  # required, under either name
    target.add_argument(
        "--release", dest="to", metavar="RELEASE", help="the release to upgrade to (see `tlsverify policy releases`)"
    )
    alias(target, "--to", "to")
    _output_options(upgrade, in_place=True)

    reset = parser("reset-to-default", "the Reset to Default lists of a release")
    reset.add_argument("--release", default=None, metavar="RELEASE", help="whose lists (default: the newest known)")
    _output_options(reset, in_place=False)

    diff = parser("diff", "suites added, removed, moved between lists and reordered from BEFORE to AFTER")
    diff.add_argument("a", type=Path, metavar="BEFORE", help="the policy file before (e.g. policy.yaml)")
    diff.add_argument("b", type=Path, metavar="AFTER", help="the policy file after (e.g. proposed.yaml)")

    apply = parser("apply", "validate a policy and record it as the current one (a new usage period starts)")
    apply.add_argument(
        "file", type=Path, metavar="FILE", help="the policy file applied on the MDM server (e.g. policy.yaml)"
    )
    add_db_option(apply)

    parser("releases", "the client releases tlsverify knows, and where their data came from")
    parser("clients", "the TLS clients a policy can be for (`client:`), and where their data came from")
    impact.add_advise_command(sub)


def _output_options(parser: argparse.ArgumentParser, in_place: bool) -> None:
    group = parser.add_mutually_exclusive_group()
    add_output_option(group)
    if in_place:
        group.add_argument("--in-place", action="store_true", help="overwrite the input file")


def run(args: argparse.Namespace) -> int:
    """Run one policy command; ConfigError and UsageError propagate to the caller (exit 2)."""
    releases = load_releases(args.releases)
    command = args.policy_command
    if command == "show":
        path = policy_file(args)
        print(policy_text.show(load_policy(path, releases), releases, str(path)))
        return ExitCode.OK
    if command == "check":
        _, found = check_policy_file(args.file, releases, args.profile)
        print(policy_text.problems(found, args.profile))
        if rules.has_errors(found):
            return ExitCode.USAGE
        return ExitCode.FINDINGS if found and args.strict else ExitCode.OK
    if command == "upgrade":
        return _upgrade(args, releases)
    if command == "reset-to-default":
        policy, text = default_policy(releases, args.release)
        _emit(text, args.output)
        counts = f"{len(policy.selected)} Selected, {len(policy.disabled)} Disabled"
        print(f"Reset to Default for release {policy.release}: {counts}", file=sys.stderr)
        return ExitCode.OK
    if command == "diff":
        a, b = load_policy(args.a, releases), load_policy(args.b, releases)
        result = rules.diff(a, b)
        print(policy_text.diff(result, str(args.a), str(args.b), spelling_of(b, a)))
        return ExitCode.OK if result.empty else ExitCode.FINDINGS
    if command == "apply":
        return _apply(args, releases)
    if command == "advise":
        return impact.run_advise(args)
    if command == "releases":
        print(policy_text.releases_table(releases.items))
        return ExitCode.OK
    if command == "clients":
        print(policy_text.clients_table(releases.items))
        return ExitCode.OK
    raise UsageError(f"unknown policy command {command}")


def _upgrade(args: argparse.Namespace, releases: rules.Releases) -> int:
    try:
        old, result = rules.upgrade_document(read_policy_document(args.file), releases, args.to)
    except ValueError as exc:
        raise UsageError(f"--to: {exc}") from None
    text = policy_yaml(result.policy, "", source=args.file)
    _emit(text, args.file if args.in_place else args.output, source=args.file, in_place=args.in_place)
    print(policy_text.upgrade(result, old), file=sys.stderr)
    return ExitCode.OK


def _apply(args: argparse.Namespace, releases: rules.Releases) -> int:
    _, found = check_policy_file(args.file, releases)
    for problem in found:
        print(problem, file=sys.stderr)
    if rules.has_errors(found):
        print("tlsverify: policy not applied; nothing changed", file=sys.stderr)
        return ExitCode.USAGE
    policy = load_policy(args.file, releases)
    now = datetime.now(UTC).replace(microsecond=0)
    with Store(database(args)) as store:
        applied = store.apply_policy(policy, str(args.file), now)
    print(
        f"Applied {args.file} (release {policy.release}) as policy {applied} in {database(args)} at {now.isoformat()}."
    )
    print("A new usage collection period starts now: asterisks count from this moment.")
    return ExitCode.OK


def default_policy(releases: Releases, release: str | None = None) -> tuple[Policy, str]:
    """The Reset to Default lists of `release` (default: the newest) and the policy file that holds them."""
    name = release or releases.newest.name
    try:
        policy = rules.reset_to_default(releases, name)
    except ValueError as exc:
        raise UsageError(f"--release: {exc}") from None
    known = releases.get(name)
    assert known is not None
    basis = f"reconstructed defaults: {known.basis}" if known.reconstructed else "vendor defaults"
    comment = f"Reset to Default for release {known.name} (tlsverify policy reset-to-default).\n{basis}"
    return policy, policy_yaml(policy, _wrap(comment))


def _emit(text: str, target: Path | None, source: Path | None = None, in_place: bool = False) -> None:
    """Print, or write atomically to `target` (through symlinks, keeping the file's mode); never onto the
    input file unless `in_place`."""
    if target is None:
        sys.stdout.write(text)
        return
    real = target.resolve()
    if source is not None and not in_place and real == source.resolve():
        raise UsageError(f"--output {target} is the input file; use --in-place to overwrite it")
    if real.is_dir():
        raise UsageError(f"--output {target} is a directory; name a file")
    try:
        write_atomically(target, text, keep_mode=True)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"Wrote {target}", file=sys.stderr)


def _wrap(text: str, width: int = 100) -> str:
    return "\n".join(textwrap.fill(part, width) for part in text.split("\n"))
