"""The way to a server's TLS layer: a TCP connection, direct or through an HTTP CONNECT proxy, then the
protocol's plain-text STARTTLS exchange, carried out by sslyze's own helpers and judged here from what the
server said.

Every failure is classified once, here, into an outcome saying which side failed: the proxy (unreachable,
refused the CONNECT with its status line, asked for credentials), the target behind it, or the server's
STARTTLS exchange (not offered, refused with its reply code or LDAP result code, a TLS server where a
plain-text one belongs). Proxy credentials are read from the environment when the CONNECT is sent and never
leave this module: no message carries them, and anything a proxy echoes is scrubbed of them.
"""

from __future__ import annotations

import base64
import io
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sslyze.connection_helpers.opportunistic_tls_helpers import (
    OpportunisticTlsError,
    ProtocolWithOpportunisticTlsEnum,
    get_opportunistic_tls_helper,
)

from scanner.models import EndpointStatus, Protocol, Proxy, host_port
from scanner.probe.contract import Target
from scanner.probe.outcome import Unreachable

_MAX_PREAMBLE = 1 << 16
"""Bytes of a proxy's answer headers or a STARTTLS exchange read before calling the server hostile."""


class ChannelFailed(Exception):
    """No TLS conversation could begin; `outcome` says why, in the probe's terms."""

    def __init__(self, outcome: Unreachable) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def open_channel(target: Target, deadline: float) -> socket.socket:
    """A connected socket on which the next bytes are the client's ClientHello, reached the way the client
    reaches the server; raises ChannelFailed. Nothing takes longer than `deadline` (time.monotonic())."""
    sock = _dial(target, deadline) if target.proxy is None else _tunnel(target, target.proxy, deadline)
    try:
        if target.protocol.starttls:
            _starttls(sock, target, deadline)
        sock.settimeout(_left(target, deadline))
    except BaseException:
        sock.close()
        raise
    return sock


