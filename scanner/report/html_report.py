"""The HTML report (`reports/verify-all.html`): one self-contained page, jinja2 with autoescaping on.

Everything that came from outside (host names, reasons, server answers) reaches the page only through
autoescaped template variables.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from scanner import catalog, moves
from scanner.document import encode
from scanner.findings import UNPROBED
from scanner.models import EndpointFinding, EndpointStatus, HistoryPoint, VerifyAllReport
from scanner.naming import policy_spelling
from scanner.report.text import count
from scanner.report.view import address, change_value, client_certificate_text, grade, hover_text, iana, jsse, strength

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup


@cache
def environment() -> jinja2.Environment:
    """The one jinja2 environment (autoescaping on) every HTML report renders with; made at the first report,
    not at start-up (a command that writes none does not pay for jinja2)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scanner.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["jsse"] = jsse
    env.filters["iana"] = iana
    env.filters["strength"] = strength
    env.filters["grade"] = grade
    env.filters["count"] = count
    env.filters["wbr"] = wbr
    env.filters["client_certificate"] = client_certificate_text
    env.filters["change_value"] = change_value
    env.globals["CSP"] = _csp(env)
    return env


def wbr(text: str) -> Markup:
    """`text` escaped, with a line-break opportunity after every underscore: a long suite name wraps there, never
    inside a word."""
    from markupsafe import Markup, escape

    return Markup("_<wbr>").join(escape(part) for part in text.split("_"))


_STATUS_LABEL = {
    EndpointStatus.OK: "OK",
    EndpointStatus.NO_COMMON_SUITE: "No common suite",
    EndpointStatus.NO_TLS12: "No TLS 1.2",
    EndpointStatus.UNREACHABLE: "Unreachable",
    EndpointStatus.DNS_ERROR: "DNS error",
    EndpointStatus.TIMEOUT: "Timeout",
    EndpointStatus.TLS_ERROR: "TLS error",
    EndpointStatus.INTERNAL_ERROR: "tlsverify error",
}


def _suite_rows(report: VerifyAllReport, list_name: str, since: str) -> list[dict[str, Any]]:
    by_id = {f.endpoint.id: f for f in report.findings}
    rows = []
    for s in report.suites:
        if s.list != list_name:
            continue
        ids = s.negotiated_by if list_name == "selected" else s.required_by
        addresses = [address(by_id[i]) if i in by_id else i for i in ids]  # the period's: some not in this run
        verb = "have negotiated" if list_name == "selected" else "needed (and failed without)"
        rows.append(
            {
                "iana": s.name,
                "position": s.position,
                "strength": s.strength,
                "legacy": s.legacy,
                "used": bool(ids),
                "hover": hover_text(len(ids), verb, f"since {since}", addresses) if ids else "",
                "mark": "",
            }
        )
    return rows


def _required(report: VerifyAllReport, moved: set[str]) -> list[dict[str, Any]]:
    """Required Disabled suites, each with the endpoints for which it is the strongest rescue."""
    rescues: dict[str, list[str]] = {}
    for f in report.findings:
        if f.rescue:
            rescues.setdefault(f.rescue, []).append(f.endpoint.id)
    # This run's needs (the suites' required_by is the whole period's: the asterisks, not what to do now).
    needing = {s.name: [f.endpoint.id for f in report.findings if s.name in f.required_disabled] for s in report.suites}
    return [
        {"name": s.name, "endpoints": needing[s.name], "rescues": rescues.get(s.name, []), "moved": s.name in moved}
        for s in report.suites
        if needing[s.name]
    ]


# Status order for sorting: the worst first.
_RANK = {
    EndpointStatus.NO_COMMON_SUITE: 1,
    EndpointStatus.NO_TLS12: 2,
    EndpointStatus.TLS_ERROR: 3,
    EndpointStatus.INTERNAL_ERROR: 4,
    EndpointStatus.UNREACHABLE: 5,
    EndpointStatus.DNS_ERROR: 6,
    EndpointStatus.TIMEOUT: 7,
    EndpointStatus.OK: 9,
}


