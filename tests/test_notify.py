"""Notifications through Apprise: when a run warrants one, what it says, redaction, and delivery to real
receivers on loopback (an aiosmtpd SMTP server, an HTTP server taking Apprise's JSON), never mocks of Apprise."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import http.server
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from scanner import notify
from scanner.cli import main
from scanner.config import write_endpoints
from scanner.lab.servers import Lab, ServerSpec, closed_port
from scanner.models import (
    Certificate,
    CertificateIssue,
    CertificateProblem,
    Change,
    ChangeKind,
    Drift,
    EndpointFinding,
    EndpointStatus,
    Policy,
    ProbeResult,
    VerifyAllReport,
)
from tests.conftest import ROOT, endpoint

SECRET = "s3cret-7Qv9"
"""The password in every URL here: it must reach the receiver and nothing else."""

GCM = ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
SUITES = (*GCM, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_X")


# --- receivers -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class MailBox:
    """What a real SMTP server on loopback received: the messages, and the logins it accepted."""

    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = (data.login.decode(), data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == ("tlsverify", SECRET), auth_data=login)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MailBox, int]]:
    """aiosmtpd on 127.0.0.1, plain SMTP with AUTH allowed without TLS (loopback only)."""
    # smtplib names the client in EHLO with socket.getfqdn(): a resolver lookup of this machine's name
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "client.tlsverify.test")
    box = MailBox()
    port = free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        server_hostname="smtp.tlsverify.test",
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    doc: dict[str, Any]


class HttpReceiver:
    """A real HTTP server on loopback recording every POST (Apprise's json:// sends one per notification)."""

    def __init__(self) -> None:
        self.posts: list[Posted] = []
        posts = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                doc = json.loads(self.rfile.read(length))
                posts.append(Posted(self.path, dict(self.headers), doc))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="notify-http", daemon=True)
        self.thread.start()
        self.running = True

    def url(self, path: str = "/hook") -> str:
        return f"json://tlsverify:{SECRET}@127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.running:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.running = False


@pytest.fixture
def http_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # an HTTP_PROXY of the machine would take the POST elsewhere
    receiver = HttpReceiver()
    try:
        yield receiver
    finally:
        receiver.stop()


# --- reports built by hand -----------------------------------------------------------------------------


def found(id: str, status: EndpointStatus = EndpointStatus.OK, reason: str | None = None) -> EndpointFinding:
    probe = ProbeResult(id, status, reason, accepted_tls12=GCM if status is EndpointStatus.OK else ())
    return EndpointFinding(endpoint(id, 443), probe)


def refused(id: str) -> EndpointFinding:
    """An endpoint whose negotiation works but whose certificate the client refuses (expired)."""
    when = datetime(2025, 1, 1, tzinfo=UTC)
    issue = CertificateIssue(CertificateProblem.EXPIRED, "expired on 2025-01-01")
    certificate = Certificate("CN=a", "CN=ca", (), "RSA", 2048, "sha256", when, when, "00", 1, "system", (issue,))
    return EndpointFinding(endpoint(id, 443), ProbeResult(id, EndpointStatus.OK, certificate=certificate))


def run(
    policy: Policy,
    findings: list[EndpointFinding],
    drift: Drift | None = None,
    complete: bool = True,
    run_id: int = 7,
) -> VerifyAllReport:
    at = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    return VerifyAllReport(at, policy, tuple(findings), (), complete=complete, run_id=run_id, drift=drift)


def site(failing: dict[str, str] | None = None, size: int = 12) -> list[EndpointFinding]:
    """`size` endpoints e01, e02 ...; those in `failing` fail with that status, the others are ok."""
    down = failing or {}
    ids = [f"e{n:02}" for n in range(1, size + 1)]
    return [found(i, EndpointStatus(down[i]), "the server refused every suite") if i in down else found(i) for i in ids]


