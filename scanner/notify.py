"""Notifications of a Verify All run's drift and new failures through Apprise: when to send and what to say
(pure), and the sending, with every notification URL redacted wherever it is shown.

Notification URLs carry secrets (passwords, webhook tokens), so they live only in `Target` and `ConfigFile`
values, whose repr and str are redacted, and are handed to Apprise alone: never to a report, the database, a
log or an error message. Apprise's own log records (which can quote a URL whole) are kept off stderr and out
of the caller's logging.

An interrupted run sends nothing, not even with `always`: what it found is a part of the site, and the next
complete run is compared with the last complete one anyway.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.models import Change, ChangeKind, EndpointFinding, EndpointStatus, VerifyAllReport, host_port

APP_ID = "tlsverify"
SEND_SECONDS = 120.0
"""The longest all notifications of one run may take together; each service has its own shorter timeouts."""
LIST_ITEMS = 3
"""Suites shown of a changed list before "and N more"."""
REDACTED = "[redacted]"

if TYPE_CHECKING:  # imported where it is used: Apprise costs about 70 ms, and most commands never notify
    import apprise

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_HOSTNAME = re.compile(r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}")
_HOST_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>[0-9]{1,5}))?")


class NotifyError(Exception):
    """A notification URL or configuration file Apprise cannot use; the message shows URLs redacted."""


# --- redaction -----------------------------------------------------------------------------------------


def redact(url: str) -> str:
    """`url` safe to show: its scheme, and its host and port when the host is an address or a dotted name;
    user, password, path (webhook tokens), query (`?pass=`) and fragment become `[redacted]` or `/...`.
    A host that is a token (`slack://TokenA/...`, `tgram://123:ABC/...`) is redacted too."""
    scheme, separator, rest = url.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        return REDACTED
    authority, tail = _split_authority(rest)
    _, at, host_part = authority.rpartition("@")
    host = _shown_host(host_part)
    if host is None:
        return f"{scheme.lower()}://{REDACTED}" + ("/..." if tail or at else "")
    return f"{scheme.lower()}://" + (f"{REDACTED}@" if at else "") + host + ("/..." if tail else "")


def _split_authority(rest: str) -> tuple[str, str]:
    """The authority (`user:password@host:port`) and what follows it (path, query, fragment)."""
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return rest[:end], rest[end:]


def _shown_host(host_part: str) -> str | None:
    """`host[:port]` if the host is an IP address, `localhost` or a dotted DNS name; None if it may be a token."""
    match = _HOST_PORT.fullmatch(host_part)
    if match is None:
        return None
    host, port = match["host"], match["port"]
    if not _is_host(host.removeprefix("[").removesuffix("]")):
        return None
    return host + (f":{port}" if port else "")


def _is_host(host: str) -> bool:
    if host.lower() == "localhost" or _HOSTNAME.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --- what to notify ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One Apprise URL (mailto://, json://, slack://, ...); repr and str show it redacted."""

    url: str = field(repr=False)

    def __str__(self) -> str:
        return redact(self.url)

    def __repr__(self) -> str:
        return f"Target({redact(self.url)!r})"


@dataclass(frozen=True)
class ConfigFile:
    """An Apprise configuration file (text or YAML), read once; its text (URLs with secrets) is never shown."""

    path: Path
    text: str = field(repr=False)
    services: int = 0


@dataclass(frozen=True)
class Notifications:
    """Where a run's notification goes, and whether to send one on a quiet run too."""

    targets: tuple[Target, ...] = ()
    configs: tuple[ConfigFile, ...] = ()
    always: bool = False

    def __bool__(self) -> bool:
        return bool(self.targets or self.configs)


@contextlib.contextmanager
def _apprise_quietly() -> Iterator[None]:
    """Apprise at the border: it imports its plugins on first use, and one of them imports `imghdr`, which
    Python 3.11 deprecates (a DeprecationWarning that is no concern of ours)."""
    _keep_apprise_logs_in()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def _keep_apprise_logs_in() -> None:
    """Apprise logs a URL it cannot parse whole: keep its records off stderr and out of the caller's logs."""
    import apprise

    logger = logging.getLogger(apprise.LOGGER_NAME)
    logger.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _asset() -> apprise.AppriseAsset:
    import apprise

    return apprise.AppriseAsset(app_id=APP_ID, app_desc="tlsverify Verify All")