def _group(f: EndpointFinding) -> str:
    """ "ok" (the client connects), "unprobed" (the network kept the probe from the server) or "fail"."""
    return "ok" if f.connects else "unprobed" if f.probe.status in UNPROBED else "fail"


def _endpoint_row(f: EndpointFinding, fields: dict[str, Any]) -> dict[str, Any]:
    label = _STATUS_LABEL[f.probe.status]
    status = f.probe.status.value
    rank = _RANK[f.probe.status]
    if f.probe.status is EndpointStatus.OK and not f.connects:
        label, status, rank = "Certificate refused", "certificate_refused", 8
    group = _group(f)
    kind = {"ok": "ok", "unprobed": "warn", "fail": "bad"}[group]
    return {"address": address(f), "label": label, "kind": kind, "tags": f"{group} {status}", "rank": rank, **fields}


def _status_options(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """The status filter's choices: the three groups, then each status present."""
    options = [("fail", "fail under the policy"), ("unprobed", "could not be probed"), ("ok", "connect")]
    seen = {r["tags"].split()[1]: r["label"] for r in sorted(rows, key=lambda r: r["rank"])}
    return options + [(status, label) for status, label in seen.items()]


_CELLS = {
    "negotiated": ("neg", "negotiated"),
    "accepted": ("acc", "accepted"),
    "required": ("req", "required: one of the suites this endpoint needs in Selected"),
    "other": ("(acc)", "accepted only from another client's hello"),
    "": ("", ""),  # not accepted: an empty cell (the legend says so), small on a site of a thousand endpoints
}


def _grid(
    report: VerifyAllReport,
    fewest: moves.FewestMoves,
    labels: dict[str, dict[str, Any]],
    shipped: Collection[str] | None,
) -> dict[str, Any] | None:
    """The endpoint x suite grid: a column for each TLS 1.2 suite an endpoint accepts, Selected (in order),
    then Disabled, then those in neither list and those the release does not ship (strongest first); a cell says
    what the suite is to the endpoint."""
    policy = report.policy
    accepted = {s for f in report.findings for s in f.probe.accepted_tls12}
    if not accepted:
        return None
    listed = set(policy.selected) | set(policy.disabled)
    unlisted = catalog.strongest_first(s for s in accepted if s not in listed)
    groups = [
        ("Selected", [s for s in policy.selected if s in accepted]),
        ("Disabled", [s for s in policy.disabled if s in accepted]),
        ("In neither list", [s for s in unlisted if shipped is None or s in shipped]),
        (f"Not in release {policy.release}", [s for s in unlisted if shipped is not None and s not in shipped]),
    ]
    moved = {m.suite for m in fewest.moves}
    columns = [{"name": s, "moved": s in moved} for _, names in groups for s in names]
    rows = []
    for f in report.findings:
        probe, row = f.probe, labels[f.endpoint.id]
        head = {"id": f.endpoint.id, "label": row["label"], "kind": row["kind"]}
        if not probe.accepted_tls12:
            rows.append({**head, "cells": None, "why": probe.reason or "no TLS 1.2 suite known"})
            continue
        needs = fewest.options.get(f.endpoint.id, {})  # what the moves were chosen from, not worked out again
        other = set(probe.accepted_other_hello)
        cells = []
        for column in columns:
            name = column["name"]
            state = (
                "negotiated"
                if name == probe.negotiated
                else "required"
                if name in needs
                else "other"
                if name in other
                else "accepted"
                if name in probe.accepted_tls12
                else ""
            )
            mark, words = _CELLS[state]
            css = f"cell-{state}" + (" mv" if state == "required" and column["moved"] else "") if state else ""
            cells.append({"css": css, "mark": mark, "words": words})
        rows.append({**head, "cells": cells, "why": ""})
    return {
        "groups": [{"label": label, "span": len(names)} for label, names in groups if names],
        "columns": columns,
        "rows": rows,
    }


def _history_chart(history: Sequence[HistoryPoint]) -> dict[str, Any] | None:
    """The picture of recent runs, as shapes for an inline SVG: per run a bar of the endpoints that connect
    (green) under those that fail (red), and a mark above a run that changed something."""
    points = list(history)[-30:]
    if not points:
        return None
    tallest = max(p.connect + p.failing for p in points) or 1
    width, height, gap = 14, 60, 4
    bars = []
    for index, p in enumerate(points):
        x = index * (width + gap)
        # Any endpoint at all shows: one failing among a thousand is not rounded away.
        failing_h = max(2, round(height * p.failing / tallest)) if p.failing else 0
        connect_h = max(2, round(height * p.connect / tallest)) if p.connect else 0
        changes = "not compared" if p.changes is None else f"{p.changes} changes"
        changes += ("" if p.complete else ", incomplete") + (", some endpoints" if p.partial else "")
        bars.append(
            {
                "x": x,
                "connect_y": 12 + height - connect_h - failing_h,
                "connect_h": connect_h,
                "failing_y": 12 + height - failing_h,
                "failing_h": failing_h,
                "changed": bool(p.changes),
                "incomplete": not p.complete,
                "title": (
                    f"run {p.run_id}, {p.generated_at.strftime('%Y-%m-%d %H:%M')}: {p.connect} connect, "
                    f"{p.failing} fail, {changes}"
                ),
            }
        )
    return {"bars": bars, "width": len(points) * (width + gap), "height": height + 14, "bar": width}


CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script}'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
"""What a report page may load and run: its own style and its one inline script (by hash), nothing from
anywhere. A page that can make no request cannot leak the internal host names it lists, even if a server's
text ever slipped past the escaping."""


