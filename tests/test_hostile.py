"""Hostile servers and a broken network: every one becomes a result with a precise reason within the
endpoint's deadline, and a run over a hundred of them ends on its own.

Time bounds here are correctness properties (a deadline is honoured), checked with generous slack; they
are not speed targets.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from scanner.lab.hostile import (
    BacklogServer,
    CloseServer,
    DribbleServer,
    GarbageServer,
    HttpServer,
    ResetServer,
    SilentServer,
)
from scanner.lab.servers import Lab, LoopbackServer, ServerSpec, closed_port
from scanner.models import Endpoint, EndpointStatus, Policy, ProbeResult, TlsVersion
from scanner.probe.prober import SslyzeProber
from scanner.scan import ScanSettings, scan
from tests.conftest import endpoint

TIMEOUT, DEADLINE = 1.0, 6.0
BOUND = DEADLINE + 1  # no connection starts after the deadline, and none outlives it (its watchdog)
GOOD = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA"

NO_TLS13 = ServerSpec("no-tls13", GOOD, max_version=ssl.TLSVersion.TLSv1_3, intolerant_of=("TLSv1.3",))

# kind -> (make a server, expected status, words the reason must contain)
Kind = tuple[Callable[[Lab, str], LoopbackServer] | None, EndpointStatus, str]
KINDS: dict[str, Kind] = {
    "silent": (lambda lab, n: lab.add(SilentServer(n)), EndpointStatus.TIMEOUT, "no answer to the ClientHello"),
    "close": (lambda lab, n: lab.add(CloseServer(n)), EndpointStatus.TLS_ERROR, "closes or resets every TLS handshake"),
    "reset": (lambda lab, n: lab.add(ResetServer(n)), EndpointStatus.TLS_ERROR, "closes or resets every TLS handshake"),
    "http": (lambda lab, n: lab.add(HttpServer(n)), EndpointStatus.TLS_ERROR, "plain HTTP or another protocol"),
    "garbage": (lambda lab, n: lab.add(GarbageServer(n)), EndpointStatus.TLS_ERROR, "does not answer in TLS"),
    "dribble": (lambda lab, n: lab.add(DribbleServer(n)), EndpointStatus.TIMEOUT, "answers too slowly"),
    # The client's own hello with the shipped Selected list is over 255 bytes: Java cannot connect either.
    "hello255": (lambda lab, n: lab.start(ServerSpec(n, GOOD, max_hello=255)), EndpointStatus.TLS_ERROR, "-byte"),
    "hello512": (lambda lab, n: lab.start(ServerSpec(n, GOOD, max_hello=512)), EndpointStatus.OK, ""),
    "no-tls13": (lambda lab, n: lab.start(replace(NO_TLS13, name=n)), EndpointStatus.OK, ""),
    "hello255-long-sni": (
        lambda lab, n: lab.start(ServerSpec(n, GOOD, max_hello=255)),
        EndpointStatus.TLS_ERROR,
        "-byte",
    ),
    "backlog": (lambda lab, n: lab.add(BacklogServer(n)), EndpointStatus.TIMEOUT, "timed out"),
    "refused": (None, EndpointStatus.UNREACHABLE, "refused"),
    "nxdomain": (None, EndpointStatus.DNS_ERROR, "cannot resolve"),
}


GOOD_SUITES = (
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
)


def target(lab: Lab, kind: str, name: str) -> Endpoint:
    make = KINDS[kind][0]
    if kind == "nxdomain":
        return Endpoint(name, name, "lab", f"{name}.invalid", 443)
    port = closed_port() if make is None else make(lab, name).port
    if kind == "hello255-long-sni":  # a long SNI name makes every ClientHello 40 bytes longer
        return Endpoint(
            name, name, "lab", "a-rather-long-internal-host-name-for-sni.lab.tlsverify.test", port, ip="127.0.0.1"
        )
    return endpoint(name, port)


def run_scan(endpoints: list[Endpoint], policy: Policy, concurrency: int) -> tuple[list[ProbeResult], float]:
    results: list[ProbeResult] = []
    started = time.monotonic()

    def go() -> None:
        settings = ScanSettings(concurrency=concurrency, rate=500, deadline_s=DEADLINE)
        results.extend(asyncio.run(scan(endpoints, policy, SslyzeProber(timeout_s=TIMEOUT), settings)))

    worker = threading.Thread(target=go, daemon=True)
    worker.start()
    worker.join(timeout=600)  # a hang detector: far above any legitimate run
    assert not worker.is_alive(), "the scan did not end on its own"
    return results, time.monotonic() - started


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_hostile_server_gives_a_reason_within_the_deadline(lab: Lab, policy: Policy, kind: str) -> None:
    (result,), _ = run_scan([target(lab, kind, f"h-{kind}")], policy, concurrency=1)
    _, status, words = KINDS[kind]
    assert result.status is status, result
    assert result.duration_s <= BOUND
    if kind.startswith("hello255"):  # every suite still found, from hellos small enough for the server
        assert result.accepted_tls12 == GOOD_SUITES
        assert result.evidence and "rests on the client's hello" in result.evidence
    if status is EndpointStatus.OK:  # every suite still found, whatever the server does to big hellos
        assert result.accepted_tls12 == GOOD_SUITES
        assert result.negotiated == GOOD_SUITES[0]
        assert TlsVersion.TLSV1_3 not in result.tls_versions  # the intolerant server too: it is not listed
    else:
        assert words and words in (result.reason or ""), result.reason


def test_size_limited_server_still_gives_its_suites(lab: Lab, policy: Policy) -> None:
    (result,), _ = run_scan([target(lab, "hello255", "h-size")], policy, concurrency=1)
    assert result.accepted_tls12 == (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
    )
    assert result.tls_versions == (TlsVersion.TLSV1_2,)
    assert any("refuses large ClientHellos" in n for n in result.notes)


def test_a_hundred_hostile_endpoints_end_in_bounded_time(policy: Policy, capsys: pytest.CaptureFixture[str]) -> None:
    kinds = sorted(KINDS)
    with Lab() as lab:
        endpoints = [target(lab, kinds[i % len(kinds)], f"m{i:03d}") for i in range(100)]
        results, seconds = run_scan(endpoints, policy, concurrency=16)
    assert len(results) == 100
    for endpoint_, result in zip(endpoints, results, strict=True):
        kind = kinds[int(endpoint_.id[1:]) % len(kinds)]
        assert result.status is KINDS[kind][1], (kind, result)
        assert result.duration_s <= BOUND
    with capsys.disabled():
        slowest = max(r.duration_s for r in results)
        print(f"\n100 hostile endpoints, concurrency 16: {seconds:.1f} s, slowest endpoint {slowest:.1f} s")