# --- redaction -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"json://tlsverify:{SECRET}@127.0.0.1:8080/hook?x=1", "json://[redacted]@127.0.0.1:8080/..."),
        (
            f"mailtos://ops:{SECRET}@smtp.example.com:587?to=ops@example.com",
            "mailtos://[redacted]@smtp.example.com:587/...",
        ),
        (f"mailto://smtp.example.com?from=a@example.com&pass={SECRET}", "mailto://smtp.example.com/..."),
        (f"slack://T1JJ3T3L2/A1BRTD4JD/{SECRET}/#general", "slack://[redacted]/..."),
        (f"slack://botname@T1JJ3T3L2/A1BRTD4JD/{SECRET}", "slack://[redacted]/..."),
        (f"https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/{SECRET}", "https://hooks.slack.com/..."),
        (f"msteams://TokenA/TokenB/{SECRET}/", "msteams://[redacted]/..."),
        (
            f"https://example.webhook.office.com/webhookb2/{SECRET}@x/IncomingWebhook/y",
            "https://example.webhook.office.com/...",
        ),
        (f"tgram://123456789:{SECRET}/12315544/", "tgram://[redacted]/..."),
        (f"json://[::1]:8080/?pass={SECRET}", "json://[::1]:8080/..."),
        (f"mailto://user:p@{SECRET}@smtp.example.com", "mailto://[redacted]@smtp.example.com"),
        (f"not a url {SECRET}", "[redacted]"),
        ("", "[redacted]"),
    ],
)
def test_redact_keeps_the_scheme_and_a_real_host_only(url: str, shown: str) -> None:
    assert notify.redact(url) == shown
    assert SECRET not in notify.redact(url)


def test_targets_and_config_files_show_no_secret() -> None:
    target = notify.check_url(f"json://tlsverify:{SECRET}@127.0.0.1:9/hook")
    config = notify.ConfigFile(Path("apprise.yaml"), f"urls:\n  - json://u:{SECRET}@127.0.0.1:9\n", 1)
    wanted = notify.Notifications((target,), (config,), always=True)
    for shown in (str(target), repr(target), repr(config), repr(wanted)):
        assert SECRET not in shown
    assert str(target) == "json://[redacted]@127.0.0.1:9/..."


# --- when to send --------------------------------------------------------------------------------------


def test_a_quiet_run_sends_nothing_unless_always(policy: Policy) -> None:
    quiet = run(policy, site({"e03": "unreachable"}), Drift(6))
    assert notify.new_failures(quiet) == ()
    assert not notify.should_send(quiet)
    assert notify.should_send(quiet, always=True)


def test_changes_send(policy: Policy) -> None:
    changed = run(policy, site(), Drift(6, (Change("e01", ChangeKind.NEGOTIATED, GCM[0], GCM[1]),)))
    assert notify.should_send(changed)


def test_a_first_run_sends_for_any_failing_endpoint(policy: Policy) -> None:
    for drift in (None, Drift(None)):
        first = run(policy, site({"e02": "timeout"}), drift)
        assert [f.endpoint.id for f in notify.new_failures(first)] == ["e02"]
        assert notify.should_send(first)
        assert not notify.should_send(run(policy, site(), drift))


def test_only_endpoints_that_began_failing_are_new(policy: Policy) -> None:
    drift = Drift(
        6,
        (
            Change("e01", ChangeKind.STATUS, "ok", "no_common_suite"),  # began failing
            Change("e02", ChangeKind.STATUS, "unreachable", "timeout"),  # failed before too
            Change("e03", ChangeKind.CONNECTS, True, False),  # the certificate is now refused
            Change("e13", ChangeKind.ADDED, None, "unreachable"),  # new to the file
        ),
    )
    failing = {"e01": "no_common_suite", "e02": "timeout", "e13": "unreachable", "e04": "dns_error"}
    findings = [refused("e03") if f.endpoint.id == "e03" else f for f in site(failing, 13)]
    report = run(policy, findings, drift)
    assert {f.endpoint.id for f in notify.new_failures(report)} == {"e01", "e03", "e13"}
    assert notify.subject(report) == "tlsverify: 4 changes, 5 failing endpoints (of 13, 3 new) - run 7"


def test_an_interrupted_run_never_sends(policy: Policy) -> None:
    cut = run(policy, site({"e01": "unreachable"}), Drift(None), complete=False)
    assert not notify.should_send(cut)
    assert not notify.should_send(cut, always=True)


# --- what it says --------------------------------------------------------------------------------------


def example(policy: Policy) -> VerifyAllReport:
    drift = Drift(
        6,
        (
            Change("e05", ChangeKind.SUITES_REMOVED, list(SUITES), None),
            Change("e09", ChangeKind.STATUS, "ok", "no_common_suite"),
        ),
    )
    return run(policy, site({"e09": "no_common_suite"}), drift)


