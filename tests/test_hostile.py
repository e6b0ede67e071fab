"""Hostile servers: each becomes a result with a reason, and the run ends on its own."""

from __future__ import annotations

import asyncio
import threading

from scanner.lab.hostile import DribbleServer
from scanner.lab.servers import Lab
from scanner.models import EndpointStatus, Policy, ProbeResult
from scanner.probe.prober import SslyzeProber
from scanner.scan import ScanSettings, scan
from tests.conftest import endpoint


def test_a_server_that_dribbles_bytes_cannot_hold_the_run(lab: Lab, policy: Policy) -> None:
    server = lab.add(DribbleServer("dribble", interval_s=0.2))
    endpoints = [endpoint("dribble", server.port)]
    results: list[ProbeResult] = []

    def run() -> None:
        settings = ScanSettings(concurrency=2, rate=100, deadline_s=4)
        results.extend(asyncio.run(scan(endpoints, policy, SslyzeProber(timeout_s=1), settings)))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=120)  # a hang detector, not a speed target: the bound is far above the deadline
    assert not worker.is_alive(), "scan() did not return: a dribbling server held it"
    (result,) = results
    assert result.status is EndpointStatus.TIMEOUT
    assert result.reason is not None
    assert "too slowly" in result.reason or "deadline" in result.reason
