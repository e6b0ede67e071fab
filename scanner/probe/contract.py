"""What the scanner and the probes share, with no sslyze in it: where a probe connects, how long it may
take, and the interface a prober offers the scanner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from scanner.models import Endpoint, Policy, ProbeResult


@dataclass(frozen=True)
class Target:
    """Where and how to connect: the address to dial, the port and the SNI name."""

    ip: str
    port: int
    server_name: str
    timeout_s: float

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


class Prober(Protocol):
    """What the scanner needs from a prober; a fake one implements this in orchestration tests."""

    def probe(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult: ...
