"""Run a server that insists on listening on every interface inside a private network namespace.

`gnutls-serv` has no option to bind loopback only. The lab starts this module under `unshare --net`, where
the only interface is the namespace's own loopback: it brings `lo` up, starts the server there, and relays
connections from a Unix socket (which crosses namespaces through the file system) to it. Outside, the lab
listens on 127.0.0.1 and relays to that Unix socket. No address outside loopback is ever bound or reached.

Usage: python -m scanner.lab.nsbridge UNIX_SOCKET INNER_PORT -- SERVER_COMMAND...
"""

from __future__ import annotations

import fcntl
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes; closes both."""
    selector = selectors.DefaultSelector()
    selector.register(a, selectors.EVENT_READ, b)
    selector.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in selector.select(timeout=30):
                source = key.fileobj
                assert isinstance(source, socket.socket)
                data = source.recv(65536)
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        return
    finally:
        selector.close()
        a.close()
        b.close()


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))


def _wait_for(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    path, port, command = argv[0], int(argv[1]), argv[3:]
    # Stopping the bridge (SIGTERM) must stop the server too: run the `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _loopback_up()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not _wait_for(port, 10):
            print("FAILED: server did not start", flush=True)
            return 1
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(16)
        print("READY", flush=True)
        while server.poll() is None:
            outer, _ = listener.accept()
            try:
                inner = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                outer.close()
                continue
            threading.Thread(target=relay, args=(outer, inner), daemon=True).start()
        return 0
    finally:
        server.kill()  # gnutls-serv does not stop on SIGTERM while it waits for connections
        server.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
