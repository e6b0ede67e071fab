"""Orchestration with a fake prober that implements the real interface: concurrency, rate, deadline."""

from __future__ import annotations

import threading
import time

import pytest

from scanner.models import Endpoint, EndpointStatus, Policy, ProbeResult, Proxy
from scanner.probe.contract import Gate
from scanner.scan import ScanSettings, pacing, scan
from tests.conftest import endpoint


class FakeProber:
    """Makes `connections` gated 'connections' per endpoint, each taking `hold` seconds."""

    def __init__(self, connections: int = 1, hold: float = 0.0) -> None:
        self.connections = connections
        self.hold = hold
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate_times: list[float] = []
        self.gates: list[tuple[str, float]] = []
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
                    self.gates.append((endpoint.id, time.monotonic()))
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


def busiest_second(times: list[float]) -> int:
    """The most connections any one-second window holds (a property of the times, not a timing assert)."""
    return max((sum(1 for t in times if start <= t < start + 0.999) for start in times), default=0)


@pytest.mark.asyncio
async def test_the_global_rate_bounds_connections_per_second(policy: Policy) -> None:
    prober = FakeProber(connections=3)
    await scan(ENDPOINTS, policy, prober, ScanSettings(concurrency=12, rate=10))
    assert len(prober.gate_times) == 36
    assert busiest_second(prober.gate_times) <= 10


def test_the_defaults_are_per_server_with_no_global_cap() -> None:
    settings = ScanSettings()
    assert settings.rate is None
    assert settings.rate_per_server >= 30  # a whole probe of a server with 20 suites fits in one burst
    assert settings.concurrency >= 32


@pytest.mark.asyncio
async def test_each_server_gets_its_own_rate_and_none_waits_on_the_others(policy: Policy) -> None:
    # Twelve servers, two endpoints (two names) on each of the first two: three connections per endpoint.
    endpoints = [*ENDPOINTS, endpoint("twin0", 1000), endpoint("twin1", 1001)]
    prober = FakeProber(connections=3)
    await scan(endpoints, policy, prober, ScanSettings(concurrency=12, rate_per_server=4))
    by_server: dict[int, list[float]] = {}
    ports = {e.id: e.port for e in endpoints}
    for endpoint_id, when in prober.gates:
        by_server.setdefault(ports[endpoint_id], []).append(when)
    assert len(prober.gates) == 42
    assert all(busiest_second(times) <= 4 for times in by_server.values())
    assert max(len(times) for times in by_server.values()) == 6  # two endpoints' six connections: over a second
    # Servers do not share a budget: far more than one server's four connections happened within a second.
    assert busiest_second(prober.gate_times) > 4


@pytest.mark.asyncio
async def test_endpoints_behind_one_proxy_share_the_proxy_s_rate(policy: Policy) -> None:
    proxy = Proxy("proxy.lab.tlsverify.test", 3128)
    behind = [endpoint(f"p{i}", 2000 + i, proxy=proxy) for i in range(4)]
    prober = FakeProber(connections=3)
    await scan(behind, policy, prober, ScanSettings(concurrency=4, rate_per_server=5))
    assert len(prober.gate_times) == 12
    assert busiest_second(prober.gate_times) <= 5


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


@pytest.mark.asyncio
async def test_with_a_global_cap_neither_limit_is_exceeded(policy: Policy) -> None:
    """Both windows are taken together: a slot taken in one while waiting for the other would be dated before
    its connection, and a server or the whole scan would see more than its limit in some second."""
    proxy = Proxy("proxy.lab.tlsverify.test", 3128)
    behind = [endpoint(f"p{i}", 2000 + i, proxy=proxy) for i in range(3)]
    direct = [endpoint(f"d{i}", 3000 + i) for i in range(5)]
    prober = FakeProber(connections=3)  # 9 behind the proxy (3 a second), 24 in all (6 a second): both bind
    await scan([*behind, *direct], policy, prober, ScanSettings(concurrency=16, rate=6, rate_per_server=3))
    proxied = [when for endpoint_id, when in prober.gates if endpoint_id.startswith("p")]
    assert len(prober.gate_times) == 24
    assert busiest_second(proxied) <= 3
    assert busiest_second(prober.gate_times) <= 6


@pytest.mark.asyncio
async def test_a_fractional_rate_is_spread_evenly_not_allowed_as_a_burst(policy: Policy) -> None:
    prober = FakeProber(connections=5)
    await scan(ENDPOINTS[:1], policy, prober, ScanSettings(rate_per_server=2.5))
    assert busiest_second(prober.gate_times) <= 3  # 2.5 a second, evenly: at most 3 in any second, no burst
    assert len(prober.gate_times) == 5
    assert pacing(2.5) == (1, 0.4)  # one connection every 0.4 s


@pytest.mark.asyncio
async def test_a_proxy_spelled_two_ways_is_one_destination(policy: Policy) -> None:
    endpoints = [
        endpoint("a", 2000, proxy=Proxy("Proxy.Lab.tlsverify.test.", 3128)),
        endpoint("b", 2001, proxy=Proxy("proxy.lab.tlsverify.test", 3128)),
    ]
    prober = FakeProber(connections=3)
    await scan(endpoints, policy, prober, ScanSettings(concurrency=2, rate_per_server=3))
    assert busiest_second(prober.gate_times) <= 3
