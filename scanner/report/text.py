"""The terminal summary printed after a run, and the progress line printed during one."""

from __future__ import annotations

from scanner.models import EndpointStatus, VerifyAllReport
from scanner.report.view import client_certificate_text, jsse


def progress_bar(done: int, total: int, width: int = 30) -> str:
    """`[#########.........]  9/30` for a carriage-return progress line."""
    filled = int(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def summary(report: VerifyAllReport) -> str:
    """A few lines: one per endpoint that needs attention, then the totals."""
    lines = []
    width = max((len(f.endpoint.id) for f in report.findings), default=10)
    for f in report.findings:
        p = f.probe
        mark = "ok " if p.status is EndpointStatus.OK else "!! "
        detail = jsse(p.negotiated) if p.negotiated else (p.reason or "")
        lines.append(f"{mark}{f.endpoint.id:<{width}}  {p.status.value:<15}  {detail}")
        if p.evidence:
            lines.append(f"   {'':<{width}}  evidence: {p.evidence}")
        if p.client_certificate:
            lines.append(f"   {'':<{width}}  {client_certificate_text(p.client_certificate)}")
        if f.required_disabled:
            lines.append(f"   {'':<{width}}  needs Disabled: {', '.join(jsse(n) for n in f.required_disabled)}")
        if f.accepted_unlisted and not f.required_disabled:
            names = ", ".join(jsse(n) for n in f.accepted_unlisted)
            lines.append(f"   {'':<{width}}  accepts only suites in neither list: {names}")
    ok = sum(1 for f in report.findings if f.probe.status is EndpointStatus.OK)
    required = [s for s in report.suites if s.required_by]
    lines.append("")
    lines.append(
        f"{ok}/{len(report.findings)} endpoints connect under the policy; "
        f"{len(required)} Disabled suites required; {len(report.unused_selected)} Selected suites unused."
    )
    if not report.complete:
        lines.append("The run was interrupted: the results above are incomplete.")
    return "\n".join(lines)
