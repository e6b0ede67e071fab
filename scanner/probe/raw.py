"""One connection that sends a modelled client's own ClientHello and reads only the server's first answer.

The server's ServerHello says which suite it picked; nothing after it is needed to know that, so the
connection is closed there. Failures are classified here, once, into the outcome kinds.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Sequence

from scanner.clients import ClientProfile
from scanner.models import EndpointStatus
from scanner.probe.channel import ChannelFailed, open_channel
from scanner.probe.contract import Target
from scanner.probe.hello import TLS12, VERSIONS, Alert, NotTls, ReplyReader, ServerHello, client_hello
from scanner.probe.outcome import Accepted, Outcome, Refusal, Rejected, Unreachable

_MAX_ANSWER = 1 << 18
"""Bytes read before giving up on a ServerHello: one is a few hundred bytes, so this is a hostile server."""


def hello_handshake(
    target: Target, profile: ClientProfile, suites: Sequence[int], limit_s: float, whole_flight: bool = False
) -> Outcome:
    """Offer `suites` in `profile`'s ClientHello; the suite the server picks, or why there was none. With
    `whole_flight`, read the server's flight to its end, to learn whether it asks for a client certificate."""
    try:
        hello = client_hello(profile, suites, target.server_name, os.urandom(32))
    except (UnicodeError, ValueError) as exc:  # a name no resolver would take either; config refuses it
        return Unreachable(EndpointStatus.DNS_ERROR, f"{target.server_name!r} cannot be sent as an SNI name: {exc}")
    return exchange(target, hello, limit_s, TLS12, whole_flight)


def exchange(target: Target, hello: bytes, limit_s: float, version: int, whole_flight: bool = False) -> Outcome:
    """Send `hello` (ClientHello records) over a new connection to `target` and read the server's answer up
    to its ServerHello (or, with `whole_flight`, to the flight's end): accepted when the server answers at
    `version` (a wire version, 0x0303 for TLS 1.2)."""
    deadline = time.monotonic() + limit_s
    try:
        sock = open_channel(target, deadline)
    except ChannelFailed as exc:
        return exc.outcome
    with contextlib.closing(sock):
        return _exchange(sock, hello, target, deadline, ReplyReader(whole_flight), version)


def _exchange(
    sock: socket.socket, hello: bytes, target: Target, deadline: float, reader: ReplyReader, version: int
) -> Outcome:
    received = 0
    try:
        sock.sendall(hello)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return _stalled(reader.hello) if reader.hello else _silent_server(received, target, cut=True)
            sock.settimeout(min(target.timeout_s, left))
            chunk = sock.recv(16384)
            if not chunk and reader.hello is not None:
                return Rejected("the server closed the connection in the middle of its first flight", Refusal.CLOSED)
            if not chunk:
                if received:
                    return Rejected("the server closed the connection in the middle of its answer", Refusal.CLOSED)
                size = len(hello)
                return Rejected(
                    f"the server closed the connection without a word on the {size}-byte ClientHello", Refusal.CLOSED
                )
            received += len(chunk)
            if received > _MAX_ANSWER and reader.hello is not None:
                return _outcome(reader.hello, version)
            if received > _MAX_ANSWER:
                return Rejected(f"the server sent over {_MAX_ANSWER} bytes without a ServerHello", Refusal.NOT_TLS)
            reply = reader.feed(chunk)
            if reply is not None:
                return _outcome(reply, version)
    except TimeoutError:
        if reader.hello is not None:
            return _stalled(reader.hello)
        return _silent_server(received, target, cut=time.monotonic() >= deadline)
    except ConnectionResetError:
        return Rejected(f"the server reset the connection on the {len(hello)}-byte ClientHello", Refusal.RESET)
    except OSError as exc:
        return Rejected(f"connection broken during the handshake: {exc.strerror or exc}", Refusal.RESET)


def _outcome(reply: ServerHello | Alert | NotTls, version: int) -> Outcome:
    if isinstance(reply, ServerHello):
        if reply.version != version:
            spoken = VERSIONS.get(reply.version, f"version 0x{reply.version:04x}")
            return Rejected(f"the server answered a {VERSIONS[version]}-only hello in {spoken}", Refusal.OTHER)
        return Accepted(reply.code, asks_certificate=reply.asks_certificate, certificates=reply.certificates)
    if isinstance(reply, Alert):
        return Rejected(str(reply), Refusal.ALERT)
    return Rejected(f"the server does not answer in TLS: {reply.detail}", Refusal.NOT_TLS)


def _stalled(hello: ServerHello) -> Unreachable:
    """A ServerHello, then silence before the flight's end: a client waits for it, then gives up."""
    return Unreachable(
        EndpointStatus.TIMEOUT, f"the server picked suite 0x{hello.code:04X} in its ServerHello, then stopped answering"
    )


def _silent_server(received: int, target: Target, cut: bool) -> Unreachable:
    if received and cut:
        return Unreachable(EndpointStatus.TIMEOUT, "connection cut at its time limit: the server answers too slowly")
    if received:
        return Unreachable(EndpointStatus.TIMEOUT, "the server began to answer the ClientHello, then stopped")
    if cut:
        return Unreachable(EndpointStatus.TIMEOUT, "no answer to the ClientHello before the connection's time limit")
    return Unreachable(EndpointStatus.TIMEOUT, f"no answer to the ClientHello within {target.timeout_s:.3g} s")
