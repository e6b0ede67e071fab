"""The client's ClientHello and the server's first answer, as pure bytes (the JDK comparison is in test_jsse)."""

from __future__ import annotations

import pytest

from scanner import catalog, clients
from scanner.clients import Group
from scanner.lab.clienthello import parse
from scanner.probe.hello import Alert, NotTls, ReplyReader, ServerHello, client_hello, read_reply, sni_name

JSSE17 = clients.get("jsse-17")
RANDOM = bytes(range(32))


def server_hello(code: int, version: int = 0x0303) -> bytes:
    body = version.to_bytes(2, "big") + RANDOM + b"\x00" + code.to_bytes(2, "big") + b"\x00"
    handshake = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + len(handshake).to_bytes(2, "big") + handshake


def test_the_hello_offers_the_suites_in_order_with_sni() -> None:
    codes = [0xC02F, 0x0016, 0x002F]
    hello = parse(client_hello(JSSE17, codes, "Bücher.example", RANDOM))
    assert hello is not None and hello.version == "TLSv1.2"
    assert hello.suites == tuple(codes)
    assert hello.server_name == "xn--bcher-kva.example"  # IDNA, as Java sends it


def test_groups_follow_the_suites_as_sunjsse_does() -> None:
    ecdhe, dhe, rsa = 0xC02F, 0x009E, 0x002F
    assert JSSE17.groups_for([rsa]) == ()
    assert all(g.is_ffdhe for g in JSSE17.groups_for([dhe]))
    assert Group.X25519 in JSSE17.groups_for([ecdhe]) and not any(g.is_ffdhe for g in JSSE17.groups_for([ecdhe]))
    assert Group.X25519 not in clients.get("jsse-8").groups_for([ecdhe])


def test_no_sni_for_an_address() -> None:
    assert sni_name("127.0.0.1") is None and sni_name("::1") is None
    assert sni_name("host.example.") == "host.example"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (server_hello(0xC02F), ServerHello(0x0303, 0xC02F)),
        (server_hello(0x002F, version=0x0301), ServerHello(0x0301, 0x002F)),
        (b"\x15\x03\x03\x00\x02\x02\x28", Alert(2, 40)),
        (b"HTTP/1.1 400 Bad Request\r\n", NotTls("plain text 'HTTP/1.1 400 Bad Request'")),
        (server_hello(0xC02F)[:20], None),  # more bytes needed
        (b"\x16\x03\x03\x00\x04\x02\xff\xff\xff", NotTls("a ServerHello of 16777215 bytes")),
        (
            b"\x16\x03\x03\x00\x04\x0b\x00\x00\x00",
            NotTls("a TLS handshake message of type 11 where a ServerHello belongs"),
        ),
    ],
    ids=["hello", "old-version", "alert", "http", "partial", "huge", "certificate-first"],
)
def test_the_servers_first_answer(data: bytes, expected: object) -> None:
    assert read_reply(data) == expected


def test_a_server_hello_split_over_records_is_read() -> None:
    whole = server_hello(0x009E)
    handshake = whole[5:]
    records = b"".join(b"\x16\x03\x03" + len(part).to_bytes(2, "big") + part for part in (handshake[:3], handshake[3:]))
    assert read_reply(records) == ServerHello(0x0303, 0x009E)


def test_every_profile_suite_is_in_the_catalog() -> None:
    for profile in clients.PROFILES.values():
        assert all(catalog.find(name) is not None for name in profile.suites), profile.name


def test_the_reader_takes_bytes_as_they_come_and_looks_at_each_once() -> None:
    whole = server_hello(0xC02F)
    reader = ReplyReader()
    answers = [reader.feed(whole[i : i + 1]) for i in range(len(whole))]
    assert answers[:-1] == [None] * (len(whole) - 1) and answers[-1] == ServerHello(0x0303, 0xC02F)


def test_a_server_hello_in_endless_tiny_records_is_refused() -> None:
    header = b"\x02\x00\xea\x60"  # a ServerHello of 60,000 bytes, sent one byte a record
    records = b"".join(b"\x16\x03\x03\x00\x01" + bytes([b]) for b in header + bytes(100))
    assert read_reply(records) == NotTls("a ServerHello spread over more than 64 records")


def test_a_malformed_server_hello_is_not_a_choice() -> None:
    body = b"\x03\x03" + RANDOM + b"\x28" + bytes(40) + b"\xc0\x2f\x00"  # a 40-byte session id
    record = b"\x16\x03\x03" + (len(body) + 4).to_bytes(2, "big") + b"\x02" + len(body).to_bytes(3, "big") + body
    reply = read_reply(record)
    assert isinstance(reply, NotTls) and "malformed ServerHello" in reply.detail


def test_bytes_that_are_not_text_are_shown_as_bytes() -> None:
    assert read_reply("éééééé".encode()) == NotTls("bytes c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9")
