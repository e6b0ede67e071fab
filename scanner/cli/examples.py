"""Examples and exit codes at the end of every command's `--help`, kept in one place (a test parses every
example, so none can drift from the options)."""

from __future__ import annotations

import argparse

from scanner.cli.common import EXIT_CODES

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "tlsverify init                 # a starter endpoints.yaml and policy.yaml here",
        "tlsverify demo                 # the whole job on a loopback lab, nothing else needed",
        "tlsverify verify-all           # probe endpoints.yaml under policy.yaml",
    ),
    "init": ("tlsverify init", "tlsverify init /etc/tlsverify"),
    "verify-all": (
        "tlsverify verify-all",
        "tlsverify verify-all --only apns --only scep --policy proposed.yaml --out-dir /tmp/r",
        "tlsverify verify-all --proxy http://proxy.example:3128 --format json > run.json",
        "tlsverify verify-all --format csv --no-progress > endpoints.csv",
    ),
    "demo": ("tlsverify demo", "tlsverify demo --keep-running   # then try the commands it prints"),
    "report": ("tlsverify report", "tlsverify report --run 12 --out-dir /tmp/run12"),
    "impact": (
        "tlsverify impact --reset-to-default",
        "tlsverify impact --upgrade --release 12.0.0.0 --verify",
        "tlsverify impact --proposed new.yaml --rescan",
    ),
    "policy show": ("tlsverify policy show", "tlsverify policy show old.yaml"),
    "policy check": ("tlsverify policy check policy.yaml", "tlsverify policy check policy.yaml --profile pci-dss-3.1"),
    "policy upgrade": (
        "tlsverify policy upgrade policy.yaml --release 12.0.0.0 --output new.yaml",
        "tlsverify policy upgrade policy.yaml --release 12.0.0.0 --in-place",
    ),
    "policy reset-to-default": (
        "tlsverify policy reset-to-default",
        "tlsverify policy reset-to-default --release 10.3.0.0 -o reset.yaml",
    ),
    "policy diff": ("tlsverify policy diff policy.yaml reset.yaml",),
    "policy apply": ("tlsverify policy apply policy.yaml",),
    "policy releases": ("tlsverify policy releases", "tlsverify policy releases --release-dir ./releases"),
    "policy clients": ("tlsverify policy clients",),
    "policy advise": (
        "tlsverify policy advise",
        "tlsverify policy advise policy.yaml --drop apple-dep -o advised.yaml",
    ),
    "history": ("tlsverify history", "tlsverify history --limit 5"),
    "diff": ("tlsverify diff 11 12",),
    "usage reset": ("tlsverify usage reset",),
    "prune": ("tlsverify prune --older-than 90",),
    "schedule run": (
        "tlsverify schedule run --cron '0 2 * * *'",
        "tlsverify schedule run --cron '30 1 * * 1-5' --notify-always --notify json://localhost:8080/hook",
    ),
    "schedule print": (
        "tlsverify schedule print --systemd --cron '0 2 * * *'",
        "tlsverify schedule print --crontab --cron '0 2 * * *'",
    ),
    "completion": (
        "tlsverify completion bash > ~/.local/share/bash-completion/completions/tlsverify",
        "tlsverify completion zsh > ~/.zfunc/_tlsverify",
    ),
    "schema": (
        "tlsverify schema --list",
        "tlsverify schema verify-all > verify-all.schema.json",
        "tlsverify schema endpoints > endpoints.schema.json  # for editors: yaml-language-server: $schema=...",
    ),
}
"""Command path (`policy check`) -> examples, each a command line a user types."""

_USAGE = "  2    a usage or configuration error: the message names the file, line and field"
_DONE = f"exit codes:\n  0    done\n{_USAGE}"
EXIT_CODES_OF: dict[str, str] = {
    "": EXIT_CODES,
    "verify-all": EXIT_CODES,
    "schedule run": f"{EXIT_CODES}\n  (with --max-runs: the worst code of its runs, 2 then 1 then 3)",
    "demo": f"exit codes:\n  0    the demo ran (its lab fails the policy on purpose)\n{_USAGE}\n  130  interrupted",
    "impact": "exit codes:\n  0    nothing breaks\n"
    "  1    some endpoint breaks, a real handshake contradicts a prediction, or (without\n"
    "       --allow-unknown) an endpoint was never probed or a prediction could not be checked\n"
    f"{_USAGE}\n  130  interrupted",
    "policy check": "exit codes:\n  0    no errors (warnings allowed)\n  1    warnings, with --strict\n"
    "  2    errors in the file, or a usage error",
    "policy diff": f"exit codes:\n  0    the two policies hold the same lists\n  1    they differ\n{_USAGE}",
    "diff": f"exit codes:\n  0    nothing changed between the two runs\n  1    something changed\n{_USAGE}",
}
"""What each command exits with; a command not named here exits 0 when done and 2 on a usage error."""


def commands(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command and subcommand parser with its path (`""` for tlsverify itself)."""
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{path} {name}".strip())
    return found


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Put each command's examples, then the exit codes, at the end of its help."""
    for path, command in commands(parser):
        lines = EXAMPLES.get(path, ())
        examples = "examples:\n" + "\n".join(f"  {line}" for line in lines) + "\n\n" if lines else ""
        command.epilog = examples + EXIT_CODES_OF.get(path, _DONE)
        command.formatter_class = HelpFormatter


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that a text of several lines (examples, exit codes) keeps its lines."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)
