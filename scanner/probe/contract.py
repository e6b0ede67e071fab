"""What the scanner and the probes share, with no sslyze in it: where a probe connects, how long it may
take, and the interface a prober offers the scanner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol as Interface

from scanner.models import Endpoint, Policy, ProbeResult, Protocol, Proxy, host_port


@dataclass(frozen=True)
class Target:
    """Where and how to connect: the address to dial (behind a proxy, the host or address the proxy is asked
    to connect to), the port, the SNI name, and the way to the TLS layer (the protocol's STARTTLS exchange,
    the proxy)."""

    ip: str
    port: int
    server_name: str
    timeout_s: float
    protocol: Protocol = Protocol.TLS
    proxy: Proxy | None = None

    @property
    def address(self) -> str:
        """`ip:port` (`[ip]:port` for IPv6), as messages show it."""
        return host_port(self.ip, self.port)

    @property
    def connection_limit_s(self) -> float:
        """Wall-clock bound on one whole connection: a read timeout alone lets a server that dribbles a
        byte at a time keep a handshake alive for ever."""
        return 2 * self.timeout_s


class DeadlineExceeded(Exception):
    """The endpoint's time budget ran out before the next connection."""


Gate = Callable[[], float | None]
"""Called before every new connection: waits for the rate limiter and returns the seconds left before the
endpoint's deadline (None: no deadline); raises DeadlineExceeded when none are left."""


class Prober(Interface):
    """What the scanner needs from a prober; a fake one implements this in orchestration tests."""

    def probe(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult: ...
