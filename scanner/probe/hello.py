"""A client's TLS 1.2 ClientHello built from its profile, and the server's first answer read back; pure bytes.

Learning which suite a server picks needs only its ServerHello, so the probe can send the exact hello the
modelled client sends (its suites in order, its groups, signature algorithms and extensions, none of which
nassl's OpenSSL builds can all reproduce) and stop there.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace

from scanner.clients import ClientProfile, Extension

TLS12 = 0x0303
_HANDSHAKE, _ALERT = 0x16, 0x15
_CLIENT_HELLO, _SERVER_HELLO = 0x01, 0x02
_SUPPORTED_VERSIONS = 43
_MAX_RECORD = 16384 + 2048
_MAX_SERVER_HELLO = 65536  # a ServerHello with every extension there is stays far below this

ALERTS = {
    0: "close notify",
    10: "unexpected message",
    20: "bad record mac",
    22: "record overflow",
    40: "handshake failure",
    42: "bad certificate",
    43: "unsupported certificate",
    46: "certificate unknown",
    47: "illegal parameter",
    48: "unknown CA",
    50: "decode error",
    51: "decrypt error",
    70: "protocol version",
    71: "insufficient security",
    80: "internal error",
    86: "inappropriate fallback",
    90: "user canceled",
    109: "missing extension",
    110: "unsupported extension",
    112: "unrecognized name",
    116: "certificate required",
    120: "no application protocol",
}

VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}


def _u8(data: bytes) -> bytes:
    return len(data).to_bytes(1, "big") + data


def _u16(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _u24(data: bytes) -> bytes:
    return len(data).to_bytes(3, "big") + data


def _codes(values: Sequence[int]) -> bytes:
    return struct.pack(f">{len(values)}H", *values)


def sni_name(server_name: str) -> str | None:
    """The name for the server_name extension: IDNA-encoded (A-labels), or None for an address literal,
    which RFC 6066 does not allow there (Java sends none either)."""
    name = server_name.strip().rstrip(".")
    try:
        ipaddress.ip_address(name.strip("[]"))
        return None
    except ValueError:
        pass
    return name.encode("idna").decode("ascii") if name else None


def client_hello(profile: ClientProfile, suites: Sequence[int], server_name: str, random: bytes) -> bytes:
    """The TLS record carrying `profile`'s TLS 1.2-only ClientHello offering `suites`, in that order."""
    if len(random) != 32:
        raise ValueError("a ClientHello random is 32 bytes")
    groups = profile.groups_for(suites)
    host = sni_name(server_name)
    bodies: dict[Extension, bytes | None] = {
        Extension.SERVER_NAME: _u16(b"\x00" + _u16(host.encode("ascii"))) if host else None,
        Extension.STATUS_REQUEST: b"\x01\x00\x00\x00\x00",  # OCSP, no responder ids, no extensions
        Extension.SUPPORTED_GROUPS: _u16(_codes(groups)) if groups else None,
        Extension.EC_POINT_FORMATS: _u8(b"\x00") if any(not g.is_ffdhe for g in groups) else None,
        Extension.STATUS_REQUEST_V2: _u16(b"\x02" + _u16(b"\x00\x00\x00\x00")),  # ocsp_multi, empty
        Extension.EXTENDED_MASTER_SECRET: b"",
        Extension.SESSION_TICKET: b"",
        Extension.SIGNATURE_ALGORITHMS: _u16(_codes(profile.signature_schemes)),
        Extension.SUPPORTED_VERSIONS: _u8(_codes([TLS12])),
        Extension.SIGNATURE_ALGORITHMS_CERT: _u16(_codes(profile.signature_schemes)),
        Extension.RENEGOTIATION_INFO: _u8(b""),
    }
    extensions = b"".join(
        ext.to_bytes(2, "big") + _u16(body) for ext in profile.extensions if (body := bodies[ext]) is not None
    )
    hello = TLS12.to_bytes(2, "big") + random + _u8(b"") + _u16(_codes(suites)) + _u8(b"\x00") + _u16(extensions)
    handshake = bytes([_CLIENT_HELLO]) + _u24(hello)
    return bytes([_HANDSHAKE]) + TLS12.to_bytes(2, "big") + _u16(handshake)


@dataclass(frozen=True)
class ServerHello:
    """The server's choice: the version and suite (code point) of its ServerHello."""

    version: int
    code: int
    asks_certificate: bool = False
    """A CertificateRequest followed in the server's first flight (read only when asked for)."""
    certificates: tuple[bytes, ...] = ()
    """The DER certificates of the server's Certificate message, leaf first (read only when asked for)."""


@dataclass(frozen=True)
class Alert:
    level: int
    description: int

    def __str__(self) -> str:
        name = ALERTS.get(self.description, f"alert {self.description}")
        return f"TLS alert {self.description} ({name})"


@dataclass(frozen=True)
class NotTls:
    """The first bytes were not a TLS handshake or alert record; `detail` says what they looked like."""

    detail: str


Reply = ServerHello | Alert | NotTls


_MAX_RECORDS = 64  # a ServerHello in more records than this is a server wasting our time