def check_url(url: str) -> Target:
    """`url` as a Target if Apprise can use it; NotifyError (with the URL redacted) if not. No traffic."""
    import apprise

    with _apprise_quietly():
        service = apprise.Apprise.instantiate(url, asset=_asset())
    if service is None:
        raise NotifyError(
            f"{redact(url)}: not a notification URL Apprise can use; check its scheme and fields "
            "(mailto://USER:PASSWORD@HOST?to=ADDRESS, json://HOST:PORT/PATH, slack://..., msteams://...)"
        )
    return Target(url)


class _Problems(logging.Handler):
    """Counts the errors Apprise logs (only how many: their text may quote a URL)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def read_config(path: Path) -> ConfigFile:
    """The Apprise configuration file at `path`, read and checked; NotifyError if it cannot be read, or if
    Apprise finds no URL in it or an entry it cannot use. No traffic (includes are not followed)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotifyError(f"{path}: not UTF-8 text; an Apprise configuration file is text or YAML") from None
    except OSError as exc:
        raise NotifyError(f"{path}: cannot read it: {exc.strerror or type(exc).__name__}") from None
    services, problems = _parse_config(text)
    if problems:
        raise NotifyError(
            f"{path}: Apprise cannot use {problems} of its entries (or cannot tell its format); each line of a "
            "text file is an Apprise URL, a YAML file lists them under `urls:`"
        )
    if not services:
        raise NotifyError(f"{path}: no notification URL in it; list Apprise URLs, one a line, or under `urls:`")
    return ConfigFile(path, text, services)


def _parse_config(text: str) -> tuple[int, int]:
    """How many services an Apprise configuration's text names, and how many errors Apprise logged reading it."""
    import apprise

    counter = _Problems()
    logger = logging.getLogger(apprise.LOGGER_NAME)
    with _apprise_quietly():
        logger.addHandler(counter)
        try:
            config = apprise.AppriseConfig(asset=_asset())
            config.add_config(text)
            services = len(config.services())
        finally:
            logger.removeHandler(counter)
    return services, counter.count


# --- when to send (pure) -------------------------------------------------------------------------------


def failing(report: VerifyAllReport) -> tuple[EndpointFinding, ...]:
    """The endpoints the client cannot connect to in this run."""
    return tuple(f for f in report.findings if not f.connects)


def new_failures(report: VerifyAllReport) -> tuple[EndpointFinding, ...]:
    """Failing endpoints that did not fail in the previous run: with no previous run, every failing one;
    with one, those the drift shows going from connecting to failing, or new to the file."""
    drift = report.drift
    if drift is None or drift.previous_run is None:
        return failing(report)
    turned = {c.endpoint_id for c in drift.changes if _began_failing(c)}
    return tuple(f for f in failing(report) if f.endpoint.id in turned)


def _began_failing(change: Change) -> bool:
    if change.kind is ChangeKind.ADDED:
        return True
    if change.kind is ChangeKind.STATUS:
        return change.before == "ok"
    return change.kind is ChangeKind.CONNECTS and change.before is True


def changes(report: VerifyAllReport) -> tuple[Change, ...]:
    """What changed since the previous complete run (nothing when there was none)."""
    return report.drift.changes if report.drift is not None else ()


def should_send(report: VerifyAllReport, always: bool = False) -> bool:
    """Send after a complete run with changes or new failing endpoints, or after any complete run if `always`."""
    if not report.complete:
        return False
    return always or bool(changes(report)) or bool(new_failures(report))


# --- what to say (pure) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A notification: a one-line subject and a plain-text body."""

    subject: str
    body: str


def compose(report: VerifyAllReport, reports: Sequence[Path] = (), owed: Sequence[VerifyAllReport] = ()) -> Message:
    """The notification for `report`: the counts in the subject; the changes, the failing endpoints and
    where the reports are (`reports`) in the body. `owed` are earlier runs whose own notification could not
    be sent: their changes come along, so none is lost."""
    text = body(report, reports)
    if owed:
        text = "\n\n".join([text, *(_owed_section(earlier) for earlier in owed)])
    more = f" (and {_count(len(owed), 'earlier run')} not notified before)" if owed else ""
    return Message(subject(report) + more, text)


