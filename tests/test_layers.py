"""The import rules, enforced: each outside library has one home, and data flows one way (inputs -> probe
-> findings -> store -> report, with the pipelines and the command line on top).

Read from the source with `ast`, so a rule broken anywhere in `scanner/` fails here, not in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scanner"

# library -> the modules (paths under scanner/, a trailing "/" for a whole package) allowed to import it
HOMES: dict[str, tuple[str, ...]] = {
    "sslyze": ("probe/",),
    "nassl": ("probe/",),
    "sqlite3": ("store.py",),
    "jinja2": ("report/",),
    "yaml": (),  # PyYAML: not used; ruamel.yaml reads and writes
    "ruamel": ("config/",),
    "pydantic": ("config/",),
    "cryptodatahub": ("catalog.py",),
    "asyncio_throttle": ("scan.py",),
    "trustme": ("lab/",),
    "cryptography": ("probe/certificate.py",),
    "aiosmtpd": ("lab/smtp.py",),
    "apprise": ("notify.py",),
    "croniter": ("schedule.py",),
    "rich": ("report/text.py", "cli/terminal.py"),
    "shtab": ("cli/completion.py",),
    "argparse": ("cli/",),
    "jsonschema": (),  # the tests' only: tlsverify ships its schemas and never validates against them itself
}

# module -> scanner modules it must not import (directly); a trailing "." forbids a whole package
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "models.py": ("scanner.",),
    "catalog.py": ("scanner.",),
    "clients.py": ("scanner.probe.", "scanner.policy", "scanner.config", "scanner.store", "scanner.report."),
    "policy.py": ("scanner.probe.", "scanner.config", "scanner.store", "scanner.report.", "scanner.impact"),
    "findings.py": ("scanner.probe.", "scanner.store", "scanner.report.", "scanner.config"),
    "impact.py": ("scanner.probe.", "scanner.store", "scanner.report.", "scanner.config"),
    "moves.py": ("scanner.probe.", "scanner.store", "scanner.report.", "scanner.config"),
    "document.py": ("scanner.probe.", "scanner.store", "scanner.report.", "scanner.config"),
    "store.py": ("scanner.probe.", "scanner.report.", "scanner.config", "scanner.findings"),
    "scan.py": ("scanner.probe.prober", "scanner.probe.handshake", "scanner.probe.raw", "scanner.probe.exhaustive"),
    "probe/": (
        "scanner.impact",
        "scanner.findings",
        "scanner.store",
        "scanner.report.",
        "scanner.config",
        "scanner.scan",
    ),
    "report/": ("scanner.probe.", "scanner.store", "scanner.scan", "scanner.verify", "scanner.config"),
    "verify.py": ("scanner.cli",),
    "naming.py": ("scanner.probe.", "scanner.store", "scanner.report.", "scanner.config"),
}


def _modules() -> list[tuple[str, set[str]]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found.append((path.relative_to(PACKAGE).as_posix(), names))
    return found


MODULES = _modules()


def _matches(relative: str, places: tuple[str, ...]) -> bool:
    return any(relative.startswith(p) if p.endswith("/") else relative == p for p in places)


@pytest.mark.parametrize("library", sorted(HOMES))
def test_each_outside_library_has_one_home(library: str) -> None:
    strays = [
        relative
        for relative, names in MODULES
        if any(n == library or n.startswith(library + ".") for n in names) and not _matches(relative, HOMES[library])
    ]
    assert not strays, f"{library} is imported outside {HOMES[library]}: {strays}"


def _banned(name: str, banned: str) -> bool:
    prefix = banned.rstrip(".")
    return name == prefix or name.startswith(prefix + ".")


def violations(module: str, modules: list[tuple[str, set[str]]]) -> list[str]:
    return sorted(
        {
            f"{relative} imports {name}"
            for relative, names in modules
            if _matches(relative, (module,))
            for name in names
            for banned in FORBIDDEN[module]
            if _banned(name, banned)
        }
    )


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_data_flows_one_way(module: str) -> None:
    wrong = violations(module, MODULES)
    assert not wrong, "\n".join(wrong)


def test_the_rules_catch_what_they_forbid() -> None:
    fake = [
        ("store.py", {"scanner.report.view", "json"}),
        ("probe/raw.py", {"scanner.impact"}),
        ("models.py", {"scanner"}),
    ]
    assert violations("store.py", fake) == ["store.py imports scanner.report.view"]
    assert violations("probe/", fake) == ["probe/raw.py imports scanner.impact"]
    assert violations("models.py", fake) == ["models.py imports scanner"]
    assert not _banned("scanner.policy_text", "scanner.policy")


def test_nothing_below_the_command_line_imports_it() -> None:
    wrong = [
        relative
        for relative, names in MODULES
        if not relative.startswith("cli/")
        and relative != "__main__.py"
        and any(n == "scanner.cli" or n.startswith("scanner.cli.") for n in names)
    ]
    assert not wrong, wrong


HEAVY_AT_START = ("pydantic", "sslyze", "nassl", "jinja2", "cryptodatahub", "cryptography", "apprise", "rich")
"""Libraries a command pays for only when it uses them: together 0.5 s of every start (issue 13)."""


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """What `tlsverify --help` (and every command's start) imports; a property, not a timing."""
    import subprocess
    import sys

    code = "import sys; import scanner.cli; scanner.cli.build_parser(); print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    # `sslyze` itself is there as the package whose __init__ is deferred (scanner/probe/__init__.py): no module of it
    heavy = [name for name in loaded if name.split(".")[0] in HEAVY_AT_START and name != "sslyze"]
    assert heavy == []


def test_sslyze_with_its_init_deferred_serves_the_probe_and_then_the_whole_package() -> None:
    """The console script defers sslyze's __init__; its scanner and plugins (exhaustive mode) still import."""
    import subprocess
    import sys

    code = """
import sys
from scanner.probe import complete_sslyze_init, defer_sslyze_init
defer_sslyze_init()
import scanner.probe.prober
assert not any(name.startswith(("cryptodatahub", "sslyze.plugins")) for name in sys.modules), "init ran early"
complete_sslyze_init()
from scanner.probe.exhaustive import sslyze_tls12_scan
from sslyze import Scanner, ServerScanRequest
from sslyze.plugins.scan_commands import ScanCommand
print(Scanner.__module__, ScanCommand.TLS_1_2_CIPHER_SUITES.value)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["sslyze.scanner.scanner", "tls_1_2_cipher_suites"]


def test_threads_that_complete_the_deferred_sslyze_init_at_once_all_get_its_names() -> None:
    import subprocess
    import sys

    code = """
import threading
from scanner.probe import defer_sslyze_init
defer_sslyze_init()
errors = []
def worker():
    try:
        from sslyze import Scanner, ServerScanRequest
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=worker) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(errors)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
