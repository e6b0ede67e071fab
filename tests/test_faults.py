"""Hostile round two: options, signals, pipes, permissions, planted links, floods of bad names and empty
advice, each against real files, real processes and real servers (no mocks)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.config import write_endpoints
from scanner.lab.demo import DEMO_SERVERS
from scanner.lab.hostile import DribbleServer
from scanner.lab.servers import Lab
from tests.conftest import ROOT

POLICY = str(ROOT / "policy.yaml")


def tlsverify(*args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    def before() -> None:
        if umask is not None:
            os.umask(umask)

    command = [sys.executable, "-m", "scanner", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, preexec_fn=before)


@pytest.fixture(scope="module")
def one_endpoint(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    server = lab.start(DEMO_SERVERS[0].spec)  # type: ignore[arg-type]
    path = tmp_path_factory.mktemp("faults") / "endpoints.yaml"
    write_endpoints(
        [{"id": "apns", "host": "apns.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}],
        path,
        "faults",
        lab.certificates.ca_bundle(),
    )
    return path


# --- 10: every option validated ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--rate", "inf", "must be greater than 0 and at most"),
        ("--rate", "nan", "must be greater than 0 and at most"),
        ("--deadline", "inf", "must be greater than 0 and at most"),
        ("--deadline", "1e10", "must be greater than 0 and at most"),
        ("--timeout", "1e300", "must be greater than 0 and at most"),
        ("--concurrency", "100000", "must be from 1 to 1024"),
        ("--db", "", "is not a file name"),
        ("--db", ".", "is not a file name"),
        ("--db", "/", "is not a file name"),
        ("--out", "", "an empty folder name"),
    ],
)
def test_bad_option_values_exit_2_with_the_reason(
    one_endpoint: Path, tmp_path: Path, option: str, value: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ["--out", str(tmp_path / "out")] if option != "--out" else []
    code = main(["verify-all", "--endpoints", str(one_endpoint), "--policy", POLICY, *out, option, value])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing probed, nothing written


def test_out_naming_a_file_says_so(one_endpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "reports"
    a_file.write_text("not a folder")
    assert main(["verify-all", "--endpoints", str(one_endpoint), "--policy", POLICY, "--out", str(a_file)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_fractional_rate_is_kept_not_rounded_down() -> None:
    from scanner.scan import pacing

    assert pacing(1.9) == (1, 1 / 1.9) and pacing(50) == (50, 1.0) and pacing(0.5) == (1, 2.0)


# --- 11: a closed pipe ----------------------------------------------------------------------------------


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "scanner", "policy", "clients"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head -0`: nobody reads
    with process.stderr:
        err = process.stderr.read().decode()
    process.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert process.returncode == 141


# --- 12: SIGTERM is Ctrl-C -------------------------------------------------------------------------------


def test_sigterm_stores_what_finished(lab: Lab, tmp_path: Path) -> None:
    fast = lab.start(DEMO_SERVERS[0].spec)  # type: ignore[arg-type]
    slow = lab.add(DribbleServer("slow-term", interval_s=0.5))
    endpoints = tmp_path / "endpoints.yaml"
    write_endpoints(
        [
            {"id": "fast", "host": "fast.lab.tlsverify.test", "ip": "127.0.0.1", "port": fast.port},
            {"id": "slow", "host": "slow.lab.tlsverify.test", "ip": "127.0.0.1", "port": slow.port},
        ],
        endpoints,
        "sigterm",
        lab.certificates.ca_bundle(),
    )
    out = tmp_path / "out"
    command = [sys.executable, "-m", "scanner", "verify-all", "--endpoints", str(endpoints), "--policy", POLICY]
    command += ["--out", str(out), "--timeout", "30", "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while fast.connections < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    doc = json.loads((out / "verify-all.json").read_text())
    assert doc["complete"] is False and [e["id"] for e in doc["endpoints"]] == ["fast"]


# --- 13: a world-writable umask ------------------------------------------------------------------------


def test_report_folders_are_owner_only_whatever_the_umask(one_endpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "reports"
    db = tmp_path / "history" / "tlsverify.sqlite"
    common = ("--policy", POLICY, "--out", str(out), "--db", str(db), "--no-progress")
    done = tlsverify("verify-all", "--endpoints", str(one_endpoint), *common, umask=0)
    assert done.returncode in (0, 1), done.stderr
    for folder in (out, out.parent, db.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in (out / "verify-all.html", out / "verify-all.json", db):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# --- 14: a link planted where a temporary file would go ---------------------------------------------------


def test_a_planted_link_does_not_redirect_a_policy_write(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "out.yaml"
    for name in (".out.yaml.tlsverify-tmp", ".out.yaml.tmp", ".out.yaml"):
        (tmp_path / name).symlink_to(victim)
    assert main(["policy", "reset-to-default", "--output", str(target)]) == 0
    assert victim.read_text() == "keep me"
    assert "cipher_suites:" in target.read_text() and not target.is_symlink()


# --- 15: thousands of unknown names -----------------------------------------------------------------------


def test_thousands_of_unknown_names_get_suggestions_only_for_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"TLS_NO_SUCH_SUITE_{i}_WITH_AES" for i in range(2000)]
    policy = tmp_path / "policy.yaml"
    policy.write_text('release: "12.0.0.0"\ncipher_suites:\n  selected:\n' + "".join(f"    - {n}\n" for n in names))
    assert main(["policy", "check", str(policy)]) == 2
    out = capsys.readouterr().out
    assert out.count("unknown cipher suite") == 2000
    assert out.count("no suggestions past the first 20 unknown names") == 1980


def test_a_tls13_suite_in_a_tls12_list_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('release: "12.0.0.0"\ncipher_suites:\n  selected: [TLS_AES_128_GCM_SHA256]\n')
    assert main(["policy", "check", str(policy)]) == 2
    out = capsys.readouterr().out
    assert "TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite" in out and "PSK" not in out


# --- 6: nothing to advise ---------------------------------------------------------------------------------


def test_advise_with_nothing_working_writes_nothing_and_says_so(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scep = next(s for s in DEMO_SERVERS if s.id == "scep")  # TLS_RSA_* only: fails under the shipped policy
    server = lab.start(scep.spec)  # type: ignore[arg-type]
    endpoints = tmp_path / "endpoints.yaml"
    write_endpoints(
        [{"id": "scep", "host": "scep.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}], endpoints, "advise"
    )
    out = tmp_path / "out"
    assert (
        main(["verify-all", "--endpoints", str(endpoints), "--policy", POLICY, "--out", str(out), "--no-progress"]) == 1
    )
    advised = tmp_path / "advised.yaml"
    code = main(
        ["policy", "advise", "--policy", POLICY, "--db", str(out / "tlsverify.sqlite"), "--output", str(advised)]
    )
    err = capsys.readouterr().err
    assert code == 1 and "nothing to advise: no endpoint works today" in err
    assert not advised.exists()


# --- 8: a database that is not ours, or damaged, or with a damaged run --------------------------------------


def _verify_all(endpoints: Path, out: Path, *extra: str) -> int:
    return main(
        ["verify-all", "--endpoints", str(endpoints), "--policy", POLICY, "--out", str(out), "--no-progress", *extra]
    )


def test_another_applications_database_is_refused_and_left_untouched(
    one_endpoint: Path, tmp_path: Path, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "app.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users (name) VALUES ('alice')")
    db.close()
    before = foreign.read_bytes()
    connections = sum(getattr(s, "connections", 0) for s in lab.servers)
    assert _verify_all(one_endpoint, tmp_path / "out", "--db", str(foreign)) == 2
    err = capsys.readouterr().err
    assert "not a tlsverify database (it has other tables: users); left untouched" in err and "Traceback" not in err
    assert foreign.read_bytes() == before and not Path(str(foreign) + "-wal").exists()
    assert sum(getattr(s, "connections", 0) for s in lab.servers) == connections  # nothing probed


def test_a_damaged_database_is_refused_before_probing(
    one_endpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _verify_all(one_endpoint, out) in (0, 1)
    db = out / "tlsverify.sqlite"
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    data = bytearray(db.read_bytes())
    page = 4096
    data[page : 3 * page] = bytes(random_bytes(2 * page))  # pages of tables and indexes overwritten
    db.write_bytes(bytes(data))
    assert _verify_all(one_endpoint, out) == 2
    err = capsys.readouterr().err
    assert ("damaged" in err or "cannot use as a tlsverify database" in err) and "Traceback" not in err


def random_bytes(n: int) -> bytes:
    return bytes((i * 7919 + 13) % 251 for i in range(n))


def test_a_damaged_stored_run_is_a_clear_error_in_report_and_impact(
    one_endpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _verify_all(one_endpoint, out) in (0, 1)
    with sqlite3.connect(out / "tlsverify.sqlite") as raw:
        raw.execute("UPDATE runs SET report_json = '{\"generated_at\": 1'")
    raw.close()
    capsys.readouterr()
    assert main(["report", "--out", str(out)]) == 2
    assert main(["impact", "--reset-to-default", "--policy", POLICY, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("is stored damaged") == 2 and "Traceback" not in err


def test_read_only_commands_create_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nothing-here"
    assert main(["report", "--out", str(out)]) == 2
    assert main(["impact", "--reset-to-default", "--policy", POLICY, "--out", str(out), "--no-progress"]) == 2
    assert main(["policy", "advise", "--policy", POLICY, "--db", str(out / "db.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "no complete Verify All run stored" in err and "--rescan" not in err.splitlines()[-1]
    assert not out.exists()


# --- 9: reports that cannot be written -------------------------------------------------------------------


def test_a_folder_in_the_way_of_a_report_stops_before_any_traffic(
    one_endpoint: Path, tmp_path: Path, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out / "verify-all.json").mkdir(parents=True)
    connections = sum(getattr(s, "connections", 0) for s in lab.servers)
    assert _verify_all(one_endpoint, out) == 2
    err = capsys.readouterr().err
    assert "verify-all.json is a folder, where a report file belongs" in err and "Traceback" not in err
    assert sum(getattr(s, "connections", 0) for s in lab.servers) == connections
    assert not (out / "tlsverify.sqlite").exists()


def test_a_read_only_report_folder_stops_before_any_traffic(
    one_endpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """/proc/self is a folder nobody may write, root included (this suite runs as root in CI)."""
    db = tmp_path / "db.sqlite"
    assert _verify_all(one_endpoint, Path("/proc/self"), "--db", str(db)) == 2
    err = capsys.readouterr().err
    assert "the folder /proc/self is not writable" in err and "nothing was probed" in err and "Traceback" not in err
    assert not db.exists()
    assert main(["policy", "reset-to-default", "--output", "/proc/self/policy.yaml"]) == 2
    assert "cannot write /proc/self/policy.yaml" in capsys.readouterr().err
    assert main(["policy", "advise", "--policy", POLICY, "--db", str(db), "--output", str(tmp_path)]) == 2
    assert "is a folder or no name at all" in capsys.readouterr().err


def test_reports_are_replaced_together_and_stale_temporaries_removed(one_endpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    stale = out / ".verify-all.html.killed"  # what a kill -9 inside an earlier write leaves
    stale.write_text("half")
    assert _verify_all(one_endpoint, out) in (0, 1)
    assert not stale.exists()
    html, js = (out / "verify-all.html").read_text(), json.loads((out / "verify-all.json").read_text())
    assert f"run {js['run_id']}" in html or str(js["run_id"]) in html


# --- 2: an enumeration cut short is not a finding --------------------------------------------------------


def test_a_server_that_falls_over_part_way_is_no_finding(lab: Lab) -> None:
    from scanner import findings
    from scanner.config import load_policy
    from scanner.lab.hostile import ServesThenResets
    from scanner.lab.servers import ServerSpec
    from scanner.models import EndpointStatus
    from scanner.probe.prober import SslyzeProber
    from tests.conftest import endpoint

    # Accepts a Selected suite and a Disabled one; serves one connection, then resets every one.
    spec = ServerSpec("falls-over", "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384", server_preference=True)
    server = ServesThenResets(spec.name, spec=spec, certificates=lab.certificates, serves=1)
    lab.add(server)
    policy = load_policy(ROOT / "policy.yaml")
    target = endpoint("falls-over", server.port)
    result = SslyzeProber(timeout_s=2).probe(target, policy, lambda: None)
    assert result.status is EndpointStatus.TLS_ERROR, result
    assert "cut short" in (result.reason or "") and "stopped answering" in (result.reason or "")
    assert findings.finding(target, result, policy).required_disabled == ()


# --- 5: the server name as a client sends it ---------------------------------------------------------------


def test_sni_is_idna_without_a_trailing_dot_and_never_an_address(lab: Lab) -> None:
    from scanner.config import load_policy
    from scanner.lab.servers import ServerSpec
    from scanner.models import Endpoint
    from scanner.probe.prober import SslyzeProber

    server = lab.start(ServerSpec("sni", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA", max_version=ssl.TLSVersion.TLSv1_3))
    policy = load_policy(ROOT / "policy.yaml")
    prober = SslyzeProber(timeout_s=2)
    for host, expected in (("bücher.lab.tlsverify.test.", "xn--bcher-kva.lab.tlsverify.test"), ("127.0.0.1", None)):
        server.reset_counts()
        ip = None if host == "127.0.0.1" else "127.0.0.1"
        result = prober.probe(Endpoint("sni", "sni", "lab", host, server.port, ip=ip), policy, lambda: None)
        assert result.negotiated, result
        server.settle()
        sent = {hello.server_name for hello in server.hellos if hello.version != "SSLv3"}  # SSL 3.0: no extensions
        assert sent == {expected}, (host, sent)


# --- 7: one server, however it is spelled ---------------------------------------------------------------------


def test_one_server_spelled_three_ways_is_probed_one_connection_at_a_time(tmp_path: Path) -> None:
    import asyncio
    import itertools
    import socketserver
    import threading

    from scanner.config import load_policy
    from scanner.models import Endpoint
    from scanner.probe.prober import SslyzeProber
    from scanner.scan import ScanSettings, scan

    # Each connection's span, from its start to the moment before its answer goes out: the client cannot
    # open its next connection before that answer, so a span that starts inside another is an overlap.
    spans: list[tuple[float, float]] = []

    class Slow(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            started = time.monotonic()
            self.request.recv(16384)
            time.sleep(0.05)  # long enough to overlap with a second connection, if one came
            spans.append((started, time.monotonic()))
            self.request.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # alert: handshake failure

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Slow) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        endpoints = [
            Endpoint("by-name", "n", "lab", "localhost", port),
            Endpoint("by-address", "a", "lab", "127.0.0.1", port),
            Endpoint("by-ip-field", "i", "lab", "other.lab.tlsverify.test", port, ip="127.0.0.1"),
        ]
        settings = ScanSettings(concurrency=3, rate=1000, deadline_s=60)
        results = asyncio.run(scan(endpoints, load_policy(ROOT / "policy.yaml"), SslyzeProber(timeout_s=1), settings))
        server.shutdown()
    assert len(results) == 3
    ordered = sorted(spans)
    assert len(ordered) >= 3
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(ordered))


# --- 4: a server that asks for a client certificate, or answers every hello with alert 42 --------------------


@pytest.mark.parametrize("kind", ["required", "optional"])
def test_a_client_certificate_request_is_said_and_the_suites_still_enumerated(lab: Lab, kind: str) -> None:
    from scanner.config import load_policy
    from scanner.lab.servers import ServerSpec
    from scanner.models import EndpointStatus, TlsVersion
    from scanner.probe.prober import SslyzeProber
    from scanner.report import view
    from tests.conftest import endpoint

    spec = ServerSpec(
        f"mtls-{kind}",
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
        max_version=ssl.TLSVersion.TLSv1_3,
        client_certificate=kind,
    )
    server = lab.start(spec)
    result = SslyzeProber(timeout_s=2).probe(
        endpoint(spec.name, server.port), load_policy(ROOT / "policy.yaml"), lambda: None
    )
    assert result.status is EndpointStatus.OK, result
    assert result.accepted_tls12 == ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    assert TlsVersion.TLSV1_2 in result.tls_versions
    assert result.client_certificate == kind
    assert "client certificate" in view.client_certificate_text(kind)


def test_a_server_answering_every_hello_with_alert_42_says_so(lab: Lab) -> None:
    from scanner.config import load_policy
    from scanner.lab.servers import LoopbackServer
    from scanner.models import EndpointStatus
    from scanner.probe.prober import SslyzeProber
    from tests.conftest import endpoint

    class Alert42(LoopbackServer):
        def handle(self, conn: socket.socket) -> None:
            conn.recv(16384)
            conn.sendall(b"\x15\x03\x03\x00\x02\x02\x2a")  # fatal bad_certificate

    server = lab.add(Alert42("alert42"))
    result = SslyzeProber(timeout_s=2).probe(
        endpoint("alert42", server.port), load_policy(ROOT / "policy.yaml"), lambda: None
    )
    assert result.status is EndpointStatus.TLS_ERROR, result
    assert "alert 42 (bad certificate)" in (result.reason or "")


# --- 1: a run over some endpoints is not the whole site -------------------------------------------------------


def test_an_only_run_does_not_make_advise_drop_the_others(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scanner.config import load_policy

    apns = lab.start(next(s for s in DEMO_SERVERS if s.id == "apns").spec)  # type: ignore[arg-type]
    scep = lab.start(next(s for s in DEMO_SERVERS if s.id == "scep").spec)  # type: ignore[arg-type]
    endpoints = tmp_path / "endpoints.yaml"
    entries: list[dict[str, object]] = [
        {"id": "a", "host": "a.lab.tlsverify.test", "ip": "127.0.0.1", "port": apns.port},
        {"id": "b", "host": "b.lab.tlsverify.test", "ip": "127.0.0.1", "port": scep.port},
    ]
    write_endpoints(entries, endpoints, "site", lab.certificates.ca_bundle())
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        'release: "12.0.0.0"\ncipher_suites:\n  selected:\n    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n'
        "    - TLS_RSA_WITH_AES_256_GCM_SHA384\n"
    )
    out = tmp_path / "out"
    common = ["--endpoints", str(endpoints), "--policy", str(policy), "--out", str(out), "--no-progress"]
    assert main(["verify-all", *common]) == 0
    assert main(["verify-all", *common, "--only", "a"]) == 0
    advised = tmp_path / "advised.yaml"
    db = str(out / "tlsverify.sqlite")
    assert main(["policy", "advise", "--policy", str(policy), "--db", db, "--output", str(advised)]) == 0
    assert "TLS_RSA_WITH_AES_256_GCM_SHA384" in load_policy(advised).selected  # b's only suite is kept
    capsys.readouterr()
    assert main(["impact", "--proposed", str(advised), *common]) == 0
    doc = json.loads((out / "impact.json").read_text())
    assert {e["id"] for e in doc["endpoints"]} == {"a", "b"}
    assert any("a: from run 2 (over some endpoints only)" in n for n in doc["notes"])
    # An endpoint no run has probed is unknown, and impact says so with exit 1 unless told otherwise.
    write_endpoints(
        [*entries, {"id": "c", "host": "c.lab.tlsverify.test", "ip": "127.0.0.1", "port": 9}],
        endpoints,
        "site",
        lab.certificates.ca_bundle(),
    )
    assert main(["impact", "--proposed", str(advised), *common]) == 1
    assert "nothing is known of c (never probed)" in capsys.readouterr().err
    assert main(["impact", "--proposed", str(advised), *common, "--allow-unknown"]) == 0


# --- small ones ------------------------------------------------------------------------------------------------


def test_a_server_hello_then_silence_is_a_stall_not_no_answer(lab: Lab) -> None:
    from scanner.config import load_policy
    from scanner.lab.servers import LoopbackServer
    from scanner.models import EndpointStatus
    from scanner.probe.prober import SslyzeProber
    from tests.conftest import endpoint

    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\xc0\x2f" + b"\x00"  # ServerHello: TLS 1.2, ECDHE-RSA-AES128-GCM
    record = b"\x16\x03\x03" + (len(body) + 4).to_bytes(2, "big") + b"\x02" + len(body).to_bytes(3, "big") + body

    class Stall(LoopbackServer):
        def handle(self, conn: socket.socket) -> None:
            conn.recv(16384)
            conn.sendall(record)
            conn.settimeout(5)
            while conn.recv(1024):  # silent until the client gives up and closes
                pass

    server = lab.add(Stall("stall"))
    result = SslyzeProber(timeout_s=1).probe(
        endpoint("stall", server.port), load_policy(ROOT / "policy.yaml"), lambda: None
    )
    assert result.status is EndpointStatus.TIMEOUT, result
    assert "in its ServerHello, then stopped answering" in (result.reason or "")


def test_impact_help_claims_no_default_it_does_not_have() -> None:
    import argparse

    from scanner.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = commands.choices["impact"].format_help()
    assert "default: endpoints.yaml)" not in text and "with --rescan, default endpoints.yaml" in " ".join(text.split())


# --- 3: a clean close (FIN, no alert) on a large hello -----------------------------------------------------------


def test_a_server_that_closes_cleanly_on_large_hellos_is_enumerated(lab: Lab) -> None:
    from scanner.config import load_policy
    from scanner.lab.servers import ServerSpec
    from scanner.models import EndpointStatus
    from scanner.probe.prober import SslyzeProber
    from tests.conftest import endpoint

    spec = ServerSpec(
        "fin512",
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA",
        max_hello=400,
        fin_on_refusal=True,
    )
    server = lab.start(spec)
    result = SslyzeProber(timeout_s=2).probe(
        endpoint("fin512", server.port), load_policy(ROOT / "policy.yaml"), lambda: None
    )
    assert result.status is EndpointStatus.OK, result
    assert set(result.accepted_tls12) == {
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
    }
    assert any("refuses large ClientHellos" in note for note in result.notes)


def test_a_fatal_close_notify_is_named(lab: Lab) -> None:
    from scanner.config import load_policy
    from scanner.lab.servers import LoopbackServer
    from scanner.models import EndpointStatus
    from scanner.probe.prober import SslyzeProber
    from tests.conftest import endpoint

    class CloseNotify(LoopbackServer):
        def handle(self, conn: socket.socket) -> None:
            conn.recv(16384)
            conn.sendall(b"\x15\x03\x03\x00\x02\x02\x00")  # fatal close_notify

    server = lab.add(CloseNotify("close-notify"))
    result = SslyzeProber(timeout_s=2).probe(
        endpoint("close-notify", server.port), load_policy(ROOT / "policy.yaml"), lambda: None
    )
    assert result.status is EndpointStatus.TLS_ERROR, result
    assert "alert 0 (close notify)" in (result.reason or "") and "1000" not in (result.reason or "")


def test_impact_verify_that_could_check_nothing_does_not_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoints, out = tmp_path / "endpoints.yaml", tmp_path / "out"
    with Lab() as gone:  # a server that answers the scan, then is gone when impact --verify runs
        server = gone.start(next(s for s in DEMO_SERVERS if s.id == "apns").spec)  # type: ignore[arg-type]
        write_endpoints(
            [{"id": "a", "host": "a.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}],
            endpoints,
            "x",
            Path(shutil.copy(gone.certificates.ca_bundle(), tmp_path / "ca.pem")),  # outlives the lab
        )
        common = ["--endpoints", str(endpoints), "--policy", POLICY, "--out", str(out), "--no-progress"]
        assert main(["verify-all", *common]) == 0
    capsys.readouterr()
    assert main(["impact", "--reset-to-default", "--verify", *common]) == 1
    captured = capsys.readouterr()
    assert "1 prediction could not be checked by a real handshake" in captured.err
    assert "handshake: could not check" in captured.out
    assert main(["impact", "--reset-to-default", "--verify", *common, "--allow-unknown"]) == 0


# --- found by review: the classes behind the items ---------------------------------------------------------------


def test_an_endpoint_only_an_only_run_probed_is_kept(lab: Lab, tmp_path: Path) -> None:
    from scanner.config import load_policy

    apns = lab.start(next(s for s in DEMO_SERVERS if s.id == "apns").spec)  # type: ignore[arg-type]
    scep = lab.start(next(s for s in DEMO_SERVERS if s.id == "scep").spec)  # type: ignore[arg-type]
    endpoints, out = tmp_path / "endpoints.yaml", tmp_path / "out"
    a = {"id": "a", "host": "a.lab.tlsverify.test", "ip": "127.0.0.1", "port": apns.port}
    b = {"id": "b", "host": "b.lab.tlsverify.test", "ip": "127.0.0.1", "port": scep.port}
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        'release: "12.0.0.0"\ncipher_suites:\n  selected:\n    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n'
        "    - TLS_RSA_WITH_AES_256_GCM_SHA384\n"
    )
    common = ["--endpoints", str(endpoints), "--policy", str(policy), "--out", str(out), "--no-progress"]
    write_endpoints([a], endpoints, "a only", lab.certificates.ca_bundle())
    assert main(["verify-all", *common]) == 0
    write_endpoints([a, b], endpoints, "b added, probed on its own", lab.certificates.ca_bundle())
    assert main(["verify-all", *common, "--only", "b"]) == 0
    advised = tmp_path / "advised.yaml"
    db = str(out / "tlsverify.sqlite")
    assert main(["policy", "advise", "--policy", str(policy), "--db", db, "--output", str(advised)]) == 0
    assert "TLS_RSA_WITH_AES_256_GCM_SHA384" in load_policy(advised).selected  # b's only suite


def test_a_foreign_database_with_a_table_called_runs_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "training.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, athlete TEXT, km REAL)")
    db.close()
    before = foreign.read_bytes()
    assert main(["report", "--db", str(foreign), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "not a tlsverify database" in err and "Traceback" not in err
    assert foreign.read_bytes() == before


def test_our_database_after_analyze_is_still_ours(one_endpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _verify_all(one_endpoint, out) in (0, 1)
    with sqlite3.connect(out / "tlsverify.sqlite") as db:
        db.execute("ANALYZE")
    db.close()
    assert main(["report", "--out", str(out)]) == 0


def test_a_rate_limiter_that_resets_every_second_connection_costs_no_suite(lab: Lab) -> None:
    import struct

    from scanner.config import load_policy
    from scanner.lab.servers import ServerSpec, TlsServer
    from scanner.models import EndpointStatus
    from scanner.probe.prober import SslyzeProber
    from tests.conftest import endpoint

    class EverySecond(TlsServer):
        def handle(self, conn: socket.socket) -> None:
            if self.connections % 2 == 0:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            super().handle(conn)

    suites = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA:AES256-SHA:AES128-SHA"
    spec = ServerSpec("every-second", suites)
    server = lab.add(EverySecond(spec.name, spec=spec, certificates=lab.certificates))
    result = SslyzeProber(timeout_s=2).probe(
        endpoint(spec.name, server.port), load_policy(ROOT / "policy.yaml"), lambda: None
    )
    assert result.status is EndpointStatus.OK, result
    assert len(result.accepted_tls12) == 5 and result.accepted_other_hello == ()


def test_the_demo_endpoints_folder_is_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    old = os.umask(0)
    try:
        write_endpoints([{"id": "a", "host": "a.test", "port": 443}], folder / "endpoints.yaml", "umask 0")
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# --- exit code 3: could not probe ---------------------------------------------------------------------------


def test_an_endpoint_that_cannot_be_reached_exits_3_and_a_policy_failure_beside_it_exits_1(
    lab: Lab, tmp_path: Path
) -> None:
    """A monitoring job tells a network problem (3) from a policy problem (1), and 1 wins when both occur."""
    from scanner.lab.servers import closed_port

    gone = {"id": "gone", "host": "gone.lab.tlsverify.test", "ip": "127.0.0.1", "port": closed_port()}
    alone = tmp_path / "alone.yaml"
    write_endpoints([gone], alone, "unreachable")
    out = ["--policy", POLICY, "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(["verify-all", "--endpoints", str(alone), *out]) == 3
    scep = next(s for s in DEMO_SERVERS if s.id == "scep")  # TLS_RSA_* only: fails under the shipped policy
    server = lab.start(scep.spec)  # type: ignore[arg-type]
    both = tmp_path / "both.yaml"
    failing = {"id": "scep", "host": "scep.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}
    write_endpoints([gone, failing], both, "unreachable and failing")
    assert main(["verify-all", "--endpoints", str(both), *out]) == 1