def _owed_section(report: VerifyAllReport) -> str:
    """An earlier run whose notification could not be sent, as it would have been told."""
    run = f"run {report.run_id}" if report.run_id is not None else "an earlier run"
    lines = [f"Not notified before, from {run} at {report.generated_at:%Y-%m-%d %H:%M} UTC:"]
    lines += [f"  {c.endpoint_id}: {describe(c)}" for c in changes(report)]
    lines += [f"  {f.endpoint.id}: newly failing ({f.probe.status.value})" for f in new_failures(report)]
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def subject(report: VerifyAllReport) -> str:
    """One line: e.g. `tlsverify: 2 changes, 3 failing endpoints (of 12, 1 new) - run 7`."""
    parts = []
    drift = report.drift
    if drift is not None and drift.previous_run is not None:
        parts.append(_count(len(drift.changes), "change") + (" (the policy changed)" if drift.policy_changed else ""))
    elif drift is not None:
        parts.append("first run")
    down, new = failing(report), new_failures(report)
    extra = f", {len(new)} new" if new and len(new) != len(down) else ""
    parts.append(f"{_count(len(down), 'failing endpoint')} (of {len(report.findings)}{extra})")
    run = f" - run {report.run_id}" if report.run_id is not None else ""
    only = " (some endpoints only)" if report.partial else ""
    return f"tlsverify: {', '.join(parts)}{run}{only}"


def body(report: VerifyAllReport, reports: Sequence[Path] = ()) -> str:
    """Plain text: a headline, the changes by endpoint, the failing endpoints, then where the reports are."""
    sections = [_headline(report), *_changes_section(report), *_failing_section(report)]
    if reports:
        sections.append("\n".join(["Reports:", *(f"  {p}" for p in reports)]))
    return "\n\n".join(sections)


def _headline(report: VerifyAllReport) -> str:
    run = f"run {report.run_id}" if report.run_id is not None else "a run"
    when = report.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    drift = report.drift
    if drift is None:
        since = ""
    elif drift.previous_run is None:
        since = ", the first over its endpoints file"
    else:
        since = f", compared with run {drift.previous_run}"
    where = f" over {report.source}" if report.source else ""
    return f"tlsverify Verify All, {run} at {when}{where}{since}: {_count(len(report.findings), 'endpoint')}."


def _changes_section(report: VerifyAllReport) -> list[str]:
    found = changes(report)
    if not found:
        return []
    drift = report.drift
    title = f"Changed since run {drift.previous_run}" if drift is not None else "Changed"
    by_id = {f.endpoint.id: f for f in report.findings}
    lines = [f"{title} ({_count(len(found), 'change')}):"]
    for endpoint_id in dict.fromkeys(c.endpoint_id for c in found):
        lines.append(f"  {_endpoint_name(endpoint_id, by_id.get(endpoint_id))}")
        lines += [f"    {describe(c)}" for c in found if c.endpoint_id == endpoint_id]
    return ["\n".join(lines)]


def _failing_section(report: VerifyAllReport) -> list[str]:
    down = failing(report)
    if not down:
        return []
    new = {f.endpoint.id for f in new_failures(report)}
    lines = [f"Failing ({len(down)} of {len(report.findings)}):"]
    for finding in down:
        ok = finding.probe.status is EndpointStatus.OK
        status = "certificate refused" if ok else finding.probe.status.value
        mark = ", new" if finding.endpoint.id in new else ""
        reason = _reason(finding)
        name = _endpoint_name(finding.endpoint.id, finding)
        lines.append(f"  {name}: {status}{mark}" + (f" - {reason}" if reason else ""))
    return ["\n".join(lines)]


def _reason(finding: EndpointFinding) -> str:
    certificate = finding.probe.certificate
    refused = [p.detail for p in certificate.problems if p.refused] if certificate is not None else []
    parts = [finding.probe.reason or "", *refused]
    return "; ".join(p for p in parts if p)


