"""A userspace stand-in for a WAN link: TCP relays on 127.0.0.1 that delay every chunk by half a round trip.

For each target port it listens on a new 127.0.0.1 port; each connection accepted there opens exactly one
connection to the target (so the servers count connections 1:1) and forwards bytes both ways, each chunk
delivered RTT/2 after it arrived, in order, end of stream and resets included. A real client's connect()
takes one round trip before it can send anything; a loopback connect() takes none, so the client's first
bytes are held back one extra RTT. Used by bench_peers.py where netem in a network namespace is not available.

    python benchmarks/delay_relay.py --rtt-ms 40 --target-host 127.0.0.1 --ports 4431,4432

prints one JSON line {"ports": [...]} (the relay ports, in the order of --ports), then runs until its
standard input ends or it is sent SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import struct
import sys

from zoo import raise_open_files_limit

_CHUNK = 65536


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, as the far side did."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Direction:
    """One direction of one connection: read, wait until the chunk's due time, write; order is kept because
    one queue feeds one writer and due times never decrease."""

    def __init__(self, delay_s: float, first_extra_s: float) -> None:
        self.delay_s = delay_s
        self.first_extra_s = first_extra_s
        self.queue: asyncio.Queue[tuple[float, bytes | None, bool]] = asyncio.Queue()
        self._last_due = 0.0

    def due(self, now: float) -> float:
        extra, self.first_extra_s = self.first_extra_s, 0.0
        self._last_due = max(now + self.delay_s + extra, self._last_due)
        return self._last_due

    async def read(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await reader.read(_CHUNK)
            except (ConnectionError, OSError):
                await self.queue.put((self.due(loop.time()), None, True))  # the peer reset
                return
            if not data:
                await self.queue.put((self.due(loop.time()), None, False))  # end of stream
                return
            await self.queue.put((self.due(loop.time()), data, False))

    async def write(self, writer: asyncio.StreamWriter) -> bool:
        """Deliver until end of stream; False when the connection ended with a reset (either side)."""
        loop = asyncio.get_running_loop()
        while True:
            due, data, reset = await self.queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if data is None:
                    if reset:
                        _reset(writer)
                        return False
                    if writer.can_write_eof():
                        writer.write_eof()
                    return True
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                return False


class Relay:
    """Relays from one listening port to one target, with the delays above."""

    def __init__(self, target_host: str, target_port: int, rtt_s: float) -> None:
        self.target = (target_host, target_port)
        self.rtt_s = rtt_s

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        up = _Direction(self.rtt_s / 2, self.rtt_s)
        down = _Direction(self.rtt_s / 2, 0.0)
        tasks = [asyncio.create_task(up.read(client_r))]
        writers: list[asyncio.Task[bool]] = []
        server_w: asyncio.StreamWriter | None = None
        try:
            # A real server accepts when the handshake's last ACK arrives: 1.5 round trips after the SYN left.
            await asyncio.sleep(1.5 * self.rtt_s)
            try:
                server_r, server_w = await asyncio.open_connection(*self.target)
            except OSError:
                _reset(client_w)
                return
            tasks.append(asyncio.create_task(down.read(server_r)))
            writers = [asyncio.create_task(up.write(server_w)), asyncio.create_task(down.write(client_w))]
            done, _ = await asyncio.wait(writers, return_when=asyncio.FIRST_COMPLETED)
            if all(t.result() for t in done):
                done, _ = await asyncio.wait(writers)
            if not all(t.result() for t in done):  # a reset ends the other direction at once, as in TCP
                for w in (client_w, server_w):
                    _reset(w)
        finally:
            for t in (*tasks, *writers):
                t.cancel()
            await asyncio.gather(*tasks, *writers, return_exceptions=True)
            for end in (client_w, server_w):
                if end is not None:
                    end.close()


async def serve(target_host: str, ports: list[int], rtt_ms: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    servers = []
    for port in ports:
        relay = Relay(target_host, port, rtt_ms / 1000)
        servers.append(await asyncio.start_server(relay.handle, "127.0.0.1", 0, backlog=128))
    print(json.dumps({"ports": [s.sockets[0].getsockname()[1] for s in servers]}), flush=True)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    stdin_closed = asyncio.ensure_future(stdin.read())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({stdin_closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
    for s in servers:
        s.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="Delay relays on 127.0.0.1 (a userspace WAN stand-in).")
    parser.add_argument("--rtt-ms", type=float, default=40.0, help="round trip time to add (default: 40)")
    parser.add_argument("--target-host", default="127.0.0.1", help="where the servers listen (default: 127.0.0.1)")
    parser.add_argument("--ports", required=True, help="comma-separated server ports")
    args = parser.parse_args()
    raise_open_files_limit()
    ports = [int(p) for p in args.ports.split(",") if p]
    asyncio.run(serve(args.target_host, ports, args.rtt_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
