"""Orchestration with a fake prober that implements the real interface: concurrency, rate, deadline."""

from __future__ import annotations

import threading
import time

import pytest

from scanner.models import Endpoint, EndpointStatus, Policy, ProbeResult
from scanner.probe.contract import Gate
from scanner.scan import ScanSettings, scan
from tests.conftest import endpoint


class FakeProber:
    """Makes `connections` gated 'connections' per endpoint, each taking `hold` seconds."""

    def __init__(self, connections: int = 1, hold: float = 0.0) -> None:
        self.connections = connections
        self.hold = hold
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate_times: list[float] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def probe(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.threads.add(threading.current_thread().name)
        try:
            for _ in range(self.connections):
                gate()
                with self._lock:
                    self.gate_times.append(time.monotonic())
                time.sleep(self.hold)
            return ProbeResult(endpoint.id, EndpointStatus.OK, connections=self.connections)
        finally:
            with self._lock:
                self.in_flight -= 1


ENDPOINTS = [endpoint(f"e{i:02d}", 1000 + i) for i in range(12)]


@pytest.mark.asyncio
async def test_concurrency_is_bounded_and_order_kept(policy: Policy) -> None:
    prober = FakeProber(connections=2, hold=0.01)
    done: list[str] = []
    results = await scan(
        ENDPOINTS,
        policy,
        prober,
        ScanSettings(concurrency=3, rate=1000),
        lambda r: done.append(r.endpoint_id),
    )
    assert [r.endpoint_id for r in results] == [e.id for e in ENDPOINTS]
    assert prober.max_in_flight <= 3
    assert sorted(done) == [e.id for e in ENDPOINTS]
    assert all(name.startswith("tlsverify-probe") for name in prober.threads)  # never on the event loop


@pytest.mark.asyncio
async def test_rate_limit_bounds_connections_per_second(policy: Policy) -> None:
    prober = FakeProber(connections=3)
    await scan(ENDPOINTS, policy, prober, ScanSettings(concurrency=12, rate=10))
    times = sorted(prober.gate_times)
    assert len(times) == 36
    # No one-second window may hold more than `rate` connections (a property, not a timing assert).
    assert max(sum(1 for t in times if start <= t < start + 0.999) for start in times) <= 10


@pytest.mark.asyncio
async def test_deadline_turns_a_slow_endpoint_into_a_timeout(policy: Policy) -> None:
    prober = FakeProber(connections=100, hold=0.05)
    results = await scan(ENDPOINTS[:2], policy, prober, ScanSettings(concurrency=2, rate=1000, deadline_s=0.3))
    assert all(r.status is EndpointStatus.TIMEOUT for r in results)
    assert all("deadline" in (r.reason or "") for r in results)


@pytest.mark.asyncio
async def test_endpoints_on_one_server_are_never_probed_at_once(policy: Policy) -> None:
    same = [endpoint(f"s{i}", 4443) for i in range(4)]  # one address and port, four names
    prober = FakeProber(connections=1, hold=0.02)
    await scan(same, policy, prober, ScanSettings(concurrency=4, rate=1000))
    assert prober.max_in_flight == 1