def test_the_message_names_counts_changes_failures_and_reports(policy: Policy) -> None:
    reports = [Path("reports/verify-all.html"), Path("reports/verify-all.json"), Path("reports/tlsverify.sqlite")]
    message = notify.compose(example(policy), reports)
    assert message.subject == "tlsverify: 2 changes, 1 failing endpoint (of 12) - run 7"
    assert message.body == (
        "tlsverify Verify All, run 7 at 2025-06-01 02:00 UTC, compared with run 6: 12 endpoints.\n"
        "\n"
        "Changed since run 6 (2 changes):\n"
        "  e05 (e05.lab.tlsverify.test:443)\n"
        "    suites no longer accepted: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 and 2 more\n"
        "  e09 (e09.lab.tlsverify.test:443)\n"
        "    status: ok -> no_common_suite\n"
        "\n"
        "Failing (1 of 12):\n"
        "  e09 (e09.lab.tlsverify.test:443): no_common_suite, new - the server refused every suite\n"
        "\n"
        "Reports:\n"
        "  reports/verify-all.html\n"
        "  reports/verify-all.json\n"
        "  reports/tlsverify.sqlite"
    )


def test_the_subject_counts_new_failures_apart_and_a_first_run(policy: Policy) -> None:
    drift = Drift(6, (Change("e01", ChangeKind.STATUS, "ok", "timeout"),))
    some_new = run(policy, site({"e01": "timeout", "e02": "unreachable"}), drift)
    assert notify.subject(some_new) == "tlsverify: 1 change, 2 failing endpoints (of 12, 1 new) - run 7"
    first = run(policy, site({"e01": "timeout"}, 3), Drift(None), run_id=1)
    assert notify.subject(first) == "tlsverify: first run, 1 failing endpoint (of 3) - run 1"
    quiet = run(policy, site(size=1), Drift(6))
    assert notify.subject(quiet) == "tlsverify: 0 changes, 0 failing endpoints (of 1) - run 7"
    assert "Failing" not in notify.body(quiet) and "Changed" not in notify.body(quiet)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (Change("a", ChangeKind.ADDED, None, "ok"), "endpoint added: ok"),
        (Change("a", ChangeKind.REMOVED, "timeout", None), "endpoint removed: was timeout"),
        (Change("a", ChangeKind.CONNECTS, True, False), "client connects: yes -> no"),
        (Change("a", ChangeKind.SUITES_ADDED, None, list(SUITES[:2])), f"suites now accepted: {', '.join(GCM)}"),
        (Change("a", ChangeKind.SERVER_ORDER, False, True), "server's order: no -> yes"),
        (
            Change("a", ChangeKind.TLS_VERSIONS, ["TLSv1.2"], ["TLSv1.2", "TLSv1.3"]),
            "TLS versions: TLSv1.2 -> TLSv1.2, TLSv1.3",
        ),
        (
            Change(
                "a",
                ChangeKind.CERTIFICATE_REPLACED,
                {"subject": "CN=a", "not_after": "2025-07-01T00:00:00+00:00"},
                {"subject": "CN=a", "not_after": "2026-07-01T00:00:00+00:00"},
            ),
            "certificate replaced: CN=a until 2025-07-01 -> CN=a until 2026-07-01",
        ),
        (
            Change("a", ChangeKind.CERTIFICATE_EXPIRING, None, ["expires in 9 days"]),
            "certificate expiring: expires in 9 days",
        ),
    ],
)
def test_each_change_in_a_line(change: Change, said: str) -> None:
    assert notify.describe(change) == said


def test_a_refused_certificate_is_the_failure_named(policy: Policy) -> None:
    text = notify.body(run(policy, [refused("e01")], Drift(None)))
    assert "  e01 (e01.lab.tlsverify.test:443): certificate refused, new - expired on 2025-01-01" in text


# --- delivery to real receivers ------------------------------------------------------------------------


def test_mail_arrives_over_plain_smtp_on_loopback(policy: Policy, smtp: tuple[MailBox, int]) -> None:
    box, port = smtp
    url = f"mailto://tlsverify:{SECRET}@127.0.0.1:{port}?from=tlsverify@example.test&to=ops@example.test"
    message = notify.compose(example(policy), [Path("reports/verify-all.html")])
    delivery = notify.send(message, notify.Notifications((notify.check_url(url),)))
    assert delivery == notify.Delivery(sent=1)
    assert box.logins == [("tlsverify", SECRET)]  # mailto:// speaks plain SMTP (Apprise's mode "insecure")
    [mail] = box.messages
    assert mail["Subject"] == message.subject
    assert mail["To"] == "ops@example.test" and "tlsverify@example.test" in mail["From"]
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().replace("\r\n", "\n").strip() == message.body.strip()