class ReplyReader:
    """Reads the server's first answer as bytes arrive, each byte looked at once. With `whole_flight`, reads
    on after the ServerHello to its ServerHelloDone, to see whether the server asks for a client
    certificate; `hello` is the ServerHello read so far, if the flight ends early."""

    def __init__(self, whole_flight: bool = False) -> None:
        self._data = b""
        self._pos = 0
        self._handshake = b""
        self._records = 0
        self._whole_flight = whole_flight
        self.hello: ServerHello | None = None
        self._asks = False

    def feed(self, chunk: bytes) -> Reply | None:
        """The answer, once the bytes so far hold one; None while more are needed."""
        self._data += chunk
        while True:
            data, pos = self._data, self._pos
            if len(data) - pos < 5:
                if pos == 0 and data and not _may_be_tls(data):
                    return _not_tls(data)
                return None
            content = data[pos]
            version = int.from_bytes(data[pos + 1 : pos + 3], "big")
            length = int.from_bytes(data[pos + 3 : pos + 5], "big")
            if content not in (_HANDSHAKE, _ALERT) or version >> 8 != 0x03 or length > _MAX_RECORD:
                return _not_tls(data[pos:])
            if len(data) - pos - 5 < length:
                return None
            fragment = data[pos + 5 : pos + 5 + length]
            self._data, self._pos = data[pos + 5 + length :], 0  # what is read is dropped
            self._records += 1
            if content == _ALERT:
                if self.hello is not None:  # after the ServerHello: the choice was made; the rest is moot
                    return self.hello
                return Alert(fragment[0], fragment[1]) if len(fragment) >= 2 else NotTls("a truncated TLS alert")
            if self._records > _MAX_RECORDS:
                if self.hello is not None:
                    return self.hello
                return NotTls(f"a ServerHello spread over more than {_MAX_RECORDS} records")
            self._handshake += fragment
            reply = self._hello()
            if reply is not None:
                return reply

    def _hello(self) -> Reply | None:
        if self.hello is not None:
            return self._rest_of_flight()
        handshake = self._handshake
        if len(handshake) < 4:
            return None
        if handshake[0] != _SERVER_HELLO:
            return NotTls(f"a TLS handshake message of type {handshake[0]} where a ServerHello belongs")
        size = int.from_bytes(handshake[1:4], "big")
        if size > _MAX_SERVER_HELLO:
            return NotTls(f"a ServerHello of {size} bytes")
        if len(handshake) < 4 + size:
            return None
        reply = _server_hello(handshake[4 : 4 + size])
        if not self._whole_flight or not isinstance(reply, ServerHello):
            return reply
        self.hello, self._handshake = reply, handshake[4 + size :]
        return self._rest_of_flight()

    def _rest_of_flight(self) -> Reply | None:
        """Walk the messages after the ServerHello: the Certificate (11) kept, a CertificateRequest (13)
        noted, ServerHelloDone (14) ends."""
        assert self.hello is not None
        while len(self._handshake) >= 4:
            kind, size = self._handshake[0], int.from_bytes(self._handshake[1:4], "big")
            if len(self._handshake) < 4 + size:
                return None
            body, self._handshake = self._handshake[4 : 4 + size], self._handshake[4 + size :]
            if kind == 11:
                self.hello = replace(self.hello, certificates=_certificates(body))
            elif kind == 13:
                self.hello = replace(self.hello, asks_certificate=True)
            elif kind == 14:
                return self.hello
        return None


def _certificates(body: bytes) -> tuple[bytes, ...]:
    """The DER certificates of a TLS 1.2 Certificate message body (RFC 5246, 7.4.2); what does not parse is
    left out (the certificate check then says the chain is incomplete)."""
    found: list[bytes] = []
    total = int.from_bytes(body[0:3], "big")
    pos, end = 3, min(3 + total, len(body))
    while pos + 3 <= end:
        size = int.from_bytes(body[pos : pos + 3], "big")
        if pos + 3 + size > end:
            break
        found.append(bytes(body[pos + 3 : pos + 3 + size]))
        pos += 3 + size
    return tuple(found)


def read_reply(data: bytes) -> Reply | None:
    """The server's answer in these bytes, or None while more are needed."""
    return ReplyReader().feed(data)


def _server_hello(body: bytes) -> Reply:
    if len(body) < 35 or len(body) < 35 + body[34] + 3:
        return NotTls("a truncated ServerHello")
    session_id = body[34]
    pos = 35 + session_id
    compression = body[pos + 2]
    if session_id > 32 or compression != 0:  # a client aborts on either (RFC 5246 sections 7.4.1.2-3)
        return NotTls(f"a malformed ServerHello (session id of {session_id} bytes, compression {compression})")
    version = _supported_version(body[pos + 3 :]) or int.from_bytes(body[0:2], "big")
    return ServerHello(version, int.from_bytes(body[pos : pos + 2], "big"))


def _supported_version(extensions: bytes) -> int | None:
    """The version a TLS 1.3 ServerHello (or HelloRetryRequest) selects in its supported_versions extension
    (RFC 8446, 4.2.1); None without one (TLS 1.2 and before say their version in the legacy field)."""
    if len(extensions) < 2:
        return None
    end = min(2 + int.from_bytes(extensions[0:2], "big"), len(extensions))
    pos = 2
    while pos + 4 <= end:
        kind, size = (
            int.from_bytes(extensions[pos : pos + 2], "big"),
            int.from_bytes(extensions[pos + 2 : pos + 4], "big"),
        )
        if kind == _SUPPORTED_VERSIONS and size == 2 and pos + 6 <= end:
            return int.from_bytes(extensions[pos + 4 : pos + 6], "big")
        pos += 4 + size
    return None


def _may_be_tls(data: bytes) -> bool:
    return data[0] in (_HANDSHAKE, _ALERT) and (len(data) < 2 or data[1] == 0x03)


def _not_tls(data: bytes) -> NotTls:
    head = data[:24]
    if head[:1] and head[0] & 0x80 and len(head) > 2 and head[2] == 0x04:
        return NotTls("an SSL 2.0 ServerHello")
    if all(32 <= byte < 127 or byte in (9, 10, 13) for byte in head):
        return NotTls(f"plain text {head.decode('ascii').strip()!r}")
    return NotTls(f"bytes {head.hex(' ')}")
