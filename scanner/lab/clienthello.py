"""Read what a client offered from the first bytes of its connection: lab servers record every hello.

Parses just enough of a TLS ClientHello (RFC 8446 section 4.1.2) to count handshakes per version and see
which suites were offered and how big the hello was. Anything malformed gives None, never an exception.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_VERSION_NAMES = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}


@dataclass(frozen=True)
class ClientHello:
    """The parts of a ClientHello a test cares about."""

    version: str
    suites: tuple[int, ...]
    size: int
    server_name: str | None


def record_length(data: bytes) -> int | None:
    """Bytes needed for the whole first record, or None when this is not a TLS handshake record."""
    if len(data) < 5 or data[0] != 0x16 or data[1] != 0x03:
        return None
    return 5 + int.from_bytes(data[3:5], "big")


def parse(data: bytes) -> ClientHello | None:
    """The ClientHello in the first record of `data`, or None."""
    try:
        return _parse(data)
    except (IndexError, struct.error, ValueError):
        return None


def _parse(data: bytes) -> ClientHello | None:
    total = record_length(data)
    if total is None or len(data) < total or data[5] != 0x01:
        return None
    body = data[9:total]
    legacy_version = int.from_bytes(body[0:2], "big")
    pos = 2 + 32
    pos += 1 + body[pos]  # session id
    suites_len = int.from_bytes(body[pos : pos + 2], "big")
    raw_suites = body[pos + 2 : pos + 2 + suites_len]
    suites = tuple(int.from_bytes(raw_suites[i : i + 2], "big") for i in range(0, len(raw_suites), 2))
    pos += 2 + suites_len
    pos += 1 + body[pos]  # compression methods
    versions: list[int] = []
    server_name = None
    if pos + 2 <= len(body):
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            ext_type = int.from_bytes(body[pos : pos + 2], "big")
            ext_len = int.from_bytes(body[pos + 2 : pos + 4], "big")
            ext = body[pos + 4 : pos + 4 + ext_len]
            if ext_type == 0x002B:  # supported_versions
                versions = [int.from_bytes(ext[i : i + 2], "big") for i in range(1, 1 + ext[0], 2)]
            elif ext_type == 0x0000 and len(ext) > 5:  # server_name: list len, type, name len, name
                name_len = int.from_bytes(ext[3:5], "big")
                server_name = ext[5 : 5 + name_len].decode("ascii", "replace")
            pos += 4 + ext_len
    highest = max(versions) if versions else legacy_version
    return ClientHello(_VERSION_NAMES.get(highest, hex(highest)), suites, total, server_name)
