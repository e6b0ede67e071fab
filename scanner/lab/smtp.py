"""A real SMTP lab server (aiosmtpd) speaking STARTTLS or implicit TLS (SMTPS) with a `ServerSpec`'s TLS settings.

`SmtpServer` is a `TlsServer`: its `spec` says which TLS 1.2 suites, versions, preference order and
certificate key types it serves, exactly as for the lab's plain TLS servers. With `implicit_tls` the TLS
handshake starts at accept (SMTPS, port 465 in the field); otherwise the server greets in plain text, EHLO
advertises STARTTLS and the handshake follows the "220 Ready to start TLS" answer (port 25 and 587).

Hostile variants, for the ways a relay refuses TLS: `offer_starttls=False` leaves STARTTLS out of the EHLO
reply (aiosmtpd then answers a STARTTLS sent anyway with "454 TLS not available"), and `starttls_reply`
(such as "454 4.7.0 TLS not available due to temporary reason") is sent instead of "220" while the EHLO reply
still advertises STARTTLS; the session then goes on in plain text.

Every accepted connection is counted (`connections`, `peers`) before any byte is read, so a probe that
dropped the handshake half-way counts too, and `handled` when it ends. Connections are served concurrently on
one asyncio loop; the accept thread hands each socket over with `connect_accepted_socket`. aiosmtpd's own
answer to a failed STARTTLS handshake would be a logged traceback per connection: here the failure is counted
in `tls_failures` and its reason kept in `errors`, and the "mail.log" logger gets a NullHandler so that
aiosmtpd's warnings (a ClientHello sent to the plain-text port is "unrecognised") do not reach stderr.
`hellos` records the ClientHellos of implicit-TLS connections only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from scanner.lab.servers import TlsServer, peek_hello

_HANDSHAKE_SECONDS = 10.0
_IDLE_SECONDS = 30.0


def _quiet_aiosmtpd() -> None:
    """Keep aiosmtpd's log records off stderr (Python's last-resort handler) unless the caller logs them."""
    logger = logging.getLogger("mail.log")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


@dataclass
class SmtpServer(TlsServer):
    """An aiosmtpd server on `host`:`port` (127.0.0.1 unless given); STARTTLS unless `implicit_tls`."""

    implicit_tls: bool = False
    offer_starttls: bool = True
    starttls_reply: str | None = None
    """Sent instead of "220 Ready to start TLS" (with EHLO still advertising STARTTLS): a refusal."""
    hostname: str = "smtp.lab.test"
    """The name in the greeting and the EHLO reply (given, so aiosmtpd does not look up this machine's FQDN)."""
    peers: list[tuple[str, int]] = field(default_factory=list)
    """The address and port of every accepted connection, in order."""
    tls_failures: int = 0
    """Handshakes (implicit or after STARTTLS) that did not complete: the client closed, reset or disagreed."""
    errors: list[str] = field(default_factory=list)
    """Why each of those handshakes failed (an exception's repr)."""
    starttls_commands: int = 0
    """STARTTLS commands received (answered or refused)."""
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _loop_thread: threading.Thread | None = field(default=None, repr=False)
    _sessions: set[_LabSmtp] = field(default_factory=set, repr=False)

    def start(self) -> SmtpServer:
        _quiet_aiosmtpd()
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._loop_thread = threading.Thread(target=self._run_loop, name=f"lab-{self.name}-loop", daemon=True)
        self._loop_thread.start()
        super().start()
        return self

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(asyncio.sleep(0.01))  # connection_lost callbacks scheduled by the aborts
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self.peers.append((str(peer[0]), int(peer[1])))
            # A thread per connection: reading an implicit-TLS ClientHello may wait on a slow client.
            threading.Thread(target=self._hand_over, args=(conn,), name=f"lab-{self.name}-conn", daemon=True).start()

    def _hand_over(self, conn: socket.socket) -> None:
        # aiosmtpd writes a multi-line reply (EHLO) line by line: without TCP_NODELAY each later line would wait
        # for the client's delayed ACK, 40 ms per EHLO.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.implicit_tls:
            conn.settimeout(2)
            hello = peek_hello(conn)
            if hello is not None:
                self.hellos.append(hello)
        loop = self._loop
        if self._stop.is_set() or loop is None or loop.is_closed():
            conn.close()
            self.handled += 1
            return
        try:
            asyncio.run_coroutine_threadsafe(self._attach(conn), loop)
        except RuntimeError:  # the loop closed meanwhile
            conn.close()
            self.handled += 1

    async def _attach(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        tls = self._context if self.implicit_tls else None
        try:
            await loop.connect_accepted_socket(
                self._session, conn, ssl=tls, ssl_handshake_timeout=_HANDSHAKE_SECONDS if tls else None
            )
        except OSError as exc:  # ssl.SSLError, a reset, a handshake timeout: the transport is closed already
            conn.close()
            self.tls_failures += 1
            self.errors.append(repr(exc))
            self.handled += 1
        except asyncio.CancelledError:  # stopped during the handshake
            conn.close()
            self.handled += 1
            raise

    def _session(self) -> _LabSmtp:
        tls = self._context if not self.implicit_tls and self.offer_starttls else None
        return _LabSmtp(self, hostname=self.hostname, tls_context=tls, timeout=_IDLE_SECONDS, loop=self._loop)

    def reset_counts(self) -> None:
        super().reset_counts()
        self.peers.clear()
        self.errors.clear()
        self.tls_failures = self.starttls_commands = 0

    def stop(self) -> None:
        super().stop()  # no new connections
        loop, thread = self._loop, self._loop_thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                loop.call_soon_threadsafe(self._shutdown)
        thread.join(timeout=5)
        self._loop = self._loop_thread = None

    def _shutdown(self) -> None:
        """In the loop: cut every open session, then stop the loop (its thread cleans up)."""
        assert self._loop is not None
        for session in list(self._sessions):
            session.abort()
        self._loop.call_soon(self._loop.stop)


class _Handler:
    """aiosmtpd's event handler: accepts every message; records a failed STARTTLS handshake instead of the
    traceback aiosmtpd would log."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 2.0.0 OK: dropped"

    async def handle_exception(self, error: Exception) -> str:
        cause = error.__cause__ or error
        self._server.tls_failures += 1
        self._server.errors.append(repr(cause))
        return "421 4.7.0 TLS handshake failed"


class _LabSmtp(SMTP):
    """One SMTP session of an `SmtpServer`: counts its end, records its suite, may refuse STARTTLS."""

    def __init__(self, server: SmtpServer, **kwargs: Any) -> None:
        super().__init__(_Handler(server), **kwargs)
        self._lab = server
        self._ended = False
        server._sessions.add(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        upgraded = self._original_transport is not None  # the second call, after the STARTTLS handshake
        super().connection_made(transport)
        if upgraded or self._lab.implicit_tls:
            cipher = transport.get_extra_info("cipher")
            if cipher:
                self._lab.negotiated.append(str(cipher[0]))

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        if not self._ended:  # aiosmtpd calls it a second time after a failed STARTTLS handshake
            self._ended = True
            self._lab._sessions.discard(self)
            self._lab.handled += 1

    def abort(self) -> None:
        for transport in (self.transport, self._original_transport):
            if isinstance(transport, asyncio.Transport) and not transport.is_closing():
                transport.abort()

    async def smtp_STARTTLS(self, arg: str) -> None:
        self._lab.starttls_commands += 1
        if self._lab.starttls_reply is not None and not arg:
            await self.push(self._lab.starttls_reply)
            return
        await super().smtp_STARTTLS(arg)
