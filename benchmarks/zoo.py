"""The benchmarks' zoo of real TLS servers (five OpenSSL configurations, plus gnutls-serv 3DES where it can run),
and a server process that holds it for a harness in another process.

As a module: `ZOO` and `start_zoo(lab, count)`.
As a program it starts the servers, prints one JSON line {"ports", "names", "kinds", "gnutls"} and then
answers one JSON line per command read from stdin:

    reset   forget every count                       -> {"ok": true}
    counts  connections accepted since the reset     -> {"connections": [n, ...], "accepts": [[t, ...], ...]}
            (accept times are time.monotonic() of this process, per server, in the order of "ports")
    quit    stop the servers and exit (end of input does the same)

    python benchmarks/zoo.py --count 50 [--host 127.0.0.1]

Servers bind `--host` only: 127.0.0.1 by default, or an address of a network namespace the caller made.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import ssl
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from scanner.lab.gnutls import PRIORITY_3DES, GnutlsServer, unavailable_reason
from scanner.lab.servers import LOOPBACK, Lab, LoopbackServer, ServerSpec, TlsServer

ZOO = [
    ServerSpec(
        "modern",
        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305",
        max_version=ssl.TLSVersion.TLSv1_3,
    ),
    ServerSpec("rsa-only", "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA256:AES256-SHA:AES128-SHA256"),
    ServerSpec(
        "server-order",
        "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA:ECDHE-RSA-AES256-GCM-SHA384",
        server_preference=True,
    ),
    ServerSpec(
        "tls10-11",
        "ECDHE-RSA-AES128-SHA:AES128-SHA",
        min_version=ssl.TLSVersion.TLSv1,
        max_version=ssl.TLSVersion.TLSv1_1,
    ),
    ServerSpec("many", "ALL:!aNULL:!eNULL:!PSK:!SRP:!DSS", max_version=ssl.TLSVersion.TLSv1_3),
]


def kind_of(server: LoopbackServer) -> str:
    """The zoo configuration a server was started from ("modern", ..., "3des")."""
    return server.name.rsplit("-", 1)[0]


def start_zoo(lab: Lab, count: int, host: str = LOOPBACK) -> list[LoopbackServer]:
    """Start `count` servers cycling through the ZOO; every sixth is gnutls-serv 3DES where it can run."""
    servers: list[LoopbackServer] = []
    with_gnutls = unavailable_reason() is None
    for i in range(count):
        if with_gnutls and i % (len(ZOO) + 1) == len(ZOO):
            server: LoopbackServer = GnutlsServer(
                f"3des-{i}",
                host=host,
                priority=PRIORITY_3DES,
                certificates=lab.certificates,
                workdir=str(lab.directory),
            )
        else:
            spec = ZOO[i % len(ZOO)]
            named = ServerSpec(
                f"{spec.name}-{i}", spec.ciphers, spec.min_version, spec.max_version, spec.server_preference
            )
            server = TlsServer(named.name, host=host, spec=named, certificates=lab.certificates)
        servers.append(lab.add(server))
    return servers


def raise_open_files_limit() -> int:
    """Raise the soft limit on open files to the hard limit (a thousand servers and their clients need more
    than the usual 1024); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def stop_all(lab: Lab) -> None:
    """Stop the lab's servers in parallel (one at a time, each waits out its accept timeout: minutes for a
    thousand), then let the lab close as usual."""
    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(lambda server: server.stop(), lab.servers))
    lab.servers.clear()


def _settle(servers: list[LoopbackServer]) -> None:
    for server in servers:
        server.settle()
    time.sleep(0.25)  # a connection the client left in the listen backlog is accepted within this
    for server in servers:
        server.settle()


def _answer(servers: list[LoopbackServer], command: str) -> dict[str, object]:
    if command == "reset":
        _settle(servers)
        for server in servers:
            server.reset_counts()
        return {"ok": True}
    if command == "counts":
        _settle(servers)
        return {
            "connections": [s.connections for s in servers],
            "accepts": [[round(t, 6) for t in s.accepted_at] for s in servers],
        }
    return {"error": f"unknown command {command!r}: reset, counts or quit"}


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the benchmark zoo of TLS servers; commands on stdin.")
    parser.add_argument("--count", type=int, required=True, help="number of servers")
    parser.add_argument("--host", default=LOOPBACK, help="address to bind (default: 127.0.0.1)")
    args = parser.parse_args()
    raise_open_files_limit()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the servers (and gnutls-serv) on the way out
    with Lab() as lab:
        try:
            try:
                servers = start_zoo(lab, args.count, args.host)
            except (OSError, RuntimeError) as exc:
                print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
                return 1
            ready = {
                "ports": [s.port for s in servers],
                "names": [s.name for s in servers],
                "kinds": [kind_of(s) for s in servers],
                "gnutls_unavailable": unavailable_reason(),
            }
            print(json.dumps(ready), flush=True)
            for line in sys.stdin:
                command = line.strip()
                if command == "quit":
                    break
                if command:
                    print(json.dumps(_answer(servers, command)), flush=True)
        finally:
            stop_all(lab)
    return 0


if __name__ == "__main__":
    sys.exit(main())
