"""The terminal summary printed after a run, and the progress line printed during one."""

from __future__ import annotations

from scanner.models import Change, EndpointStatus, VerifyAllReport
from scanner.report.view import change_value, client_certificate_text, jsse


def progress_bar(done: int, total: int, width: int = 30) -> str:
    """`[#########.........]  9/30` for a carriage-return progress line."""
    filled = int(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def change_line(change: Change) -> str:
    """`apns: negotiated TLS_A -> TLS_B`, one change on one line."""
    kind = change.kind.value.replace("_", " ")
    if change.before is None:
        return f"{change.endpoint_id}: {kind}: {change_value(change.after)}"
    if change.after is None:
        return f"{change.endpoint_id}: {kind}: {change_value(change.before)}"
    return f"{change.endpoint_id}: {kind}: {change_value(change.before)} -> {change_value(change.after)}"


def summary(report: VerifyAllReport) -> str:
    """A few lines: one per endpoint that needs attention, then the totals."""
    lines = []
    width = max((len(f.endpoint.id) for f in report.findings), default=10)
    for f in report.findings:
        p = f.probe
        mark = "ok " if f.connects else "!! "
        detail = jsse(p.negotiated) if p.negotiated else (p.reason or "")
        via = f"  (via proxy {f.endpoint.proxy})" if f.endpoint.proxy else ""
        lines.append(f"{mark}{f.endpoint.id:<{width}}  {p.status.value:<15}  {detail}{via}")
        if p.certificate is not None:
            for issue in p.certificate.problems:
                verdict = "certificate refused" if issue.refused else "certificate warning"
                lines.append(f"   {'':<{width}}  {verdict}: {issue.detail}")
        for warning in f.certificate_warnings:
            lines.append(f"   {'':<{width}}  warning: {warning}")
        if p.evidence:
            lines.append(f"   {'':<{width}}  evidence: {p.evidence}")
        if p.client_certificate:
            lines.append(f"   {'':<{width}}  {client_certificate_text(p.client_certificate)}")
        if f.required_disabled:
            lines.append(f"   {'':<{width}}  needs Disabled: {', '.join(jsse(n) for n in f.required_disabled)}")
        if f.accepted_unlisted and not f.required_disabled:
            names = ", ".join(jsse(n) for n in f.accepted_unlisted)
            lines.append(f"   {'':<{width}}  accepts only suites in neither list: {names}")
    ok = sum(1 for f in report.findings if f.connects)
    refused = sum(1 for f in report.findings if f.probe.status is EndpointStatus.OK and not f.connects)
    expiring = sum(1 for f in report.findings if f.certificate_warnings)
    required = {name for f in report.findings for name in f.required_disabled}  # this run's, not the period's
    lines.append("")
    certificates = f" ({refused} negotiate but the client refuses the certificate)" if refused else ""
    lines.append(
        f"{ok}/{len(report.findings)} endpoints connect under the policy{certificates}; "
        f"{len(required)} Disabled suites required; {len(report.unused_selected)} Selected suites unused."
    )
    if expiring:
        lines.append(f"Warning: {expiring} certificate(s) expire soon (see above).")
    for d in report.address_disagreements:
        lines.append(
            f"Addresses disagree behind {d.endpoint_id} ({', '.join(d.addresses)}): {', '.join(d.aspects)} differ."
        )
    if report.drift is not None and report.drift.previous_run is not None:
        if report.drift.policy_changed:
            lines.append(
                f"The policy changed since run {report.drift.previous_run}: a negotiated suite or a status below "
                "may have changed for that reason, not the server's."
            )
        if report.drift.changes:
            lines.append(f"Changes since run {report.drift.previous_run}:")
            lines += [f"  {change_line(c)}" for c in report.drift.changes]
        else:
            lines.append(f"No changes since run {report.drift.previous_run}.")
    if report.usage_period is not None and report.usage_period.runs > 1:
        since = report.usage_period.since.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"Usage (the asterisks) over {report.usage_period.runs} runs since {since}.")
    if not report.complete:
        lines.append("The run was interrupted: the results above are incomplete.")
    return "\n".join(lines)
