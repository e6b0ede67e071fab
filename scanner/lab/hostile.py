"""Lab servers that misbehave on purpose, to prove a probe never hangs or crashes on them."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from scanner.lab.servers import LoopbackServer


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
