"""The command line end to end: real lab servers, real files, real SQLite, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scanner import catalog
from scanner.cli import main
from scanner.config import write_endpoints
from scanner.lab.demo import DEMO_SERVERS, start_lab
from scanner.lab.gnutls import unavailable_reason
from scanner.lab.servers import Lab
from tests.conftest import ROOT
from tests.documents import assert_valid


@pytest.fixture(scope="module")
def demo_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab") / "endpoints.yaml"


@pytest.fixture(scope="module")
def running_demo(lab: Lab, demo_endpoints: Path) -> Path:
    write_endpoints(start_lab(lab), demo_endpoints, "test lab")
    return demo_endpoints


def verify(tmp_path: Path, endpoints: Path, *extra: str) -> int:
    return main(
        [
            "verify-all",
            "--endpoints",
            str(endpoints),
            "--policy",
            str(ROOT / "policy.yaml"),
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
            *extra,
        ]
    )


def test_verify_all_on_the_lab(tmp_path: Path, running_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(tmp_path, running_demo) == 1
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "out" / "verify-all.json").read_text())
    assert f"5/{len(doc['endpoints'])} endpoints connect under the policy" in out
    status = {e["id"]: e["status"] for e in doc["endpoints"] if e["id"] != "connector"}
    assert status == {
        "apns": "ok",
        "apple-dep": "ok",
        "gateway": "ok",
        "ldap": "ok",
        "smtp": "ok",
        "ldaps": "no_tls12",
        "scep": "no_common_suite",
        "smtps": "no_common_suite",
        "sentry": "unreachable",
    }
    by_id = {e["id"]: e for e in doc["endpoints"]}
    assert by_id["apple-dep"]["server_preference"] is True
    assert by_id["apple-dep"]["negotiated"] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert by_id["smtps"]["required_disabled"] == [
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
    ]
    assert by_id["apns"]["host"] == "apns.lab.tlsverify.test" and by_id["apns"]["ip"] == "127.0.0.1"
    assert doc["run_id"] == 1
    assert (tmp_path / "out" / "tlsverify.sqlite").exists()
    page = (tmp_path / "out" / "verify-all.html").read_text()
    assert "Disabled suites that servers require" in page
    moves = page[page.index('<section id="moves"') : page.index('<section id="failing"')]
    assert 'data-suite="TLS_RSA_WITH_AES_128_CBC_SHA"><span class="suite"' in moves  # one move: scep and smtps
    assert "in neither list: add it" not in moves  # the connector's 3DES suites: not in the release, no move


def test_only_selects_endpoints_and_exit_zero_when_all_ok(tmp_path: Path, running_demo: Path) -> None:
    db = tmp_path / "custom.sqlite"
    assert verify(tmp_path, running_demo, "--only", "apns", "--only", "gateway", "--db", str(db)) == 0
    doc = json.loads((tmp_path / "out" / "verify-all.json").read_text())
    assert [e["id"] for e in doc["endpoints"]] == ["apns", "gateway"]
    assert db.exists()


def test_exhaustive_option_gives_the_same_answer(tmp_path: Path, running_demo: Path) -> None:
    fields = ("status", "tls_versions", "accepted_tls12", "server_preference", "negotiated", "required_disabled")
    answers = []
    for extra in ([], ["--exhaustive"]):
        verify(tmp_path, running_demo, *extra)
        doc = json.loads((tmp_path / "out" / "verify-all.json").read_text())
        answers.append({e["id"]: tuple(str(e[f]) for f in fields) for e in doc["endpoints"]})
        assert {e["mode"] for e in doc["endpoints"]} == {"exhaustive" if extra else "elimination"}
    # Stock slapd (GnuTLS) grants DHE only to a hello listing RFC 7919 groups, as Java's does and sslyze's
    # OpenSSL hello does not: sslyze's own scan cannot see those suites; the rest is the same.
    elimination, exhaustive = (answer.pop("ldap") for answer in answers)
    assert answers[0] == answers[1]
    found, seen = (set(json.loads(answer[2].replace("'", '"'))) for answer in (elimination, exhaustive))
    assert seen < found and all(name.startswith("TLS_DHE_RSA_") for name in found - seen)


def test_unknown_only_id_is_a_usage_error(
    tmp_path: Path, running_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(tmp_path, running_demo, "--only", "apsn") == 2
    assert "did you mean 'apns'?" in capsys.readouterr().err


def test_bad_files_exit_2_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "endpoints.yaml"
    bad.write_text("endpoints:\n  - {id: a, host: a.test, port: 0}\n")
    assert verify(tmp_path, bad) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_bad_options_exit_2(tmp_path: Path) -> None:
    assert main(["verify-all", "--concurrency", "0"]) == 2
    assert main(["verify-all", "--rate", "fast"]) == 2
    assert main(["no-such-command"]) == 2


def test_demo_from_an_empty_folder(tmp_path: Path) -> None:
    """No file needed: without a policy.yaml the demo uses the newest release's Reset to Default lists."""
    done = subprocess.run(
        [sys.executable, "-m", "scanner", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # the lab fails the policy on purpose; the demo itself worked
    assert "Reports: reports/verify-all.html" in done.stdout
    assert "No policy.yaml here: the demo uses release 12.0.0.0's Reset to Default lists" in done.stdout
    assert main(["policy", "check", str(tmp_path / "reports" / "demo-policy.yaml")]) == 0
    doc = json.loads((tmp_path / "reports" / "verify-all.json").read_text())
    without_gnutls = sum(1 for s in DEMO_SERVERS if s.gnutls_priority) if unavailable_reason() else 0
    assert len(doc["endpoints"]) == len(DEMO_SERVERS) - without_gnutls


def test_ctrl_c_stores_what_finished_and_marks_the_run_incomplete(lab: Lab, tmp_path: Path) -> None:
    import signal
    import time

    from scanner.lab.hostile import DribbleServer

    fast = lab.start(DEMO_SERVERS[0].spec)  # type: ignore[arg-type]
    slow = lab.add(DribbleServer("slow", interval_s=0.5))
    endpoints = tmp_path / "endpoints.yaml"
    write_endpoints(
        [
            {"id": "fast", "host": "fast.lab.tlsverify.test", "ip": "127.0.0.1", "port": fast.port},
            {"id": "slow", "host": "slow.lab.tlsverify.test", "ip": "127.0.0.1", "port": slow.port},
        ],
        endpoints,
        "ctrl-c test",
    )
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "scanner",
        "verify-all",
        "--endpoints",
        str(endpoints),
        "--policy",
        str(ROOT / "policy.yaml"),
        "--out",
        str(out),
        "--timeout",
        "30",
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while fast.connections < 10 and time.monotonic() < deadline:  # the fast endpoint is done after ~10
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted; keeping the 1 endpoints that finished" in stderr
    doc = json.loads((out / "verify-all.json").read_text())
    assert doc["complete"] is False
    assert [e["id"] for e in doc["endpoints"]] == ["fast"]
    assert "incomplete" in stdout
    from scanner.store import Store

    with Store(out / "tlsverify.sqlite") as store:
        assert store.latest() is None  # no complete run
        (stored,) = store.runs()
        assert stored.complete is False


def test_version_names_tlsverify_and_its_probe(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"tlsverify {version('tlsverify')} (sslyze {version('sslyze')}, nassl {version('nassl')},")


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ([], ["verify-all"]):
        assert main([*command, "--help"]) == 0
        out = capsys.readouterr().out
        assert all(f"\n  {code} " in out for code in ("0", "1", "2", "3", "130")), out


def test_every_argument_of_every_command_has_help_text() -> None:
    import argparse

    from scanner.cli import build_parser
    from scanner.cli.examples import commands

    missing = [
        f"tlsverify {path} {'/'.join(action.option_strings) or action.dest}"
        for path, sub in commands(build_parser())
        for action in sub._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


# --- one home for the history, whatever --out says -----------------------------------------------------------


@pytest.fixture
def site(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with one loopback endpoint and the shipped policy, as the working directory; no $TLSVERIFY_DB."""
    server = lab.start(DEMO_SERVERS[0].spec)  # type: ignore[arg-type]
    entry = {"id": "apns", "host": "apns.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}
    write_endpoints([entry], tmp_path / "endpoints.yaml", "db", lab.certificates.ca_bundle())
    shutil.copy(ROOT / "policy.yaml", tmp_path / "policy.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TLSVERIFY_DB")
    return tmp_path


def test_the_history_stays_in_reports_whatever_out_says(site: Path) -> None:
    assert main(["verify-all", "--out", "night", "--no-progress"]) == 0
    assert (site / "reports" / "tlsverify.sqlite").is_file()
    assert not (site / "night" / "tlsverify.sqlite").exists()
    assert main(["report", "--run", "1", "--out", "again"]) == 0  # the run is found: one home, not OUT
    assert (site / "again" / "verify-all.json").is_file() and not (site / "again" / "tlsverify.sqlite").exists()
    assert main(["history"]) == 0


def test_tlsverify_db_names_the_history_and_db_wins_over_it(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TLSVERIFY_DB", str(site / "var" / "history.sqlite"))
    assert main(["verify-all", "--no-progress"]) == 0
    assert (site / "var" / "history.sqlite").is_file() and not (site / "reports" / "tlsverify.sqlite").exists()
    assert main(["verify-all", "--no-progress", "--db", "other.sqlite"]) == 0
    assert (site / "other.sqlite").is_file()
    capsys.readouterr()
    monkeypatch.setenv("TLSVERIFY_DB", str(site))  # a folder
    assert main(["history"]) == 2
    assert "$TLSVERIFY_DB: " in capsys.readouterr().err


def test_read_only_commands_create_nothing(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSVERIFY_DB", str(site / "nowhere" / "history.sqlite"))
    before = sorted(p.name for p in site.iterdir())
    assert main(["history"]) == 2
    assert main(["report", "--out", "reports"]) == 2
    assert main(["diff", "1", "2"]) == 2
    assert main(["policy", "advise"]) == 2
    assert sorted(p.name for p in site.iterdir()) == before


def test_init_writes_a_site_s_two_files_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scanner.config import load_endpoints

    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert "Next: replace the example.com hosts" in capsys.readouterr().out
    assert main(["policy", "check", "policy.yaml"]) == 0
    assert len(load_endpoints(tmp_path / "endpoints.yaml")) >= 10  # every server kind of the vendor's list
    (tmp_path / "policy.yaml").write_text("mine\n")
    assert main(["init"]) == 2
    assert "endpoints.yaml exists" in capsys.readouterr().err  # the first file found in the way
    assert (tmp_path / "policy.yaml").read_text() == "mine\n"
    assert main(["init", "site"]) == 0
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["endpoints.yaml", "policy.yaml"]


def test_the_starter_endpoints_file_is_the_shipped_one() -> None:
    from importlib import resources

    starter = resources.files("scanner").joinpath("data/endpoints.yaml").read_text(encoding="utf-8")
    assert starter == (ROOT / "endpoints.yaml").read_text(encoding="utf-8"), "copy endpoints.yaml to scanner/data/"


def test_format_json_and_csv_put_only_the_document_on_standard_output(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    from importlib.metadata import version

    assert main(["verify-all", "--format", "json", "--no-progress"]) == 0
    printed = capsys.readouterr()
    doc = json.loads(printed.out)
    assert_valid(doc, "verify-all")
    assert doc == json.loads((site / "reports" / "verify-all.json").read_text())
    installed = {"version": version("tlsverify"), "sslyze": version("sslyze"), "nassl": version("nassl")}
    assert doc["tool"] == {"name": "tlsverify", **installed}  # the versions that probed
    negotiated = doc["endpoints"][0]["negotiated"]
    assert doc["suite_codes"][negotiated] == catalog.resolve(negotiated).code_hex
    assert "Reports: " in printed.err
    assert main(["verify-all", "--format", "csv", "--no-progress"]) == 0
    rows = list(csv.DictReader(printed_out := capsys.readouterr().out.splitlines()))
    assert printed_out[0].startswith("endpoint,name,category,host,port,protocol,status,connects,negotiated")
    assert [(r["endpoint"], r["status"], r["connects"]) for r in rows] == [("apns", "ok", "yes")]
    assert rows[0]["negotiated"].startswith("TLS_")


def test_demo_keep_running_leaves_the_lab_up_for_the_commands_it_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shlex
    import signal
    import threading

    demo = subprocess.Popen(
        [sys.executable, "-m", "scanner", "demo", "--keep-running", "--no-progress"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        give_up = threading.Timer(300, demo.kill)  # a demo that stops printing fails the test, never hangs it
        give_up.daemon = True
        give_up.start()
        while not lines or lines[-1] != "Ctrl-C stops the lab.\n":
            line = demo.stdout.readline()
            assert line, f"the demo ended early: {''.join(lines)}"
            lines.append(line)
        give_up.cancel()
        [impact] = [line.split() for line in lines if line.strip().startswith("tlsverify impact")]
        monkeypatch.chdir(tmp_path)
        assert main([*impact[1:], "--no-progress"]) == 0  # against the lab, still up
        assert "0 breaks" in capsys.readouterr().out
        assert shlex.join(impact).startswith("tlsverify impact --reset-to-default --verify --endpoints reports/")
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, err
    assert "Demo lab stopped." in out


# --- conventions: examples, exit codes, one name per idea, completion ------------------------------------------


def test_every_command_s_help_has_examples_that_parse_and_its_exit_codes() -> None:
    import argparse
    import shlex

    from scanner.cli import build_parser
    from scanner.cli.examples import EXAMPLES, commands

    parser = build_parser()
    leaves = [
        (path, sub)
        for path, sub in commands(parser)
        if not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
    ]
    assert {path for path, _ in leaves} <= set(EXAMPLES), "a command without examples"
    for path, sub in leaves:
        help_text = sub.format_help()
        assert "examples:\n  tlsverify " in help_text and "exit codes:\n  0 " in help_text, path
    for path, lines in EXAMPLES.items():
        for line in lines:
            words = shlex.split(line.split("  #")[0].split(" > ")[0])
            assert words[0] == "tlsverify" and " ".join(words[1:]).startswith(path), line
            try:
                parser.parse_args(words[1:])
            except SystemExit as exc:  # pragma: no cover - the failure message says which example
                raise AssertionError(f"the example does not parse: {line}") from exc


def visible_options() -> dict[str, set[str]]:
    """Every option string shown in some --help, with the metavars it is shown with."""
    import argparse

    from scanner.cli import build_parser
    from scanner.cli.examples import commands

    shown: dict[str, set[str]] = {}
    for _, sub in commands(build_parser()):
        for action in sub._actions:
            if action.help != argparse.SUPPRESS:
                for option in action.option_strings:
                    shown.setdefault(option, set()).add(str(action.metavar))
    return shown


def test_one_name_per_idea() -> None:
    shown = visible_options()
    for former in ("--out", "--to", "--releases", "--upgrade-to"):
        assert former not in shown
    assert all(len(metavars) == 1 for metavars in shown.values()), shown  # one option, one kind of value
    folders = {option for option, metavars in shown.items() if metavars == {"DIR"}}
    assert folders == {"--out-dir", "--release-dir"}
    assert shown["--release"] == {"RELEASE"} and shown["--output"] == {"FILE"}


def test_former_option_names_still_work() -> None:
    from scanner.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["verify-all", "--out", "r2"]).out == Path("r2")
    assert parser.parse_args(["verify-all", "--out-dir", "r3"]).out == Path("r3")
    assert parser.parse_args(["policy", "upgrade", "p.yaml", "--to", "12.0.0.0"]).to == "12.0.0.0"
    assert parser.parse_args(["policy", "releases", "--releases", "d"]).releases == Path("d")
    from scanner.cli.common import policy_file

    assert policy_file(parser.parse_args(["policy", "show", "--policy", "old.yaml"])) == Path("old.yaml")
    assert policy_file(parser.parse_args(["policy", "advise", "--policy", "old.yaml"])) == Path("old.yaml")
    assert policy_file(parser.parse_args(["policy", "show", "new.yaml"])) == Path("new.yaml")
    assert policy_file(parser.parse_args(["policy", "show"])) == Path("policy.yaml")
    assert parser.parse_args(["impact", "--upgrade-to", "12.0.0.0"]).upgrade_to == "12.0.0.0"


def test_policy_upgrade_and_impact_upgrade_name_the_release_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "upgrade", str(ROOT / "policy.yaml")]) == 2
    assert "the arguments --release is required" in capsys.readouterr().err
    assert main(["policy", "upgrade", str(ROOT / "policy.yaml"), "--release", "12.0.0.0"]) == 0
    assert "12.0.0.0" in capsys.readouterr().out
    assert main(["impact", "--upgrade", "--policy", str(ROOT / "policy.yaml")]) == 2
    assert "--upgrade: name the release" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_commands_options_and_files(tmp_path: Path) -> None:
    script = tmp_path / "tlsverify.bash"
    generated = subprocess.run([sys.executable, "-m", "scanner", "completion", "bash"], capture_output=True, text=True)
    assert generated.returncode == 0
    script.write_text(generated.stdout)
    (tmp_path / "policy-a.yaml").write_text("")

    def complete(*words: str) -> list[str]:
        line = " ".join(("tlsverify", *words))
        program = (
            f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; COMP_LINE='{line}'; "
            f"COMP_POINT={len(line)}; _shtab_tlsverify; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        )
        done = subprocess.run(["bash", "-c", program], cwd=tmp_path, capture_output=True, text=True, check=True)
        return done.stdout.split()

    assert "verify-all" in complete("ver")
    assert complete("policy", "ch") == ["check"]
    assert "--out-dir" in complete("verify-all", "--out")
    assert "policy-a.yaml" in complete("policy", "check", "pol")
    assert complete("schema", "verify") == ["verify-all"]
    assert "12.0.0.0" in complete("policy", "upgrade", "policy-a.yaml", "--release", "1")
    assert "--to" not in complete("policy", "upgrade", "policy-a.yaml", "--")  # former spellings: never offered