def _endpoint_name(endpoint_id: str, finding: EndpointFinding | None) -> str:
    if finding is None:
        return endpoint_id
    return f"{endpoint_id} ({host_port(finding.endpoint.host, finding.endpoint.port)})"


_LABELS = {
    ChangeKind.ADDED: "endpoint added",
    ChangeKind.REMOVED: "endpoint removed",
    ChangeKind.STATUS: "status",
    ChangeKind.CONNECTS: "client connects",
    ChangeKind.SUITES_ADDED: "suites now accepted",
    ChangeKind.SUITES_REMOVED: "suites no longer accepted",
    ChangeKind.SERVER_ORDER: "server's order",
    ChangeKind.NEGOTIATED: "negotiated",
    ChangeKind.TLS_VERSIONS: "TLS versions",
    ChangeKind.CERTIFICATE_REPLACED: "certificate replaced",
    ChangeKind.CERTIFICATE_EXPIRING: "certificate expiring",
}


def describe(change: Change) -> str:
    """One change, compactly: `status: ok -> no_common_suite`, `suites no longer accepted: A, B and 2 more`."""
    label = _LABELS.get(change.kind, change.kind.value.replace("_", " "))
    if change.before is None:
        return f"{label}: {value(change.after)}"
    if change.after is None:
        was = "was " if change.kind is ChangeKind.REMOVED else ""
        return f"{label}: {was}{value(change.before)}"
    return f"{label}: {value(change.before)} -> {value(change.after)}"


def value(item: object) -> str:
    """A change's before or after (a plain JSON value) in a few words; long lists shortened."""
    if item is None:
        return "none"
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, list | tuple):
        shown = [value(i) for i in item[:LIST_ITEMS]]
        more = len(item) - len(shown)
        if not shown:
            return "none"
        return ", ".join(shown) + (f" and {more} more" if more else "")
    if isinstance(item, dict):
        if "subject" in item and "not_after" in item:  # a certificate
            return f"{item['subject']} until {str(item['not_after'])[:10]}"
        return ", ".join(f"{k} {value(v)}" for k, v in item.items())
    return str(item)


# --- sending -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What sending came to: how many services took the notification, and the ones that did not (redacted)."""

    sent: int
    failed: tuple[str, ...] = ()


def send(message: Message, notifications: Notifications) -> Delivery:
    """Send `message` to every target and every service of the configuration files. Never raises: a service
    that is down, refuses or times out is a failure in the result, named by its redacted URL."""
    import apprise

    try:
        with _apprise_quietly():
            notifier, unusable = _notifier(notifications)
            with notifier.notify(
                body=message.body,
                title=message.subject,
                body_format=apprise.NotifyFormat.TEXT,
                timeout=SEND_SECONDS,
            ) as result:
                failed = tuple(_failure(r) for r in result.results if not r)
                if not result.results and not result and not unusable:
                    failed = ("every service: Apprise could not send the message",)
                return Delivery(result.success_count, unusable + failed)
    except Exception as exc:  # the border: Apprise's failures become a value; its text may quote a URL
        return Delivery(0, (f"every service: Apprise failed ({type(exc).__name__})",))


def _notifier(notifications: Notifications) -> tuple[apprise.Apprise, tuple[str, ...]]:
    """Apprise with every service to notify, and the targets it could not load (checked before, so none)."""
    import apprise

    notifier = apprise.Apprise(asset=_asset())
    unusable: list[str] = []
    for target in notifications.targets:
        service = apprise.Apprise.instantiate(target.url, asset=_asset())
        if service is None:
            unusable.append(f"{target} (Apprise cannot use it)")
        else:
            notifier.add(service)
    for config_file in notifications.configs:
        config = apprise.AppriseConfig(asset=_asset())
        config.add_config(config_file.text)
        notifier.add(config)
    return notifier, tuple(unusable)


def _failure(result: apprise.NotifyResult) -> str:
    import apprise

    timed_out = result.status is apprise.AppriseResultStatus.TIMEOUT
    return f"{redact(result.url)} ({result.name}{', timed out' if timed_out else ''})"
