"""The benchmark harness runs, and on a small zoo two outside oracles, nmap's ssl-enum-ciphers and sslyze's
own TLS 1.2 scan, find exactly the accepted TLS 1.2 suites tlsverify finds, server by server.

No timing is asserted: the figures the harness prints are for docs/benchmarks.md, not for a test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NMAP = shutil.which("nmap")

if NMAP is None and os.environ.get("CI"):
    raise RuntimeError("CI must be able to run nmap (scripts/test installs it)")


@pytest.mark.skipif(NMAP is None, reason="nmap is not installed (apt-get install nmap)")
def test_nmap_and_sslyze_find_the_suites_tlsverify_finds(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_peers.py"), "--sizes", "6", "--rounds", "1"]
    command += ["--tools", "tlsverify,sslyze12,nmap", "--keep-files"]  # kept in tmp_path: its verify-all.json checked
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("tool ")) + 1 :]
    rows = {line.split("  ")[0].strip(): line for line in table[: table.index("")]}
    assert set(rows) == {"tlsverify verify-all", "sslyze --tlsv1_2", "nmap ssl-enum-ciphers"}, done.stdout
    for peer in ("sslyze --tlsv1_2", "nmap ssl-enum-ciphers"):
        assert re.search(r"\s6/6\s", rows[peer]), f"{peer} disagrees with tlsverify:\n{done.stdout}"
    assert "reference" in rows["tlsverify verify-all"]
