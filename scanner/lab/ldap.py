"""LDAP StartTLS on the wire for the lab: the extended request a client sends, and a hostile server refusing it.

Only the few BER elements StartTLS needs are encoded here (RFC 4511 4.14): the ExtendedRequest naming
1.3.6.1.4.1.1466.20037 and the ExtendedResponse carrying a resultCode and a diagnostic message. `starttls`
is the client side (slapd's StartTLS readiness check uses it); `StartTlsRefusingServer` answers every StartTLS
request with an error, as a directory whose TLS is broken or switched off does.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from scanner.lab.servers import LoopbackServer

STARTTLS_OID = "1.3.6.1.4.1.1466.20037"

# BER tags of the LDAPMessage elements used here
_SEQUENCE = 0x30
_INTEGER = 0x02
_ENUMERATED = 0x0A
_OCTET_STRING = 0x04
_BIND_REQUEST = 0x60  # [APPLICATION 0] constructed
_BIND_RESPONSE = 0x61
_UNBIND_REQUEST = 0x42  # [APPLICATION 2] primitive
_EXTENDED_REQUEST = 0x77  # [APPLICATION 23] constructed
_EXTENDED_RESPONSE = 0x78  # [APPLICATION 24] constructed
_REQUEST_NAME = 0x80  # [0] in an ExtendedRequest
_RESPONSE_NAME = 0x8A  # [10] in an ExtendedResponse

SUCCESS = 0
PROTOCOL_ERROR = 2
UNAVAILABLE = 52


@dataclass(frozen=True)
class ExtendedResponse:
    """An LDAP ExtendedResponse as read off the wire."""

    message_id: int
    result_code: int
    diagnostic: str
    name: str | None


@dataclass(frozen=True)
class LdapRequest:
    """One LDAPMessage a client sent: its message ID, the BER tag of its operation and, for an
    ExtendedRequest, the OID it names."""

    message_id: int
    operation: int
    oid: str | None = None


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _integer(tag: int, value: int) -> bytes:
    return _tlv(tag, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def _elements(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) pairs of a run of BER elements; ValueError when one is cut short."""
    found: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise ValueError("truncated BER element")
        tag, first = data[offset], data[offset + 1]
        offset += 2
        if first & 0x80:
            count = first & 0x7F
            length = int.from_bytes(data[offset : offset + count], "big")
            offset += count
        else:
            length = first
        if offset + length > len(data):
            raise ValueError("truncated BER element")
        found.append((tag, data[offset : offset + length]))
        offset += length
    return found


def starttls_request(message_id: int = 1) -> bytes:
    """The LDAPMessage asking for StartTLS."""
    operation = _tlv(_EXTENDED_REQUEST, _tlv(_REQUEST_NAME, STARTTLS_OID.encode()))
    return _tlv(_SEQUENCE, _integer(_INTEGER, message_id) + operation)


def extended_response(message_id: int, result_code: int, diagnostic: str = "", name: str | None = None) -> bytes:
    """An LDAPMessage carrying an ExtendedResponse (empty matchedDN)."""
    content = _integer(_ENUMERATED, result_code) + _tlv(_OCTET_STRING, b"") + _tlv(_OCTET_STRING, diagnostic.encode())
    if name is not None:
        content += _tlv(_RESPONSE_NAME, name.encode())
    return _tlv(_SEQUENCE, _integer(_INTEGER, message_id) + _tlv(_EXTENDED_RESPONSE, content))


def read_message(sock: socket.socket) -> bytes | None:
    """One whole BER element (an LDAPMessage) from `sock`, or None when the peer closed first."""
    head = _read_exactly(sock, 2)
    if head is None:
        return None
    extra = b""
    if head[1] & 0x80:
        extra = _read_exactly(sock, head[1] & 0x7F) or b""
        length = int.from_bytes(extra, "big")
    else:
        length = head[1]
    body = _read_exactly(sock, length)
    return None if body is None else head + extra + body


def _read_exactly(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def parse_request(message: bytes) -> LdapRequest | None:
    """The message ID and operation of an LDAPMessage, or None when it is not one."""
    try:
        (tag, body), *_ = _elements(message)
        if tag != _SEQUENCE:
            return None
        parts = _elements(body)
        (id_tag, id_bytes), (operation, op_body) = parts[0], parts[1]
    except (ValueError, IndexError):
        return None
    if id_tag != _INTEGER:
        return None
    oid = None
    if operation == _EXTENDED_REQUEST:
        try:
            oid = next((v.decode(errors="replace") for t, v in _elements(op_body) if t == _REQUEST_NAME), None)
        except ValueError:
            return None
    return LdapRequest(int.from_bytes(id_bytes, "big", signed=True), operation, oid)


def parse_extended_response(message: bytes) -> ExtendedResponse | None:
    """The ExtendedResponse in an LDAPMessage, or None when it carries something else."""
    try:
        (tag, body), *_ = _elements(message)
        parts = _elements(body)
        (_, id_bytes), (operation, op_body) = parts[0], parts[1]
        if tag != _SEQUENCE or operation != _EXTENDED_RESPONSE:
            return None
        fields = _elements(op_body)
        code, diagnostic = fields[0][1], fields[2][1]
    except (ValueError, IndexError):
        return None
    name = next((v.decode(errors="replace") for t, v in fields[3:] if t == _RESPONSE_NAME), None)
    return ExtendedResponse(
        int.from_bytes(id_bytes, "big", signed=True),
        int.from_bytes(code, "big"),
        diagnostic.decode("utf-8", "replace"),
        name,
    )


def starttls(sock: socket.socket, message_id: int = 1) -> ExtendedResponse | None:
    """Ask for StartTLS on a connected socket; the server's answer (None when it closed or said something
    else). On resultCode 0 the next bytes on `sock` are the TLS handshake."""
    sock.sendall(starttls_request(message_id))
    message = read_message(sock)
    return None if message is None else parse_extended_response(message)


@dataclass
class StartTlsRefusingServer(LoopbackServer):
    """Plain LDAP that answers every ExtendedRequest, StartTLS included, with an ExtendedResponse carrying
    `result_code` (52 unavailable unless told; 2 protocolError is another one met in the field) and `diagnostic`.

    A BindRequest gets a successful BindResponse, an UnbindRequest ends the connection, anything else is
    recorded and left unanswered. `requests` lists what clients sent; connections are served one at a time.
    """

    result_code: int = UNAVAILABLE
    diagnostic: str = "StartTLS not available"
    response_name: bool = True
    """Name the StartTLS OID in the response (RFC 4511 says to; some servers leave it out on an error)."""
    requests: list[LdapRequest] = field(default_factory=list)

    def reset_counts(self) -> None:
        super().reset_counts()
        self.requests.clear()

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        while not self._stop.is_set():
            message = read_message(conn)
            request = None if message is None else parse_request(message)
            if request is None:
                return
            self.requests.append(request)
            if request.operation == _UNBIND_REQUEST:
                return
            if request.operation == _BIND_REQUEST:
                content = _integer(_ENUMERATED, SUCCESS) + _tlv(_OCTET_STRING, b"") + _tlv(_OCTET_STRING, b"")
                conn.sendall(_tlv(_SEQUENCE, _integer(_INTEGER, request.message_id) + _tlv(_BIND_RESPONSE, content)))
            elif request.operation == _EXTENDED_REQUEST:
                name = STARTTLS_OID if self.response_name and request.oid == STARTTLS_OID else None
                conn.sendall(extended_response(request.message_id, self.result_code, self.diagnostic, name))
