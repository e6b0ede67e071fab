"""Async fan-out over endpoints: a semaphore bounds concurrency, asyncio-throttle Throttlers bound new
connections per second to each destination (and, optionally, all together), and each endpoint has a deadline.

Politeness is owed to each server, not to the sum of them: each destination (a server's address and port, or
the proxy for endpoints behind one) has its own limit, a sliding window of `rate_per_server` connections in
any second, which is also the burst one endpoint's probe can use at full speed. `rate`, off by default, caps
all new connections together, for the client's own network.

The prober is blocking (sslyze), so it runs in a bounded thread pool, never on the event loop. Before each
connection the prober calls a gate, which waits in that worker thread until the limits have room (no round
trip to the scan's loop: that cost 0.4 s of a 200-server scan), raises DeadlineExceeded once the endpoint's
time is up, and otherwise returns the seconds left, which the prober uses as a hard wall-clock limit on that
connection. The deadline clock starts when a worker picks the endpoint up, not when it is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from asyncio_throttle.throttler import Throttler

from scanner.models import Endpoint, EndpointStatus, Policy, ProbeResult
from scanner.probe.contract import DeadlineExceeded, Gate, Prober

CONCURRENCY = 64
"""Endpoints probed at once by default, measured (docs/benchmarks.md): over a WAN a probe mostly waits, and 8
at once took 2.8 times as long; on loopback 8 are up to 20% faster (64 threads contend for the GIL)."""

RATE_PER_SERVER = 40.0
"""New connections a second to one destination by default: as many as one endpoint's whole probe makes
(accepted + 10) for a server of up to 30 accepted suites, so such a probe runs in one burst (two endpoints on
one server share it)."""


@dataclass(frozen=True)
class ScanSettings:
    """The knobs of a run: endpoints at once, new connections per second to one destination and (if set)
    to all together, seconds per endpoint."""

    concurrency: int = CONCURRENCY
    rate: float | None = None
    rate_per_server: float = RATE_PER_SERVER
    deadline_s: float = 120.0


Progress = Callable[[ProbeResult], None]
Connected = Callable[[str], None]
"""Called from a worker thread as an endpoint's probe opens a connection (its id), for a live progress bar."""


_JITTER = 1.05
"""The window is 5% longer than asked, so a connection that takes a few milliseconds longer to arrive than
the one before it never puts rate + 1 connections in a second as the server counts them."""


def pacing(rate: float) -> tuple[int, float]:
    """Connections per period for a rate a second. A whole rate is that many in any second. Throttler counts
    whole connections, so a fractional rate is spread evenly instead (1.9 a second is one every 0.53 s: never
    more than 2 in a second, 1.9 a second over time), not rounded down and not allowed in bursts of 19."""
    if rate >= 1 and float(rate).is_integer():
        return int(rate), 1.0
    return 1, 1.0 / rate


async def _server_address(
    loop: asyncio.AbstractEventLoop, endpoint: Endpoint, limit_s: float, pool: ThreadPoolExecutor
) -> tuple[str, str | None]:
    """The server an endpoint is, however it is spelled (`localhost`, `LOCALHOST.`, `127.0.0.1` and
    `::ffff:127.0.0.1` are one server): the key for its lock, and the address a name resolved to (the
    probe dials it, so the name is looked up once), or None (an address given, or no answer: the probe
    tries, and reports why)."""
    literal = _address(endpoint.ip or endpoint.host)
    if literal is not None:
        return literal, None
    name = endpoint.host.strip().rstrip(".").lower()
    if name.endswith(".invalid") or endpoint.proxy is not None:  # behind a proxy, the proxy looks names up
        return name, None
    try:
        # In the scan's own pool, which is never waited for: a resolver that hangs cannot hold the run.
        lookup = functools.partial(socket.getaddrinfo, name, endpoint.port, type=socket.SOCK_STREAM)
        infos = await asyncio.wait_for(loop.run_in_executor(pool, lookup), min(limit_s, 10))
    except (OSError, UnicodeError, TimeoutError):
        return name, None
    ipv4 = [info for info in infos if info[0] == socket.AF_INET]
    resolved = str((ipv4 or infos)[0][4][0])
    return _address(resolved) or name, resolved


def _host_key(host: str) -> str:
    """A host however it is spelled: an address in its one form, a name without case or trailing dot."""
    return _address(host) or host.strip().rstrip(".").lower()


def _address(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def every_address(endpoints: Sequence[Endpoint]) -> list[Endpoint]:
    """--all-addresses: each endpoint reached by a name (no `ip`, no proxy) becomes one endpoint per A and
    AAAA address of the name, with the id `ID@ADDRESS`; a name with one address, or none (the probe then
    reports why), stays as it is."""
    expanded: list[Endpoint] = []
    for endpoint in endpoints:
        addresses: list[str] = []
        if endpoint.ip is None and endpoint.proxy is None and _address(endpoint.host) is None:
            try:
                infos = socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError):
                infos = []
            addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if len(addresses) < 2:
            expanded.append(endpoint)
            continue
        expanded += [
            replace(endpoint, id=f"{endpoint.id}@{address}", ip=address, address_of=endpoint.id)
            for address in addresses
        ]
    return expanded


