"""The view-model shared by the formatters: plain dicts and strings derived from a VerifyAllReport."""

from __future__ import annotations

from typing import Any

from scanner import catalog
from scanner.analysis import without_tls12
from scanner.models import (
    Endpoint,
    EndpointFinding,
    EndpointStatus,
    Policy,
    ProbeMode,
    ProbeResult,
    Protocol,
    TlsVersion,
    VerifyAllReport,
)

SCHEMA = "tlsverify/verify-all/1"


def address(f: EndpointFinding) -> str:
    """host/ip:port, as the vendor's hover text shows an endpoint."""
    ip = f.probe.ip or f.endpoint.ip
    return f"{f.endpoint.host}/{ip}:{f.endpoint.port}" if ip else f"{f.endpoint.host}:{f.endpoint.port}"


def endpoint_dict(f: EndpointFinding) -> dict[str, Any]:
    p, e = f.probe, f.endpoint
    return {
        "id": e.id,
        "name": e.name,
        "category": e.category,
        "host": e.host,
        "port": e.port,
        "protocol": e.protocol.value,
        "sni": e.server_name,
        "ip": p.ip,
        "status": p.status.value,
        "reason": p.reason,
        "tls_versions": [v.value for v in p.tls_versions],
        "accepted_tls12": list(p.accepted_tls12),
        "server_preference": p.server_preference,
        "negotiated": p.negotiated,
        "required_disabled": list(f.required_disabled),
        "rescue_suite": f.rescue,
        "accepted_unlisted": list(f.accepted_unlisted),
        "advice": f.advice,
        "connections": p.connections,
        "duration_s": p.duration_s,
        "mode": p.mode.value,
        "notes": list(p.notes),
        "evidence": p.evidence,
    }


def policy_dict(policy: Policy) -> dict[str, Any]:
    """A policy as JSON: release, Selected protocols, Selected (in order) and Disabled IANA names."""
    return {
        "release": policy.release,
        "protocols": [v.value for v in policy.protocols_selected],
        "selected": list(policy.selected),
        "disabled": list(policy.disabled),
        "client": policy.client,
    }


def report_dict(report: VerifyAllReport) -> dict[str, Any]:
    """The JSON document; the names in the issue's schema are a contract, the rest is extra."""
    counts: dict[str, int] = {s.value: 0 for s in EndpointStatus}
    for f in report.findings:
        counts[f.probe.status.value] += 1
    return {
        "schema": SCHEMA,
        "generated_at": report.generated_at.isoformat(),
        "complete": report.complete,
        "usage_period_start": (report.period_start or report.generated_at).isoformat(),
        "run_id": report.run_id,
        "policy": policy_dict(report.policy),
        "summary": {"endpoints": len(report.findings), **counts},
        "endpoints": [endpoint_dict(f) for f in report.findings],
        "suites": [
            {
                "name": s.name,
                "jsse_name": s.jsse_name,
                "list": s.list,
                "position": s.position,
                "strength": s.strength,
                "negotiated_by": list(s.negotiated_by),
                "required_by": list(s.required_by),
                "legacy": s.legacy,
            }
            for s in report.suites
        ],
        "unused_selected": list(report.unused_selected),
        "without_tls12": [f.endpoint.id for f in without_tls12(report)],
    }


def hover_text(count: int, verb: str, since: str, addresses: list[str]) -> str:
    """The vendor's hover wording: 'N endpoints have negotiated this cipher since DATE · Endpoints: ...'."""
    return f"{count} endpoints {verb} this cipher since {since} · Endpoints: {' '.join(addresses)}"


def jsse(name: str) -> str:
    return catalog.resolve(name).jsse_name


def policy_from_dict(data: dict[str, Any]) -> Policy:
    """The inverse of policy_dict."""
    return Policy(
        release=str(data["release"]),
        protocols_selected=tuple(TlsVersion(v) for v in data.get("protocols", ["TLSv1.2"])),
        protocols_disabled=(),
        selected=tuple(data["selected"]),
        disabled=tuple(data["disabled"]),
        client=str(data.get("client", "jsse-17")),
    )


def scan_from_report(document: dict[str, Any]) -> list[tuple[Endpoint, ProbeResult]]:
    """The endpoints and probe results of a stored verify-all document (the inverse of endpoint_dict)."""
    scanned = []
    for e in document["endpoints"]:
        endpoint = Endpoint(
            id=e["id"],
            name=e.get("name") or e["id"],
            category=e.get("category", "other"),
            host=e["host"],
            port=int(e["port"]),
            protocol=Protocol(e.get("protocol", "https")),
            sni=e.get("sni") if e.get("sni") != e["host"] else None,
            ip=e.get("ip"),
        )
        probe = ProbeResult(
            endpoint_id=e["id"],
            status=EndpointStatus(e["status"]),
            reason=e.get("reason"),
            ip=e.get("ip"),
            tls_versions=tuple(TlsVersion(v) for v in e.get("tls_versions", [])),
            accepted_tls12=tuple(e.get("accepted_tls12", [])),
            server_preference=e.get("server_preference"),
            negotiated=e.get("negotiated"),
            connections=int(e.get("connections", 0)),
            duration_s=float(e.get("duration_s", 0.0)),
            mode=ProbeMode(e.get("mode", ProbeMode.ELIMINATION.value)),
            notes=tuple(e.get("notes", [])),
            evidence=e.get("evidence"),
        )
        scanned.append((endpoint, probe))
    return scanned
