"""The package as a user gets it: the wheel built from the source, installed into a fresh virtual environment,
and run in an empty folder (`--version`, `init`, `demo`), far from the source tree.

The fresh environment installs the wheel alone (no index, no network); the libraries it depends on are lent
from the test's own environment by a path file, so a file missing from the wheel (a template, a release file,
the suite catalog, a schema) fails here whatever is on the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the demo lab needs openssl")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv with the built wheel installed."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    # The source as a user gets it: git's files, or (a checkout without git) the tree without what runs leave
    listed = subprocess.run(["git", "ls-files", "--cached"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0:
        for name in listed.stdout.splitlines():
            if (ROOT / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, source / name)
    else:
        left = shutil.ignore_patterns(".venv", ".git", "reports", "build", "*.egg-info", "__pycache__")
        shutil.copytree(ROOT, source, ignore=left)
    offline = ["--no-deps", "--no-build-isolation", "--no-index", "--disable-pip-version-check"]  # no network
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", *offline, "-w", str(work), "."],
        cwd=source,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = work.glob("tlsverify-*.whl")
    fresh = work / "venv"
    venv.create(fresh, with_pip=False)
    purelib = Path(
        sysconfig.get_path("purelib", vars={"base": str(fresh), "platbase": str(fresh)}, scheme="venv")
        if "venv" in sysconfig.get_scheme_names()
        else next((fresh / "lib").glob("python3*/site-packages"))
    )
    lent = [p for p in sys.path if p.endswith("site-packages")]
    (purelib / "zz-lent-dependencies.pth").write_text("\n".join(lent) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(fresh / "bin" / "python")]
    done = subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-index", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return fresh / "bin"


def run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TLSVERIFY_DB", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / "tlsverify"), *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_wheel_runs_version_init_and_demo_in_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    where = subprocess.run(
        [str(installed / "python"), "-c", "import scanner; print(scanner.__file__)"],
        cwd=empty,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(installed.parent)), where  # the wheel's copy, not the source tree

    version = run(installed, empty, "--version")
    expected = f"tlsverify {metadata.version('tlsverify')} (sslyze {metadata.version('sslyze')}, "
    assert version.returncode == 0 and version.stdout.startswith(expected), version

    site = empty / "site"
    init = run(installed, empty, "init", "site")
    assert init.returncode == 0, init.stderr
    assert (site / "endpoints.yaml").is_file() and (site / "policy.yaml").is_file()
    check = run(installed, site, "policy", "check", "policy.yaml")
    assert check.returncode == 0, check.stdout + check.stderr

    demo = run(installed, empty, "demo", "--no-progress")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    reports = empty / "reports"
    assert {"verify-all.html", "verify-all.json", "tlsverify.sqlite", "demo-policy.yaml"} <= {
        p.name for p in reports.iterdir()
    }
    assert "endpoints connect under the policy" in demo.stdout
    assert "<html" in (reports / "verify-all.html").read_text()