def test_json_arrives_over_http_on_loopback(policy: Policy, http_receiver: HttpReceiver) -> None:
    message = notify.compose(example(policy))
    delivery = notify.send(message, notify.Notifications((notify.check_url(http_receiver.url()),)))
    assert delivery == notify.Delivery(sent=1)
    [post] = http_receiver.posts
    assert post.path == "/hook"
    assert post.doc["title"] == message.subject
    assert post.doc["message"] == message.body


def test_a_config_file_text_or_yaml_names_the_services(
    policy: Policy, http_receiver: HttpReceiver, tmp_path: Path
) -> None:
    text_file, yaml_file = tmp_path / "apprise.txt", tmp_path / "apprise.yaml"
    text_file.write_text(f"# where tlsverify reports\n{http_receiver.url('/text')}\n")
    yaml_file.write_text(f"urls:\n  - {http_receiver.url('/yaml')}\n  - {http_receiver.url('/yaml2')}\n")
    configs = (notify.read_config(text_file), notify.read_config(yaml_file))
    assert [c.services for c in configs] == [1, 2]
    delivery = notify.send(notify.compose(example(policy)), notify.Notifications(configs=configs))
    assert delivery.sent == 3 and not delivery.failed
    assert sorted(p.path for p in http_receiver.posts) == ["/text", "/yaml", "/yaml2"]


def test_a_receiver_that_is_down_is_a_failure_named_redacted(policy: Policy, http_receiver: HttpReceiver) -> None:
    up = notify.check_url(http_receiver.url())
    down = notify.check_url(f"json://tlsverify:{SECRET}@127.0.0.1:{closed_port()}/hook?pass={SECRET}")
    delivery = notify.send(notify.compose(example(policy)), notify.Notifications((up, down)))
    assert delivery.sent == 1
    [failure] = delivery.failed
    assert failure.startswith("json://[redacted]@127.0.0.1:") and SECRET not in failure
    assert len(http_receiver.posts) == 1


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read it"),
        ("", "no notification URL in it"),
        (f"json://127.0.0.1:9/x\nbogus://user:{SECRET}@example.com\n", "cannot use 1 of its entries"),
        (b"\xff\xfe not text", "not UTF-8 text"),
    ],
)
def test_an_unusable_config_file_is_refused_without_its_secrets(
    tmp_path: Path, content: str | bytes | None, words: str
) -> None:
    path = tmp_path / "apprise.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(notify.NotifyError) as caught:
        notify.read_config(path)
    assert words in str(caught.value) and SECRET not in str(caught.value)


def test_apprise_reaches_nothing_when_imported_or_loading_its_plugins() -> None:
    """At import and while every plugin loads (which the guard's fixtures cannot watch: the test process
    imported Apprise before them), no connection and no name lookup."""
    code = (
        "import socket, warnings\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "def refuse(*a, **k):\n"
        "    raise SystemExit(f'network: {a!r}')\n"
        "socket.socket.connect = refuse\n"
        "socket.socket.connect_ex = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "socket.gethostbyname = refuse\n"
        "socket.gethostbyaddr = refuse\n"
        "import apprise\n"
        "apprise.Apprise().details()\n"
        "assert apprise.Apprise.instantiate('json://127.0.0.1:9/x') is not None\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr + done.stdout


# --- the command line end to end ----------------------------------------------------------------------


def verify_all(endpoints: Path, out: Path, *extra: str) -> int:
    policy = str(ROOT / "policy.yaml")
    return main(
        ["verify-all", "--endpoints", str(endpoints), "--policy", policy, "--out", str(out), "--no-progress", *extra]
    )


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--notify", f"bogus://user:{SECRET}@example.com/x", "bogus://[redacted]@example.com/...: not a notification"),
        ("--notify", f"json://user:{SECRET}@", "json://[redacted]/...: not a notification URL"),
        ("--notify-config", "missing.yaml", "missing.yaml: cannot read it"),
    ],
)
def test_an_unusable_notification_option_is_a_usage_error_before_any_traffic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, words: str
) -> None:
    endpoints = tmp_path / "endpoints.yaml"
    entry = {"id": "a", "host": "a.lab.tlsverify.test", "ip": "127.0.0.1", "port": closed_port()}
    write_endpoints([entry], endpoints, "notify")
    argument = str(tmp_path / value) if option == "--notify-config" else value
    assert verify_all(endpoints, tmp_path / "out", option, argument) == 2
    err = capsys.readouterr().err
    assert words in err and SECRET not in err
    assert not (tmp_path / "out").exists()