def _left(target: Target, deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ChannelFailed(Unreachable(EndpointStatus.TIMEOUT, "connection cut at its time limit"))
    return min(target.timeout_s, left)


def _dial(target: Target, deadline: float) -> socket.socket:
    timeout = _left(target, deadline)
    try:
        return socket.create_connection((target.ip, target.port), timeout=timeout)
    except ConnectionRefusedError:
        raise ChannelFailed(
            Unreachable(EndpointStatus.UNREACHABLE, f"connection to {target.address} refused")
        ) from None
    except TimeoutError:
        reason = f"TCP connection to {target.address} timed out after {timeout:.3g} s"
        raise ChannelFailed(Unreachable(EndpointStatus.TIMEOUT, reason)) from None
    except OSError as exc:
        reason = f"connection to {target.address} failed: {exc.strerror or exc}"
        raise ChannelFailed(Unreachable(EndpointStatus.UNREACHABLE, reason)) from None


# --- the proxy ---------------------------------------------------------------------------------------------


def _tunnel(target: Target, proxy: Proxy, deadline: float) -> socket.socket:
    """A tunnel to the target through `proxy` (HTTP CONNECT), the proxy's answer read to its last header
    byte and not one byte further (a server that speaks first, as SMTP does, may follow it at once)."""
    timeout = _left(target, deadline)
    try:
        sock = socket.create_connection((proxy.host, proxy.port), timeout=timeout)
    except socket.gaierror as exc:
        reason = f"cannot resolve the proxy's host {proxy.host}: {exc.strerror}"
        raise ChannelFailed(Unreachable(EndpointStatus.DNS_ERROR, reason)) from None
    except ConnectionRefusedError:
        reason = f"proxy {proxy} unreachable: connection refused"
        raise ChannelFailed(Unreachable(EndpointStatus.UNREACHABLE, reason)) from None
    except TimeoutError:
        reason = f"proxy {proxy} unreachable: TCP connection timed out after {timeout:.3g} s"
        raise ChannelFailed(Unreachable(EndpointStatus.TIMEOUT, reason)) from None
    except OSError as exc:
        reason = f"proxy {proxy} unreachable: {exc.strerror or exc}"
        raise ChannelFailed(Unreachable(EndpointStatus.UNREACHABLE, reason)) from None
    try:
        _connect_through(sock, target, proxy, deadline)
    except BaseException:
        sock.close()
        raise
    return sock


def _credentials(proxy: Proxy) -> tuple[str, str] | None:
    """The proxy's user name and password from the environment variables the endpoint names, or None."""
    if not proxy.username_env and not proxy.password_env:
        return None
    values = []
    for name in (proxy.username_env, proxy.password_env):
        value = os.environ.get(name or "")
        if not name or value is None:
            reason = f"the proxy's credentials are not set: environment variable {name or '(unnamed)'} is unset"
            raise ChannelFailed(Unreachable(EndpointStatus.UNREACHABLE, reason))
        values.append(value)
    return values[0], values[1]


def _connect_through(sock: socket.socket, target: Target, proxy: Proxy, deadline: float) -> None:
    authority = host_port(target.ip, target.port)
    if not all(0x21 <= ord(ch) <= 0x7E for ch in authority):  # config refuses these; never a header injection
        raise ChannelFailed(Unreachable(EndpointStatus.DNS_ERROR, f"{authority!r} cannot be sent in a CONNECT request"))
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    credentials = _credentials(proxy)
    secrets: list[str] = []
    if credentials is not None:
        pair = f"{credentials[0]}:{credentials[1]}".encode("utf-8", "surrogateescape")  # the environment's bytes
        token = base64.b64encode(pair).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
        secrets = [token, credentials[1]]
    try:
        sock.settimeout(_left(target, deadline))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = _read_head(sock, target, deadline)
    except TimeoutError:
        reason = f"proxy {proxy} accepted the connection but did not answer the CONNECT in time"
        raise ChannelFailed(Unreachable(EndpointStatus.TIMEOUT, reason)) from None
    except OSError as exc:
        reason = f"proxy {proxy} broke the connection before answering the CONNECT: {exc.strerror or exc}"
        raise ChannelFailed(Unreachable(EndpointStatus.UNREACHABLE, reason)) from None
    if head is None:
        reason = f"proxy {proxy} closed the connection without answering the CONNECT"
        raise ChannelFailed(Unreachable(EndpointStatus.UNREACHABLE, reason))
    status_line = _scrub(head.split(b"\r\n", 1)[0], secrets)
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not _code(parts[1]):
        reason = f"proxy {proxy} did not answer the CONNECT in HTTP: {status_line!r}"
        raise ChannelFailed(Unreachable(EndpointStatus.UNREACHABLE, reason))
    code = int(parts[1])
    if 200 <= code < 300:
        return
    if code in (401, 407) and credentials is not None:  # tinyproxy answers wrong credentials with 401
        reason = (
            f"proxy authentication failed: proxy {proxy} answered {status_line!r} to the credentials in "
            f"${proxy.username_env} and ${proxy.password_env}"
        )
    elif code == 407:
        reason = (
            f"proxy {proxy} requires authentication ({status_line!r}): name the environment variables that "
            "hold its credentials in the proxy's username_env and password_env"
        )
    elif code >= 500:
        status = EndpointStatus.TIMEOUT if code == 504 else EndpointStatus.UNREACHABLE
        reason = f"target {authority} unreachable behind proxy {proxy}: the proxy answered {status_line!r}"
        raise ChannelFailed(Unreachable(status, reason))
    else:
        reason = f"proxy {proxy} refused the CONNECT to {authority}: {status_line!r}"
    raise ChannelFailed(Unreachable(EndpointStatus.UNREACHABLE, reason))


def _read_head(sock: socket.socket, target: Target, deadline: float) -> bytes | None:
    """The answer's status line and headers, up to the blank line; None if the proxy closed first."""
    head = b""
    while True:
        sock.settimeout(_left(target, deadline))
        peeked = sock.recv(4096, socket.MSG_PEEK)
        if not peeked:
            return None
        end = (head + peeked).find(b"\r\n\r\n")
        if end >= 0:
            return head + _receive_exactly(sock, end + 4 - len(head), target, deadline)
        head += sock.recv(len(peeked))
        if len(head) > _MAX_PREAMBLE:
            return head + b"\r\n"  # the caller reads the status line, scrubbed before it is cut


def _receive_exactly(sock: socket.socket, size: int, target: Target, deadline: float) -> bytes:
    data = b""
    while len(data) < size:
        sock.settimeout(_left(target, deadline))
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


_BASIC = re.compile(r"(?i)basic\s+\S+")


def _scrub(raw: bytes, secrets: list[str]) -> str:
    """Text a server sent, printable and short, with any credential it echoed blanked out: the secrets are
    removed from the whole text first (before anything is cut or replaced, so no part of one survives), and
    anything that follows "Basic" too."""
    text = raw.decode("utf-8", "replace")
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _BASIC.sub("Basic [redacted]", text)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= 160 else text[:157] + "..."


# --- STARTTLS ---------------------------------------------------------------------------------------------


SSLYZE_STARTTLS = {
    Protocol.LDAP_STARTTLS: ProtocolWithOpportunisticTlsEnum.LDAP,
    Protocol.SMTP_STARTTLS: ProtocolWithOpportunisticTlsEnum.SMTP,
}
"""Our STARTTLS protocols as sslyze names them."""


_NAMES = {Protocol.SMTP_STARTTLS: "SMTP STARTTLS", Protocol.LDAP_STARTTLS: "LDAP StartTLS"}


class _Tap:
    """The socket as sslyze's STARTTLS helpers see it: each byte received is kept for judging the exchange,
    and each read is bounded by the connection's deadline (a server that dribbles cannot hold it)."""

    def __init__(self, sock: socket.socket, target: Target, deadline: float) -> None:
        self.received = bytearray()
        self.closed = False
        self.timed_out = False
        self.oversized = False
        self._sock = sock
        self._target = target
        self._deadline = deadline

    def recv(self, size: int, flags: int = 0) -> bytes:
        if len(self.received) > _MAX_PREAMBLE:
            self.oversized = True  # a flood, not a protocol exchange: stop reading (smtplib sees an OSError)
            raise OSError(f"over {_MAX_PREAMBLE} bytes before TLS")
        left = self._deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError("connection time limit reached")
            self._sock.settimeout(min(self._target.timeout_s, left))
            data = self._sock.recv(size, flags)
        except TimeoutError:
            self.timed_out = True  # smtplib reports it as a disconnection: the tap remembers what it was
            raise
        self.received += data
        self.closed = self.closed or not data
        return data

    def send(self, data: bytes, flags: int = 0) -> int:
        return self._sock.send(data, flags)

    def sendall(self, data: bytes, flags: int = 0) -> None:
        self._sock.sendall(data, flags)

    def close(self) -> None:
        """smtplib closes its socket on an error: the channel closes the real one itself."""

    def makefile(self, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_TapReader(self.recv))


class _TapReader(io.RawIOBase):
    """A file over the tap, for smtplib (which reads replies line by line from a file)."""

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._recv(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _starttls(sock: socket.socket, target: Target, deadline: float) -> None:
    tap = _Tap(sock, target, deadline)
    ehlo = socket.gethostname() if target.protocol is Protocol.SMTP_STARTTLS else None
    helper = get_opportunistic_tls_helper(SSLYZE_STARTTLS[target.protocol], None, ehlo)
    error: Exception | None = None
    try:
        helper.prepare_socket_for_tls_handshake(cast(socket.socket, tap))
    except (OpportunisticTlsError, OSError, ValueError) as exc:  # ValueError: a reply that is not UTF-8
        error = exc
    if error is None:
        return
    if tap.oversized:
        reason = f"the server sent over {_MAX_PREAMBLE} bytes without completing the {_NAMES[target.protocol]} exchange"
        raise ChannelFailed(Unreachable(EndpointStatus.TLS_ERROR, reason))
    if target.protocol is Protocol.SMTP_STARTTLS:
        raise ChannelFailed(_smtp_failure(bytes(tap.received), tap.timed_out, target))
    failure = _ldap_failure(tap, tap.timed_out, target)
    if failure is not None:
        raise ChannelFailed(failure)


def _code(text: str) -> bool:
    """Three ASCII digits (str.isdigit would take '²²²', which int() refuses)."""
    return len(text) == 3 and text.isascii() and text.isdigit()


def _tls_record(data: bytes) -> bool:
    """The bytes open a TLS record (an alert or a handshake): a TLS server, not a plain-text one."""
    return len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03


def _tls_instead(target: Target, protocol: str) -> Unreachable:
    implicit = "smtps" if target.protocol is Protocol.SMTP_STARTTLS else "ldaps"
    reason = (
        f"a TLS server on a STARTTLS port: it answered the {protocol} exchange in TLS "
        f"(implicit TLS: use protocol {implicit})"
    )
    return Unreachable(EndpointStatus.TLS_ERROR, reason)


@dataclass(frozen=True)
class _SmtpReply:
    code: int
    lines: tuple[str, ...]

    def __str__(self) -> str:
        return _scrub(f"{self.code} {' / '.join(self.lines)}".encode(), [])


def _smtp_replies(data: bytes) -> tuple[list[_SmtpReply], bool]:
    """The complete SMTP replies in `data`, in order, and whether everything read was SMTP."""
    replies: list[_SmtpReply] = []
    lines: list[str] = []
    for raw in data.split(b"\n")[:-1]:  # the last piece is an unfinished line (or empty)
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not _code(line[:3]) or (len(line) > 3 and line[3] not in " -"):
            return replies, False
        lines.append(line[4:])
        if len(line) == 3 or line[3] == " ":
            replies.append(_SmtpReply(int(line[:3]), tuple(lines)))
            lines = []
    return replies, True


def _smtp_failure(data: bytes, timed_out: bool, target: Target) -> Unreachable:
    """Why the SMTP STARTTLS exchange failed, read from what the server said."""
    wait = f"within {target.timeout_s:.3g} s" if timed_out else "before the server closed the connection"
    if _tls_record(data):
        return _tls_instead(target, "SMTP")
    replies, smtp = _smtp_replies(data)
    if not smtp:
        shown = _scrub(data[:80], [])
        return Unreachable(EndpointStatus.TLS_ERROR, f"not an SMTP server: it said {shown!r}")
    unfinished = data[data.rfind(b"\n") + 1 :]
    if len(unfinished) > _SMTP_LINE:
        return Unreachable(EndpointStatus.TLS_ERROR, f"the server sent an SMTP line over {_SMTP_LINE} bytes long")
    if timed_out and unfinished:
        shown = _scrub(unfinished[:60], [])
        reason = f"the server stopped in the middle of an SMTP reply (or answers too slowly): {shown!r}"
        return Unreachable(EndpointStatus.TIMEOUT, reason)
    if not replies:
        if not data and timed_out:
            return Unreachable(
                EndpointStatus.TIMEOUT, f"no SMTP greeting within {target.timeout_s:.3g} s", tls_suspected=True
            )
        return Unreachable(EndpointStatus.TLS_ERROR, f"no SMTP greeting {wait}", tls_suspected=not data)
    greeting = replies[0]
    if greeting.code != 220:
        return Unreachable(EndpointStatus.TLS_ERROR, f"the server refused the SMTP session: it greeted {greeting}")
    if len(replies) < 2:
        return _unanswered("EHLO", timed_out, target)
    ehlo = replies[1]
    if ehlo.code != 250:
        return Unreachable(EndpointStatus.TLS_ERROR, f"the server refused EHLO: {ehlo}")
    keywords = [line.split(" ", 1)[0].upper() for line in ehlo.lines[1:]]
    if "STARTTLS" not in keywords:
        offered = ", ".join(keywords) or "nothing"
        return Unreachable(EndpointStatus.TLS_ERROR, f"the server does not offer STARTTLS (its EHLO lists {offered})")
    if len(replies) < 3:
        return _unanswered("STARTTLS", timed_out, target)
    return Unreachable(EndpointStatus.TLS_ERROR, f"the server refused STARTTLS: {replies[2]}")


_SMTP_LINE = 8192
"""smtplib's longest line: a longer one ends the exchange."""


def _unanswered(command: str, timed_out: bool, target: Target) -> Unreachable:
    if timed_out:
        return Unreachable(EndpointStatus.TIMEOUT, f"no answer to {command} within {target.timeout_s:.3g} s")
    return Unreachable(EndpointStatus.TLS_ERROR, f"the server closed the connection on {command}")


# LDAP result codes (RFC 4511, section 4.1.9) a StartTLS request may meet.
_LDAP_RESULTS = {
    1: "operationsError",
    2: "protocolError",
    3: "timeLimitExceeded",
    7: "authMethodNotSupported",
    12: "unavailableCriticalExtension",
    13: "confidentialityRequired",
    50: "insufficientAccessRights",
    51: "busy",
    52: "unavailable",
    53: "unwillingToPerform",
    80: "other",
}


def _ldap_failure(tap: _Tap, timed_out: bool, target: Target) -> Unreachable | None:
    """Why the LDAP StartTLS exchange failed, or None where sslyze's byte pattern missed a success (a
    response encoded otherwise, as Active Directory's long-form lengths, or split over two reads)."""
    while True:
        data = bytes(tap.received)
        if _tls_record(data):
            return _tls_instead(target, "LDAP StartTLS")
        try:
            response = _extended_response(data)
        except ValueError:
            shown = _scrub(data[:40], []) if data[:1].isascii() and data[:1].isalpha() else data[:24].hex(" ")
            return Unreachable(EndpointStatus.TLS_ERROR, f"not an LDAP server: it answered StartTLS with {shown}")
        if response is not None:
            break
        if tap.closed or timed_out or len(data) > _MAX_PREAMBLE:
            if data and timed_out:
                reason = "the server stopped in the middle of its answer to StartTLS (or answers too slowly)"
                return Unreachable(EndpointStatus.TIMEOUT, reason)
            if data:
                return Unreachable(EndpointStatus.TLS_ERROR, "the server's answer to StartTLS was cut off")
            if timed_out:
                reason = f"no answer to the LDAP StartTLS request within {target.timeout_s:.3g} s"
                return Unreachable(EndpointStatus.TIMEOUT, reason, tls_suspected=True)
            reason = "the server closed the connection on the LDAP StartTLS request"
            return Unreachable(EndpointStatus.TLS_ERROR, reason, tls_suspected=True)
        try:
            tap.recv(4096)
        except OSError:
            timed_out = tap.timed_out
            tap.closed = not timed_out
    code, message = response
    if code == 0:
        return None
    name = _LDAP_RESULTS.get(code, "unknown")
    said = f": {_scrub(message.encode(), [])}" if message else ""
    return Unreachable(EndpointStatus.TLS_ERROR, f"the server refused StartTLS: LDAP result {code} ({name}){said}")


def _extended_response(data: bytes) -> tuple[int, str] | None:
    """(resultCode, diagnosticMessage) of the LDAPMessage carrying an ExtendedResponse at the start of
    `data`; None while incomplete; ValueError when it is not one."""
    outer = _element(data, 0)
    if outer is None:
        return None
    tag, start, _ = outer
    if tag != 0x30:
        raise ValueError("not an LDAPMessage")
    message_id = _element(data, start)
    if message_id is None or message_id[0] != 0x02:
        raise ValueError("no messageID")
    operation = _element(data, message_id[2])
    if operation is None or operation[0] != 0x78:  # [APPLICATION 24] ExtendedResponse
        raise ValueError("not an ExtendedResponse")
    result = _element(data, operation[1])
    if result is None or result[0] != 0x0A or not 1 <= result[2] - result[1] <= 4:
        raise ValueError("no resultCode")
    code = int.from_bytes(data[result[1] : result[2]], "big")
    matched = _element(data, result[2])
    diagnostic = _element(data, matched[2]) if matched is not None else None
    message = data[diagnostic[1] : diagnostic[2]].decode("utf-8", "replace") if diagnostic else ""
    return code, message


def _element(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the BER element at `pos`; None if the bytes end first."""
    if len(data) < pos + 2:
        return None
    tag, first = data[pos], data[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    else:
        size = first & 0x7F
        if size == 0 or size > 4:
            raise ValueError("a length this parser does not take")
        if len(data) < pos + 2 + size:
            return None
        start, length = pos + 2 + size, int.from_bytes(data[pos + 2 : pos + 2 + size], "big")
    if length > _MAX_PREAMBLE:
        raise ValueError("an element too long for a StartTLS answer")
    if len(data) < start + length:
        return None
    return tag, start, start + length
