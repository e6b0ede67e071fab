"""The impact reports: `reports/impact.json`, `reports/impact.html` and the terminal summary."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from scanner import catalog
from scanner.impact import EndpointImpact, ImpactReport, ImpactStatus
from scanner.policy import diff
from scanner.report.html_report import environment
from scanner.report.text import count

SCHEMA = "tlsverify/impact/1"


def _lists(policy: Any) -> dict[str, Any]:
    return {"release": policy.release, "selected": list(policy.selected), "disabled": list(policy.disabled)}


def _endpoint(row: EndpointImpact) -> dict[str, Any]:
    e = row.endpoint
    return {
        "id": e.id,
        "host": e.host,
        "port": e.port,
        "ip": e.ip,
        "before": row.before,
        "after": row.after,
        "status": row.status.value,
        "reason": row.reason,
        "rescue_suites": [r.suite for r in row.rescue],
        "rescue": [
            {"suite": r.suite, "jsse_name": catalog.resolve(r.suite).jsse_name, "list": r.where} for r in row.rescue
        ],
        "verified": row.verified,
        "verified_suite": row.verified_suite,
        "verify_note": row.verify_note,
        "fails_after": row.after is None and row.status is not ImpactStatus.UNKNOWN,
    }


def document(report: ImpactReport, generated_at: datetime) -> dict[str, Any]:
    counts = {s.value: sum(1 for e in report.endpoints if e.status is s) for s in ImpactStatus}
    return {
        "schema": SCHEMA,
        "generated_at": generated_at.isoformat(),
        "change": report.change,
        "scan_generated_at": report.scan_time,
        "before": _lists(report.before),
        "after": _lists(report.after),
        "summary": {"endpoints": len(report.endpoints), **counts, "mismatches": len(report.mismatches)},
        "notes": list(report.notes),
        "endpoints": [_endpoint(row) for row in report.endpoints],
    }


def render_json(report: ImpactReport, generated_at: datetime) -> str:
    return json.dumps(document(report, generated_at), indent=2, ensure_ascii=False) + "\n"


def render_html(report: ImpactReport, generated_at: datetime) -> str:
    change = diff(report.before, report.after)
    jsse = {
        n: catalog.resolve(n).jsse_name
        for n in (*report.before.selected, *report.after.selected, *report.before.disabled, *report.after.disabled)
    }
    return (
        environment()
        .get_template("impact.html.j2")
        .render(
            doc=document(report, generated_at),
            generated=generated_at.strftime("%Y-%m-%d %H:%M UTC"),
            diff=change,
            jsse=jsse,
        )
    )


def summary(report: ImpactReport) -> str:
    lines = [f"Impact of {report.change} (scan of {report.scan_time}):"]
    lines += [f"note: {n}" for n in report.notes]
    width = max((len(r.endpoint.id) for r in report.endpoints), default=8)
    for row in report.endpoints:
        mark = "!! " if row.status is ImpactStatus.BREAKS or row.verified is False else "   "
        lines.append(f"{mark}{row.endpoint.id:<{width}}  {row.status.value:<9}  {row.reason}")
        if row.rescue and row.status is ImpactStatus.BREAKS:
            rescue = ", ".join(f"{catalog.resolve(r.suite).jsse_name} ({r.where})" for r in row.rescue[:3])
            lines.append(f"   {'':<{width}}  rescued by: {rescue}")
        if row.verified is not None:
            outcome = (
                "confirmed" if row.verified else f"MISMATCH: the real handshake gave {row.verified_suite or 'no suite'}"
            )
            lines.append(f"   {'':<{width}}  handshake: {outcome}{f' ({row.verify_note})' if row.verify_note else ''}")
        elif row.verify_note and row.status is not ImpactStatus.UNKNOWN:
            lines.append(f"   {'':<{width}}  handshake: {row.verify_note}")
    counts = {s: sum(1 for e in report.endpoints if e.status is s) for s in ImpactStatus}
    lines.append("")
    tail = (
        f"; {count(len(report.mismatches), 'prediction')} contradicted by a real handshake" if report.mismatches else ""
    )
    if report.unchecked:
        tail += f"; {count(len(report.unchecked), 'prediction')} could not be checked by a real handshake"
    lines.append(", ".join(f"{n} {s.value}" for s, n in counts.items()) + tail)
    return "\n".join(lines)