def written(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_one_notification_for_the_run_that_changed(
    lab: Lab, tmp_path: Path, http_receiver: HttpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    server = lab.start(ServerSpec("notify", "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"))
    endpoints, out = tmp_path / "endpoints.yaml", tmp_path / "out"
    entry = {"id": "site", "host": "site.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}
    write_endpoints([entry], endpoints, "notify", lab.certificates.ca_bundle())
    notify_url = ("--notify", http_receiver.url())
    printed: list[str] = []

    def verify(*extra: str) -> int:
        code = verify_all(endpoints, out, *notify_url, *extra)
        seen = capsys.readouterr()
        printed.extend([seen.out, seen.err])
        return code

    assert verify() == 0  # the first run: nothing fails, so nothing to say
    assert http_receiver.posts == []
    assert "No notification: nothing changed and no endpoint newly fails" in printed[-2]

    server.spec = dataclasses.replace(server.spec, ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    server.start_context()
    assert verify() == 0
    [post] = http_receiver.posts
    assert post.doc["title"] == "tlsverify: 2 changes, 0 failing endpoints (of 1) - run 2"  # suites, negotiated
    assert f"  site (site.lab.tlsverify.test:{server.port})\n" in post.doc["message"]
    assert "    suites no longer accepted: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n" in post.doc["message"]
    assert str(out / "verify-all.html") in post.doc["message"]
    assert "Notification sent to 1 service" in printed[-2]

    assert verify() == 0  # nothing changed since
    assert len(http_receiver.posts) == 1
    config = tmp_path / "apprise.yaml"
    config.write_text(f"urls:\n  - {http_receiver.url('/from-config')}\n")
    assert verify("--notify-always", "--notify-config", str(config)) == 0
    assert sorted(p.path for p in http_receiver.posts[1:]) == ["/from-config", "/hook"]
    assert http_receiver.posts[1].doc["title"] == "tlsverify: 0 changes, 0 failing endpoints (of 1) - run 4"
    assert "Notification sent to 2 services" in printed[-2]

    http_receiver.stop()  # a notification that cannot be sent changes nothing but a line on stderr
    assert verify("--notify-always") == 0
    assert "tlsverify: notification to json://[redacted]@127.0.0.1:" in printed[-1]
    assert "Traceback" not in printed[-1]

    assert not [text for text in printed if SECRET in text]
    files = written(out)
    assert out / "tlsverify.sqlite" in files and out / "verify-all.json" in files
    assert not [path for path, content in files.items() if SECRET.encode() in content]


def test_a_notification_that_could_not_be_sent_comes_with_the_next_run(
    lab: Lab, tmp_path: Path, http_receiver: HttpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """Night 2 changed something but its notification could not be sent; night 3 is quiet: it sends night 2's
    changes, so no change is lost for want of a receiver (or for a stop while sending)."""
    from scanner.lab.servers import closed_port

    server = lab.start(ServerSpec("owed", "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"))
    endpoints, out = tmp_path / "endpoints.yaml", tmp_path / "out"
    entry = {"id": "site", "host": "site.lab.tlsverify.test", "ip": "127.0.0.1", "port": server.port}
    write_endpoints([entry], endpoints, "owed", lab.certificates.ca_bundle())
    assert verify_all(endpoints, out, "--notify", http_receiver.url()) == 0
    server.spec = dataclasses.replace(server.spec, ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    server.start_context()
    nobody = f"json://127.0.0.1:{closed_port()}/hook"
    assert verify_all(endpoints, out, "--notify", nobody) == 0
    assert "it will come with the next run's" in capsys.readouterr().err
    assert verify_all(endpoints, out, "--notify", http_receiver.url()) == 0  # quiet, but owes run 2's
    [post] = http_receiver.posts
    assert (
        post.doc["title"]
        == "tlsverify: 0 changes, 0 failing endpoints (of 1) - run 3 (and 1 earlier run not notified before)"
    )
    assert "Not notified before, from run 2 at " in post.doc["message"]
    assert "site: suites no longer accepted: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in post.doc["message"]
    assert verify_all(endpoints, out, "--notify", http_receiver.url()) == 0  # nothing owed any more
    assert len(http_receiver.posts) == 1
