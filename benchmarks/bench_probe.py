"""Benchmark: tlsverify's Verify All against sslyze's own scans, on a loopback zoo of real TLS servers.

Prints wall time and connections (counted on the server side) for each tool, medians over interleaved
rounds, and the ratio against the peer measured in the same run. Loopback only; stops by itself.

    python benchmarks/bench_probe.py [--servers 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sslyze.plugins.scan_commands import ScanCommand
from sslyze.scanner.models import ServerScanRequest
from sslyze.scanner.scanner import Scanner
from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation
from zoo import ZOO, start_zoo

from scanner import catalog
from scanner.config import load_policy
from scanner.lab.gnutls import unavailable_reason
from scanner.lab.servers import Lab, LoopbackServer
from scanner.models import Endpoint
from scanner.probe.prober import SslyzeProber
from scanner.scan import ScanSettings, scan

ROOT = Path(__file__).resolve().parent.parent

SSLYZE_ALL = {
    ScanCommand.SSL_3_0_CIPHER_SUITES,
    ScanCommand.TLS_1_0_CIPHER_SUITES,
    ScanCommand.TLS_1_1_CIPHER_SUITES,
    ScanCommand.TLS_1_2_CIPHER_SUITES,
    ScanCommand.TLS_1_3_CIPHER_SUITES,
}


def run_tlsverify(servers: list[LoopbackServer]) -> dict[str, set[str]]:
    endpoints = [Endpoint(s.name, s.name, "bench", f"{s.name}.bench.test", s.port, ip="127.0.0.1") for s in servers]
    policy = load_policy(ROOT / "policy.yaml")
    results = asyncio.run(scan(endpoints, policy, SslyzeProber(timeout_s=5), ScanSettings(concurrency=8, rate=10_000)))
    return {r.endpoint_id: set(r.accepted_tls12) for r in results}


def run_sslyze(servers: list[LoopbackServer], commands: set[ScanCommand]) -> dict[str, set[str]]:
    scanner = Scanner(per_server_concurrent_connections_limit=1, concurrent_server_scans_limit=8)
    requests = []
    for s in servers:
        location = ServerNetworkLocation(f"{s.name}.bench.test", s.port, ip_address="127.0.0.1")
        network = ServerNetworkConfiguration(tls_server_name_indication=location.hostname, network_max_retries=1)
        requests.append(ServerScanRequest(location, network, scan_commands=commands))
    scanner.queue_scans(requests)
    found: dict[str, set[str]] = {}
    for result in scanner.get_results():
        name = result.server_location.hostname.split(".")[0]
        attempt = result.scan_result.tls_1_2_cipher_suites if result.scan_result else None
        accepted = attempt.result.accepted_cipher_suites if attempt and attempt.result else []
        found[name] = {a.cipher_suite.name for a in accepted}
    return found


Tool = Callable[[list[LoopbackServer]], dict[str, set[str]]]


def measure(servers: list[LoopbackServer], tool: Tool) -> tuple[float, int, int, dict[str, set[str]]]:
    for s in servers:
        s.reset_counts()
    started = time.perf_counter()
    found = tool(servers)
    seconds = time.perf_counter() - started
    for s in servers:
        s.settle()
    connections = sum(s.connections for s in servers)
    tls12 = sum(len(s.hellos_for("TLSv1.2")) for s in servers)
    return seconds, connections, tls12, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tools: dict[str, Tool] = {
        "tlsverify verify-all (elimination)": run_tlsverify,
        "sslyze 6 TLS 1.2 suites only": lambda s: run_sslyze(s, {ScanCommand.TLS_1_2_CIPHER_SUITES}),
        "sslyze 6 all versions' suites": lambda s: run_sslyze(s, SSLYZE_ALL),
    }
    samples: dict[str, list[tuple[float, int, int]]] = {name: [] for name in tools}
    with Lab() as lab:
        servers = start_zoo(lab, args.servers)
        answers: dict[str, dict[str, set[str]]] = {}
        for _ in range(args.rounds):
            for name, tool in tools.items():  # interleaved, so drift on a shared machine hits all tools alike
                seconds, connections, tls12, found = measure(servers, tool)
                samples[name].append((seconds, connections, tls12))
                answers[name] = found
    reference = answers["tlsverify verify-all (elimination)"]
    peer = answers["sslyze 6 TLS 1.2 suites only"]
    agree = sum(1 for k in reference if {catalog.resolve(n).name for n in peer.get(k, set())} == reference[k])
    print(
        f"{args.servers} loopback servers ({len(ZOO)} configurations"
        f"{' + gnutls 3DES' if unavailable_reason() is None else ''}), {args.rounds} interleaved rounds, medians\n"
    )
    print(f"{'tool':<38} {'wall s':>8} {'conns':>7} {'TLS1.2 hellos':>14} {'per server':>11} {'time ratio':>11}")
    base = statistics.median(s[0] for s in samples["tlsverify verify-all (elimination)"])
    for name, rows in samples.items():
        wall = statistics.median(r[0] for r in rows)
        conns = int(statistics.median(r[1] for r in rows))
        tls12 = int(statistics.median(r[2] for r in rows))
        print(f"{name:<38} {wall:8.2f} {conns:7d} {tls12:14d} {conns / args.servers:11.1f} {wall / base:10.1f}x")
    print(f"\naccepted TLS 1.2 suites identical to sslyze's on {agree}/{len(reference)} servers")
    return 0 if agree == len(reference) else 1


if __name__ == "__main__":
    sys.exit(main())