def _csp(env: jinja2.Environment) -> str:
    """The policy for the pages' one script (script.js.j2, static: the same bytes in every page)."""
    import base64
    import hashlib

    script = env.get_template("script.js.j2").render()
    return CSP.format(script=base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii"))


def render(
    report: VerifyAllReport, history: Sequence[HistoryPoint] = (), shipped: Collection[str] | None = None
) -> str:
    """The whole page as a string; `history` (the runs up to this one, oldest first) draws recent runs;
    `shipped` (the suites the policy's release ships, where known) keeps suites the admin cannot select out of
    the fewest moves."""
    start = report.usage_period.since if report.usage_period else (report.period_start or report.generated_at)
    since = start.strftime("%Y-%m-%d %H:%M UTC")
    data = encode(report)
    # The JSON document already holds every endpoint's fields: built once, filtered for each section.
    rows = [_endpoint_row(f, fields) for f, fields in zip(report.findings, data["endpoints"], strict=True)]
    without = set(data["without_tls12"])
    fewest = moves.for_findings(report.policy, report.findings, shipped)
    groups = [_group(f) for f in report.findings]
    template = environment().get_template("verify_all.html.j2")
    return template.render(
        report=data,
        since=since,
        generated=report.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        spelled=policy_spelling(report.policy),
        verdict={"total": len(groups), "failing": groups.count("fail"), "unprobed": groups.count("unprobed")},
        moves=fewest,
        selected=_suite_rows(report, "selected", since),
        disabled=_suite_rows(report, "disabled", since),
        required=_required(report, {m.suite for m in fewest.moves}),
        unused=list(report.unused_selected),
        no_tls12=[r for r in rows if r["id"] in without],
        failing=sorted((r for r in rows if not r["connects"]), key=lambda r: (r["kind"] == "warn", r["id"])),
        expiring=[r for r in rows if r["certificate_warnings"]],
        endpoints=rows,
        status_options=_status_options(rows),
        grid=_grid(report, fewest, {r["id"]: r for r in rows}, shipped),
        chart=_history_chart(history),
        changes=data["drift"]["changes"] if data["drift"] else [],
        previous_run=data["drift"]["previous_run"] if data["drift"] else None,
    )
