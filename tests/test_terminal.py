"""The terminal: the summary table wraps inside its columns, each suite is spelled as the policy file spells
it, colour only on a terminal and never with NO_COLOR, and the live bar moves with connections (seen in a
real pseudo-terminal, on the lab's real servers)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanner import findings as analysis
from scanner.config import load_policy, load_releases, write_endpoints
from scanner.lab.demo import start_lab
from scanner.lab.servers import Lab
from scanner.models import Endpoint, EndpointStatus, ProbeResult, TlsVersion, VerifyAllReport
from scanner.report import text
from tests.conftest import ROOT

COLOUR = re.compile(rb"\x1b\[[0-9;]*3[0-7]m")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
GCM = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
TRIPLE_DES = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"


def policy_file(tmp_path: Path, disabled: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "release: 10.3.0.0\nprotocols: {selected: [TLSv1.2], disabled: []}\n"
        f"cipher_suites:\n  selected: [{GCM}]\n  disabled: [{disabled}, TLS_RSA_WITH_AES_128_CBC_SHA]\n"
    )
    return path


def report(tmp_path: Path, disabled: str) -> VerifyAllReport:
    policy = load_policy(policy_file(tmp_path, disabled), load_releases(None))
    long_reason = "the server closed the connection without a word on the 281-byte ClientHello " * 2
    endpoints = [
        Endpoint("apns", "APNS", "APNS", "apns.lab.test", 443, ip="127.0.0.1"),
        Endpoint("legacy-scep-server-with-a-long-name", "SCEP", "SCEP", "scep.lab.test", 8443, ip="127.0.0.2"),
        Endpoint("sentry", "Sentry", "Sentry", "sentry.lab.test", 443, ip="127.0.0.3"),
    ]
    results = [
        ProbeResult("apns", EndpointStatus.OK, ip="127.0.0.1", tls_versions=(TlsVersion.TLSV1_2,), negotiated=GCM),
        ProbeResult(
            "legacy-scep-server-with-a-long-name",
            EndpointStatus.NO_COMMON_SUITE,
            reason=long_reason.strip(),
            ip="127.0.0.2",
            tls_versions=(TlsVersion.TLSV1_2,),
            accepted_tls12=(TRIPLE_DES, "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_DES_CBC_SHA"),
        ),
        ProbeResult("sentry", EndpointStatus.UNREACHABLE, reason="connection to 127.0.0.3:443 refused"),
    ]
    return analysis.verify_all_report(endpoints, results, policy, datetime(2026, 12, 2, 9, 0, tzinfo=UTC))


@pytest.mark.parametrize(("written", "unlisted"), [("SSL_RSA_WITH_3DES_EDE_CBC_SHA", "SSL_"), (TRIPLE_DES, "TLS_")])
def test_suites_are_spelled_as_the_policy_file_spells_them(tmp_path: Path, written: str, unlisted: str) -> None:
    summary = text.summary(report(tmp_path, written), width=200)
    assert f"needs Disabled: {written}, TLS_RSA_WITH_AES_128_CBC_SHA" in summary
    assert ("SSL_RSA_WITH_3DES_EDE_CBC_SHA" in summary) == written.startswith("SSL_")
    # DES is in neither list: spelled in the file's style (Java's SSL_ unless the file writes TLS_ for one)
    assert f"{unlisted}RSA_WITH_DES_CBC_SHA" not in summary  # only listed as needed when no Disabled suite helps
    assert f"{'TLS_' if unlisted == 'SSL_' else 'SSL_'}RSA_WITH_3DES" not in summary


def test_the_table_wraps_inside_its_columns_and_says_each_status_once(tmp_path: Path) -> None:
    summary = text.summary(report(tmp_path, TRIPLE_DES), width=80)
    lines = summary.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("Endpoint"))
    details_at = header.index("Suite, or why not")
    reason_lines = [line for line in lines if "ClientHello" in line or "connection without" in line]
    assert len(reason_lines) >= 3  # the long reason wrapped...
    for line in reason_lines:  # ...inside its column, never back to column 0
        assert "ClientHello" not in line[:details_at] and "connection" not in line[:details_at]
        assert line[details_at] != " "
    status_at = header.index("Status")
    id_parts = [line[:status_at].strip() for line in lines[2:] if line[:status_at].strip()]
    assert "".join(id_parts).startswith("apnslegacy-scep-server-with-a-long-name")  # the long id wraps...
    assert len(id_parts) >= 4  # ...inside its own column, over two lines
    apns = next(line for line in lines if line.startswith("apns"))
    assert apns.split() == ["apns", "ok", GCM]  # the status once, no `ok apns ok`
    assert "unreachable" in summary and "1 could not be probed (network)" in summary
    assert "1/3 endpoints connect under the policy" in summary
    assert all(line == line.rstrip() for line in lines)
    for name in (GCM, TRIPLE_DES, "TLS_RSA_WITH_AES_128_CBC_SHA"):
        assert name in summary  # a suite name is never broken across lines when the column can hold it


@pytest.mark.parametrize("width", [50, 75, 80, 100, 160])
def test_the_table_fits_any_screen_and_keeps_its_headers_whole(tmp_path: Path, width: int) -> None:
    lines = text.summary(report(tmp_path, TRIPLE_DES), width=width).splitlines()
    assert max(len(line) for line in lines) <= width
    assert lines[0].split() == ["Endpoint", "Status", "Suite,", "or", "why", "not"]
    assert "…" not in "\n".join(lines)  # nothing cut off: what does not fit wraps
    if width >= 75:
        assert any(GCM in line for line in lines)


def test_a_run_interrupted_before_any_endpoint_finished_still_has_a_summary(tmp_path: Path) -> None:
    from dataclasses import replace

    empty = replace(report(tmp_path, TRIPLE_DES), findings=(), complete=False)
    summary = text.summary(empty, width=80)
    assert "0/0 endpoints connect under the policy" in summary
    assert "The run was interrupted" in summary
    assert "Nothing to move" not in summary  # nothing is known, so nothing is claimed


def test_counts_agree_in_number(tmp_path: Path) -> None:
    summary = text.summary(report(tmp_path, TRIPLE_DES), width=200)
    assert "1 could not be probed (network); 0 Selected suites unused." in summary
    assert "1 Selected suites" not in summary and "1 endpoints" not in summary


def test_the_totals_lead_with_the_fewest_moves(tmp_path: Path) -> None:
    summary = " ".join(text.summary(report(tmp_path, TRIPLE_DES), width=200).split())
    assert (
        "Fewest moves: put 1 suite in Selected to reconnect legacy-scep-server-with-a-long-name: "
        "TLS_RSA_WITH_AES_128_CBC_SHA (from Disabled; no forward secrecy, no AEAD)." in summary
    )
    assert "Could not probe sentry: a network problem, not the policy's." in summary
    assert "Disabled suites required" not in summary  # the count overstated the work


def run_in_terminal(command: list[str], cwd: Path, **env: str) -> bytes:
    """Run `command` with standard output and error on a pseudo-terminal of 100 columns; everything it wrote."""
    parent, child = pty.openpty()
    os.set_blocking(parent, False)
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    environment.update(COLUMNS="100", LINES="40", TERM="xterm-256color", **env)
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=environment)
    os.close(child)
    out = b""
    give_up = time.monotonic() + 300  # a run that hangs fails the test instead of hanging it
    while True:
        if time.monotonic() > give_up:
            process.kill()
            pytest.fail(f"no end after 300 s: {out.decode(errors='replace')[-2000:]}")
        ready, _, _ = select.select([parent], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(parent, 65536)
            except OSError:  # EIO: the child side is closed
                chunk = b""
            out += chunk
            if not chunk and process.poll() is not None:
                break
        elif process.poll() is not None:
            break
    process.wait(timeout=120)
    os.close(parent)
    assert process.returncode in (0, 1), out.decode(errors="replace")
    return out


@pytest.fixture(scope="module")
def lab_site(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    write_endpoints(start_lab(lab), site / "endpoints.yaml", "test lab")
    (site / "policy.yaml").write_text((ROOT / "policy.yaml").read_text())
    return site


def verify_all(*options: str) -> list[str]:
    return [sys.executable, "-m", "scanner", "verify-all", "--db", "history.sqlite", *options]


def test_a_terminal_gets_colour_and_a_bar_that_moves_with_connections(lab_site: Path) -> None:
    # 5 connections a second per server: slow enough that a loaded machine still draws several frames
    # while no endpoint has finished
    out = run_in_terminal(verify_all("--rate-per-server", "5"), lab_site)
    assert COLOUR.search(out)
    frames = [ANSI.sub(b"", f).decode() for f in re.split(rb"\r|\n", out)]
    counts = [int(m[1]) for f in frames if (m := re.search(r"(\d+) connections", f))]
    done = [int(m[1]) for f in frames if (m := re.search(r"(\d+)/\d+ endpoints", f))]
    assert counts and counts == sorted(counts) and counts[-1] > len(set(done))
    # the bar moved while the endpoints done did not: it moves with each connection
    by_done: dict[int, set[int]] = {}
    for frame in frames:
        if (c := re.search(r"(\d+)/\d+ endpoints\s+(\d+) connections", frame)) is not None:
            by_done.setdefault(int(c[1]), set()).add(int(c[2]))
    assert any(len(seen) > 1 for seen in by_done.values()), by_done  # moved while no endpoint finished
    assert counts[-1] >= 5 * max(done)


def test_no_color_and_pipes_get_plain_text(lab_site: Path) -> None:
    out = run_in_terminal(verify_all("--no-progress"), lab_site, NO_COLOR="1")
    assert not COLOUR.search(out)
    piped = subprocess.run(verify_all(), cwd=lab_site, capture_output=True, check=False)
    assert b"\x1b" not in piped.stdout + piped.stderr
    assert b"connections" not in piped.stderr  # no bar when standard error is not a terminal
    table = piped.stdout.decode().split("\n\n")[0].splitlines()
    assert table[0].startswith("Endpoint")
    assert all(line == line.rstrip() for line in table) and max(map(len, table)) <= 80
