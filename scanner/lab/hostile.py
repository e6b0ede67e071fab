"""Lab servers that misbehave on purpose, to prove a probe never hangs or crashes on them.

Each stands for something met in the field: a port that accepts and never answers, one that closes at
once, one that resets mid-handshake, plain HTTP on the TLS port, random bytes, and a server that dribbles
one byte at a time. Size-limited and version-intolerant TLS servers are `ServerSpec` options.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from dataclasses import dataclass

from scanner.lab.servers import LoopbackServer, TlsServer


@dataclass
class DribbleServer(LoopbackServer):
    """Answers a ClientHello with the header of a 16 KiB handshake record, then one byte per `interval_s`.

    sslyze's timeout is per read, so without a wall-clock limit such a server holds a handshake for ever.
    """

    interval_s: float = 0.2

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(None)
        conn.sendall(bytes([0x16, 0x03, 0x03, 0x40, 0x00]))
        while not self._stop.wait(self.interval_s):
            conn.sendall(b"\x02")


@dataclass
class SilentServer(LoopbackServer):
    """Accepts, reads, never answers; lets go when the client gives up."""

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        while not self._stop.is_set():
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue


@dataclass
class CloseServer(LoopbackServer):
    """Accepts and closes at once."""

    def handle(self, conn: socket.socket) -> None:
        return


@dataclass
class ResetServer(LoopbackServer):
    """Reads the ClientHello, sends the start of a ServerHello, then resets the connection (RST)."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(16384)
        conn.sendall(bytes([0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3C, 0x03, 0x03]))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@dataclass
class HttpServer(LoopbackServer):
    """Plain HTTP where TLS was expected: answers anything with a 400."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(16384)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@dataclass
class GarbageServer(LoopbackServer):
    """Answers with random bytes."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(16384)
        conn.sendall(os.urandom(512))


@dataclass
class BacklogServer(LoopbackServer):
    """A listener whose accept queue is full for `hold_s` seconds (new SYNs are dropped and retried by the
    client's kernel), then dribbles: the TCP connect itself is slow before the handshake even starts."""

    hold_s: float = 1.5
    _listener: socket.socket | None = None
    _filler: socket.socket | None = None

    def start(self) -> BacklogServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(0)
        self.port = listener.getsockname()[1]
        filler = socket.create_connection(("127.0.0.1", self.port))  # fills the queue
        self._listener, self._filler = listener, filler
        threading.Thread(target=self._run, name=f"lab-{self.name}", daemon=True).start()
        return self

    def _run(self) -> None:
        if self._stop.wait(self.hold_s):
            return
        assert self._listener is not None
        first, _ = self._listener.accept()
        first.close()
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._dribble, args=(conn,), daemon=True).start()

    def _dribble(self, conn: socket.socket) -> None:
        try:
            conn.recv(16384)
            conn.sendall(bytes([0x16, 0x03, 0x03, 0x40, 0x00]))
            while not self._stop.wait(0.2):
                conn.sendall(b"\x02")
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        for sock in (self._filler, self._listener):
            if sock is not None:
                sock.close()


@dataclass
class ServesThenResets(TlsServer):
    """A real TLS server for its first `serves` connections, then resets every one (a server that falls
    over, or a rate limiter that cuts a scanner off part-way)."""

    serves: int = 1

    def handle(self, conn: socket.socket) -> None:
        if self.handled >= self.serves:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        super().handle(conn)