async def scan(
    endpoints: Sequence[Endpoint],
    policy: Policy,
    prober: Prober,
    settings: ScanSettings,
    progress: Progress | None = None,
    connected: Connected | None = None,
) -> list[ProbeResult]:
    """Probe every endpoint; results come back in the order of `endpoints`, each a value, never an error."""
    loop = asyncio.get_running_loop()
    overall = Window(settings.rate) if settings.rate is not None else None
    destinations: dict[tuple[str, int], Window] = {}
    semaphore = asyncio.Semaphore(settings.concurrency)
    # Two endpoints on one server (same address and port) are probed one after the other: servers such
    # as `openssl s_server` serve one connection at a time and stall when a second one arrives.
    server_locks: dict[tuple[str, int], asyncio.Lock] = {}

    def windows(destination: tuple[str, int]) -> tuple[Window, ...]:
        own = destinations.setdefault(destination, Window(settings.rate_per_server))
        return (own,) if overall is None else (own, overall)

    pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="tlsverify-probe")
    try:

        def work(endpoint: Endpoint, limits: tuple[Window, ...], started: list[float]) -> ProbeResult:
            started.append(time.monotonic())
            hook = functools.partial(connected, endpoint.id) if connected is not None else None
            return prober.probe(endpoint, policy, _gate(limits, started[0], settings.deadline_s, hook))

        async def one(endpoint: Endpoint) -> ProbeResult:
            address, resolved = await _server_address(loop, endpoint, settings.deadline_s, pool)
            key = (address, endpoint.port)
            # Behind a proxy every connection is one to the proxy: it is the destination to be polite to.
            proxy = endpoint.proxy
            limits = windows((_host_key(proxy.host), proxy.port) if proxy is not None else key)
            dialled = replace(endpoint, ip=resolved) if resolved else endpoint
            lock = server_locks.setdefault(key, asyncio.Lock())
            async with lock, semaphore:
                started = time.monotonic()
                try:
                    # The prober keeps its own deadline; this outer bound only catches a prober that does not.
                    # Its clock starts when a worker takes the endpoint, not while it waits for one.
                    worker_started: list[float] = []
                    future = loop.run_in_executor(pool, work, dialled, limits, worker_started)
                    result = await _bounded(future, worker_started, 2 * settings.deadline_s + 30)
                except TimeoutError:
                    result = _failed(
                        endpoint,
                        EndpointStatus.TIMEOUT,
                        f"no result within the endpoint deadline of {settings.deadline_s:g} s",
                        started,
                    )
                except DeadlineExceeded as exc:
                    result = _failed(endpoint, EndpointStatus.TIMEOUT, str(exc), started)
                except Exception as exc:
                    result = _failed(
                        endpoint,
                        EndpointStatus.INTERNAL_ERROR,
                        f"internal error while probing: {type(exc).__name__}: {exc}",
                        started,
                    )
                if progress is not None:
                    progress(result)
                return result

        return list(await asyncio.gather(*(one(e) for e in endpoints)))
    finally:
        # Never wait here for a worker stuck past its deadline: its result was already replaced.
        pool.shutdown(wait=False, cancel_futures=True)


async def _bounded(future: asyncio.Future[ProbeResult], started: list[float], limit_s: float) -> ProbeResult:
    """The future's result, or TimeoutError once it has run `limit_s` seconds since `started` was set."""
    while True:
        done, _ = await asyncio.wait({future}, timeout=0.5)
        if done:
            return future.result()
        if started and time.monotonic() - started[0] > limit_s:
            raise TimeoutError


def _failed(endpoint: Endpoint, status: EndpointStatus, reason: str, started: float) -> ProbeResult:
    return ProbeResult(endpoint.id, status, reason, duration_s=round(time.monotonic() - started, 3))


def _gate(
    limits: Sequence[Window], started: float, deadline_s: float, connected: Callable[[], None] | None = None
) -> Gate:
    def gate() -> float:
        while True:
            remaining = deadline_s - (time.monotonic() - started)
            if remaining <= 0:
                raise DeadlineExceeded(f"endpoint deadline of {deadline_s:g} s exceeded")
            if Window.take_together(limits):
                if connected is not None:
                    connected()
                return max(0.001, deadline_s - (time.monotonic() - started))
            if remaining <= _RETRY_S:
                raise DeadlineExceeded(f"endpoint deadline of {deadline_s:g} s exceeded waiting for the rate limit")
            time.sleep(_RETRY_S)

    return gate


_RETRY_S = 0.01
"""How often a connection held back by a limit looks again (asyncio-throttle's own retry interval)."""


class Window(Throttler):
    """asyncio-throttle's sliding window (at most `rate_limit` connections in any `period`), taken from the
    worker thread about to connect. A connection needs room in two windows at once when `--rate` is set (its
    server's and all servers'): Throttler can only wait and take, and a slot taken in one window while
    waiting for the other would be dated before its connection, so the windows are looked at together,
    under their locks in a fixed order, and a slot is taken in each only when all have room."""

    def __init__(self, rate: float) -> None:
        limit, period = pacing(rate)
        super().__init__(rate_limit=limit, period=period * _JITTER, retry_interval=_RETRY_S)
        self.lock = threading.Lock()

    def room(self) -> bool:
        self.flush()  # type: ignore[no-untyped-call]  # the library's method has no annotations
        return len(self._task_logs) < self.rate_limit

    def take(self) -> None:
        self._task_logs.append(time.monotonic())

    @staticmethod
    def take_together(windows: Sequence[Window]) -> bool:
        """One slot in every window, all dated now, if every one has room; False, taking none, if not."""
        with contextlib.ExitStack() as held:
            for window in windows:  # always the server's, then all servers': no two threads wait on each other
                held.enter_context(window.lock)
            if not all(window.room() for window in windows):
                return False
            for window in windows:
                window.take()
            return True
