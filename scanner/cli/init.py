"""`tlsverify init [DIR]`: a site's two input files to start from, commented; nothing is overwritten."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from scanner.cli.common import ExitCode, SubParsers
from scanner.cli.policy import default_policy
from scanner.config import load_releases
from scanner.files import write_atomically
from scanner.verify import UsageError

STARTER = ("endpoints.yaml", "policy.yaml")


def add_command(commands: SubParsers) -> None:
    text = "write a commented endpoints.yaml and policy.yaml (the newest release's defaults) to start from"
    parser = commands.add_parser("init", help=text, description=text + "; an existing file is never overwritten")
    parser.add_argument(
        "dir", nargs="?", type=Path, default=Path("."), help="the folder to write them in (default: this one)"
    )


def run(args: argparse.Namespace) -> int:
    folder: Path = args.dir
    taken = [folder / name for name in STARTER if (folder / name).exists()]
    if taken:
        raise UsageError(f"{taken[0]} exists; init writes only new files: remove it, or name another folder")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder")
    endpoints = resources.files("scanner").joinpath("data/endpoints.yaml").read_text(encoding="utf-8")
    policy, policy_text = default_policy(load_releases())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / "endpoints.yaml", endpoints, keep_mode=True)
        write_atomically(folder / "policy.yaml", policy_text, keep_mode=True)
    except OSError as exc:
        raise UsageError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    where = "" if folder == Path(".") else f" in {folder}"
    print(f"Wrote endpoints.yaml and policy.yaml{where} (release {policy.release}'s Reset to Default lists).")
    print("Next: replace the example.com hosts in endpoints.yaml with your own servers, make policy.yaml")
    print("your client's lists, then run `tlsverify policy check policy.yaml` and `tlsverify verify-all`.")
    return ExitCode.OK
