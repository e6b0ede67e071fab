"""sslyze's own TLS 1.2 cipher suite scan (one handshake per suite), for `--exhaustive` and cross-checks.

sslyze opens these connections itself: they pass our rate limiter once as a whole, not one by one, and are
bounded by sslyze's own timeouts rather than the endpoint deadline. It is a cross-check mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from sslyze.plugins.scan_commands import ScanCommand
from sslyze.scanner.models import ServerScanRequest, ServerScanStatusEnum
from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum
from sslyze.scanner.scanner import Scanner

from scanner import catalog
from scanner.probe.contract import Target
from scanner.probe.handshake import sslyze_settings


@dataclass(frozen=True)
class ExhaustiveScan:
    """What sslyze's scan found: accepted suites (code points) and the handshakes it spent."""

    accepted: tuple[int, ...]
    connections: int
    error: str | None = None


def sslyze_tls12_scan(target: Target) -> ExhaustiveScan:
    """Run sslyze's TLS 1.2 suite scan against one target, one connection at a time."""
    location, network = sslyze_settings(target)
    scanner = Scanner(per_server_concurrent_connections_limit=1, concurrent_server_scans_limit=1)
    scanner.queue_scans(
        [
            ServerScanRequest(
                server_location=location,
                network_configuration=network,
                scan_commands={ScanCommand.TLS_1_2_CIPHER_SUITES},
            )
        ]
    )
    for result in scanner.get_results():
        if result.scan_status != ServerScanStatusEnum.COMPLETED:
            error = result.connectivity_error_trace
            return ExhaustiveScan((), 0, f"sslyze could not connect: {error}")
        attempt = result.scan_result.tls_1_2_cipher_suites if result.scan_result else None
        if attempt is None or attempt.status != ScanCommandAttemptStatusEnum.COMPLETED or not attempt.result:
            reason = attempt.error_reason if attempt is not None else "no result"
            return ExhaustiveScan((), 0, f"sslyze TLS 1.2 scan failed: {reason}")
        scan = attempt.result
        found = (catalog.by_openssl_name(a.cipher_suite.openssl_name) for a in scan.accepted_cipher_suites)
        accepted = tuple(suite.code for suite in found if suite is not None)
        tested = len(scan.accepted_cipher_suites) + len(scan.rejected_cipher_suites)
        return ExhaustiveScan(accepted, tested)
    return ExhaustiveScan((), 0, "sslyze returned no result")
