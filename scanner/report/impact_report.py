"""The impact reports: `reports/impact.json` (JSON Schema: `data/schemas/impact-1.json`), `reports/impact.html`
and the terminal summary."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from scanner import catalog, moves, versions
from scanner.document import encode_tool
from scanner.impact import EndpointImpact, ImpactReport, ImpactStatus
from scanner.models import Tool, host_port
from scanner.naming import spelling_of
from scanner.policy import PolicyDiff, diff
from scanner.report.html_report import environment
from scanner.report.text import count
from scanner.report.view import hover_text

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
            {
                "suite": r.suite,
                "code": catalog.resolve(r.suite).code_hex,
                "jsse_name": catalog.resolve(r.suite).jsse_name,
                "list": r.where,
            }
            for r in row.rescue
        ],
        "verified": row.verified,
        "verified_suite": row.verified_suite,
        "verify_note": row.verify_note,
        "fails_after": row.after is None and row.status is not ImpactStatus.UNKNOWN,
    }


def document(report: ImpactReport, generated_at: datetime, tool: Tool | None = None) -> dict[str, Any]:
    """The impact.json document; `tool` is the tlsverify that made the predictions (default: this one)."""
    counts = {s.value: sum(1 for e in report.endpoints if e.status is s) for s in ImpactStatus}
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": encode_tool(tool or versions.current()),
        "generated_at": generated_at.isoformat(),
        "change": report.change,
        "scan_generated_at": report.scan_time,
        "before": _lists(report.before),
        "after": _lists(report.after),
        "summary": {"endpoints": len(report.endpoints), **counts, "mismatches": len(report.mismatches)},
        "notes": list(report.notes),
        "endpoints": [_endpoint(row) for row in report.endpoints],
    }
    doc["suite_codes"] = catalog.code_points(_suite_names(doc))
    return doc


def _suite_names(doc: dict[str, Any]) -> list[str]:
    """Every suite name the document holds: both policies' lists and each endpoint's suites."""
    names = [name for side in ("before", "after") for key in ("selected", "disabled") for name in doc[side][key]]
    for e in doc["endpoints"]:
        names += [e[key] for key in ("before", "after", "verified_suite") if e[key]]
        names += e["rescue_suites"]
    return names


def render_json(report: ImpactReport, generated_at: datetime) -> str:
    return json.dumps(document(report, generated_at), indent=2, ensure_ascii=False) + "\n"


_KIND = {"breaks": "bad", "fixed": "ok", "unchanged": "", "changes": "warn", "unknown": ""}


def _row(row: dict[str, Any]) -> dict[str, Any]:
    """An endpoint's document fields, with its badge and the statuses the filter matches."""
    fails_both = row["fails_after"] and row["status"] == "unchanged"
    tags = row["status"] + (" fails-after" if row["fails_after"] else "")
    label = "fails before and after" if fails_both else row["status"]
    address = host_port(row["host"], row["port"])  # [::1]:443, as the rest of the page writes addresses
    return {
        **row,
        "kind": "bad" if fails_both else _KIND[row["status"]],
        "label": label,
        "tags": tags,
        "address": address,
    }


def _proposed_lists(report: ImpactReport, change: PolicyDiff) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The proposed Selected and Disabled lists, each suite marked with its change and, as the vendor's asterisk,
    the endpoints that would negotiate it (Selected) or fail for want of it (Disabled) after the change."""
    marks = {n: f"new in {lst}" for n, lst in change.added}
    marks |= {n: f"from {a}" for n, a, _ in change.moved}
    marks |= {n: f"rank {a} → {b}" for n, a, b in change.reordered}
    where = {e.endpoint.id: host_port(e.endpoint.host, e.endpoint.port) for e in report.endpoints}
    negotiating = {n: [e.endpoint.id for e in report.endpoints if e.after == n] for n in report.after.selected}
    needing = {
        n: [e.endpoint.id for e in report.endpoints if e.after is None and any(r.suite == n for r in e.rescue)]
        for n in report.after.disabled
    }

    def rows(names: tuple[str, ...], users: dict[str, list[str]], verb: str) -> list[dict[str, Any]]:
        out = []
        for n in names:
            ids = users[n]
            hover = hover_text(len(ids), verb, "after the change", [where[i] for i in ids])
            suite = catalog.resolve(n)
            out.append(
                {
                    "iana": suite.name,
                    "strength": suite.strength.value,
                    "legacy": False,
                    "used": bool(ids),
                    "hover": hover if ids else "",
                    "mark": marks.get(n, ""),
                }
            )
        return out

    return (
        rows(report.after.selected, negotiating, "would negotiate"),
        rows(report.after.disabled, needing, "would need (and fail without)"),
    )


def render_html(report: ImpactReport, generated_at: datetime) -> str:
    """The page: the verdict and the fewest moves that reconnect what fails after the change, then those
    endpoints, the change to the lists, the proposed lists, and every endpoint (sortable, filterable)."""
    change = diff(report.before, report.after)
    doc = document(report, generated_at)
    rows = [_row(r) for r in doc["endpoints"]]
    selected, disabled = _proposed_lists(report, change)
    statuses = [(s.value, s.value) for s in ImpactStatus if any(e.status is s for e in report.endpoints)]
    return (
        environment()
        .get_template("impact.html.j2")
        .render(
            doc=doc,
            generated=generated_at.strftime("%Y-%m-%d %H:%M UTC"),
            diff=change,
            spelled=spelling_of(report.after, report.before),
            moves=moves.for_impact(report),
            breaks=[e.endpoint.id for e in report.breaks],
            already=[r["id"] for r in rows if r["fails_after"] and r["status"] != "breaks"],
            mismatches=[e.endpoint.id for e in report.mismatches],
            endpoints=rows,
            failing=[r for r in rows if r["fails_after"]],
            selected=selected,
            disabled=disabled,
            status_options=[("fails-after", "fail after the change"), *statuses],
        )
    )


def summary(report: ImpactReport) -> str:
    spell = spelling_of(report.after, report.before)  # the terminal's style: the policy files' own spelling
    lines = [f"Impact of {report.change} (scan of {report.scan_time}):"]
    lines += [f"note: {n}" for n in report.notes]
    width = max((len(r.endpoint.id) for r in report.endpoints), default=8)
    for row in report.endpoints:
        mark = "!! " if row.status is ImpactStatus.BREAKS or row.verified is False else "   "
        lines.append(f"{mark}{row.endpoint.id:<{width}}  {row.status.value:<9}  {row.reason}")
        if row.rescue and row.status is ImpactStatus.BREAKS:
            rescue = ", ".join(f"{spell(r.suite)} ({r.where})" for r in row.rescue[:3])
            lines.append(f"   {'':<{width}}  rescued by: {rescue}")
        if row.verified is not None:
            gave = spell(row.verified_suite) if row.verified_suite else "no suite"
            outcome = "confirmed" if row.verified else f"MISMATCH: the real handshake gave {gave}"
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
