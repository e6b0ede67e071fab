"""The terminal summary printed after a run: a table whose columns wrap inside themselves, then the totals.

Built as rich renderables (data, no output here); the command line prints them through a console that
honours NO_COLOR and plain pipes. Suites are spelled as the policy file spells them (`scanner.naming`).
rich is imported only when a summary is made: `tlsverify --help` does not pay for it.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from typing import TYPE_CHECKING

from scanner import catalog, moves
from scanner.findings import UNPROBED
from scanner.models import Change, EndpointFinding, EndpointStatus, VerifyAllReport
from scanner.naming import Spelling, policy_spelling
from scanner.report.view import change_value, client_certificate_text

if TYPE_CHECKING:
    from rich.console import RenderableType


SUITE_WIDTH = 46
"""The longest IANA or JSSE suite name a Java client offers (TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256) and one."""


_GAPS = 6
"""Columns between the table's three columns: a blank and a cell's padding on each side, twice."""


def change_line(change: Change) -> str:
    """`apns: negotiated TLS_A -> TLS_B`, one change on one line."""
    kind = change.kind.value.replace("_", " ")
    if change.before is None:
        return f"{change.endpoint_id}: {kind}: {change_value(change.after)}"
    if change.after is None:
        return f"{change.endpoint_id}: {kind}: {change_value(change.before)}"
    return f"{change.endpoint_id}: {kind}: {change_value(change.before)} -> {change_value(change.after)}"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """`1 endpoint`, `2 endpoints`."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def verdict(f: EndpointFinding) -> tuple[str, str]:
    """The status word for an endpoint and its style: green when the client connects, yellow when the
    network kept the probe from the server, red otherwise."""
    status = f.probe.status
    if f.connects:
        return "ok", "green"
    if status is EndpointStatus.OK:
        return "certificate refused", "red"
    return status.value.replace("_", " ").replace("tls12", "TLS 1.2"), "yellow" if status in UNPROBED else "red"


def _details(f: EndpointFinding, spell: Spelling) -> list[tuple[str, str]]:
    """The lines of an endpoint's details column, each with its style."""
    p = f.probe
    lines = [(spell(p.negotiated), "") if p.negotiated else (p.reason or "", "")]
    if f.endpoint.proxy:
        lines.append((f"via proxy {f.endpoint.proxy}", "dim"))
    if p.certificate is not None:
        for issue in p.certificate.problems:
            lines.append((f"certificate {'refused' if issue.refused else 'warning'}: {issue.detail}", "red"))
    lines += [(f"warning: {warning}", "yellow") for warning in f.certificate_warnings]
    if p.evidence:
        lines.append((f"evidence: {p.evidence}", "dim"))
    if p.client_certificate:
        lines.append((client_certificate_text(p.client_certificate), ""))
    if f.required_disabled:
        lines.append((f"needs Disabled: {', '.join(spell(n) for n in f.required_disabled)}", "bold"))
    if f.accepted_unlisted and not f.required_disabled:
        lines.append((f"accepts only suites in neither list: {', '.join(spell(n) for n in f.accepted_unlisted)}", ""))
    return lines


def summary_renderables(
    report: VerifyAllReport, width: int, shipped: Collection[str] | None = None
) -> list[RenderableType]:
    """The endpoints table for a screen `width` columns wide, then the totals, the fewest moves that
    reconnect the failing endpoints (`shipped`: the suites the policy's release ships, None if not known)
    and what changed."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    spell = policy_spelling(report.policy)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False)
    # The details column is wide enough for its longest word (a suite name, at most SUITE_WIDTH), so a name
    # never breaks (the text wraps between words) on any screen of 75 columns or more; the endpoint column
    # takes what is left, up to its longest id. A narrower screen folds names rather than cutting them off.
    details = {f.endpoint.id: _details(f, spell) for f in report.findings}
    words = (word for lines in details.values() for line, _ in lines for word in line.split())
    details_width = min(SUITE_WIDTH, max((len(word) for word in words), default=0))
    status_width = max(len("Status"), max((len(verdict(f)[0]) for f in report.findings), default=0))
    longest_id = max((len(f.endpoint.id) for f in report.findings), default=0)
    id_width = max(len("Endpoint"), min(longest_id, width - status_width - details_width - _GAPS))
    table.add_column("Endpoint", overflow="fold", width=id_width)
    table.add_column("Status", no_wrap=True, width=status_width)
    table.add_column("Suite, or why not", overflow="fold", width=max(20, width - id_width - status_width - _GAPS))
    for f in report.findings:
        word, style = verdict(f)
        cell = Text()
        for i, (line, line_style) in enumerate(details[f.endpoint.id]):
            cell.append(("\n" if i else "") + line, style=line_style)
        table.add_row(Text(f.endpoint.id), Text(word, style=style), cell)
    return [table, *(Text(line, style=style) for line, style in _totals(report, spell, shipped))]


def _what_to_do(answer: moves.FewestMoves, spell: Spelling) -> list[tuple[str, str]]:
    """The fewest moves that reconnect every failing endpoint, and what moves cannot fix, as the HTML
    report's first section says them."""
    lines = []
    if answer.moves:
        where = {moves.DISABLED: "from Disabled", moves.NOT_LISTED: "in neither list"}

        def described(move: moves.Move) -> str:
            grade = catalog.resolve(move.suite).grade  # an insecure move says so, as `policy check` will
            graded = "" if grade == "secure" else f"; {grade}"
            return f"{spell(move.suite)} ({where.get(move.origin, move.origin)}{graded})"

        names = ", ".join(described(m) for m in answer.moves)
        lines.append(
            (
                f"Fewest moves: put {count(len(answer.moves), 'suite')} in Selected to reconnect "
                f"{', '.join(answer.reconnects)}: {names}.",
                "bold",
            )
        )
    lines += [(f"Moving suites does not reconnect {s.endpoint_id}: {s.why}.", "") for s in answer.not_by_moves]
    if answer.unprobed:
        ids = ", ".join(s.endpoint_id for s in answer.unprobed)
        lines.append((f"Could not probe {ids}: a network problem, not the policy's.", "yellow"))
    return lines


def _totals(report: VerifyAllReport, spell: Spelling, shipped: Collection[str] | None) -> list[tuple[str, str]]:
    findings = report.findings
    ok = sum(1 for f in findings if f.connects)
    unprobed = sum(1 for f in findings if f.probe.status in UNPROBED)
    refused = sum(1 for f in findings if f.probe.status is EndpointStatus.OK and not f.connects)
    expiring = sum(1 for f in findings if f.certificate_warnings)
    parts = [
        f"{ok}/{count(len(findings), 'endpoint')} {'connects' if len(findings) == 1 else 'connect'} under the policy"
    ]
    if refused:
        parts.append(
            f"{refused} {'negotiates' if refused == 1 else 'negotiate'} but the client refuses the certificate"
        )
    if unprobed:
        parts.append(f"{unprobed} could not be probed (network)")
    parts.append(f"{count(len(report.unused_selected), 'Selected suite')} unused")
    lines = [("", ""), ("; ".join(parts) + ".", "bold green" if ok == len(findings) else "bold")]
    answer = moves.for_findings(report.policy, findings, shipped)
    if not answer.nothing_fails:
        lines += _what_to_do(answer, spell)
    elif report.complete:
        lines.append(("Nothing to move: every endpoint connects.", "green"))
    elif findings:
        lines.append((f"Nothing to move among the {count(len(findings), 'endpoint')} that finished.", ""))
    if expiring:
        verb = "expires" if expiring == 1 else "expire"
        lines.append((f"Warning: {count(expiring, 'certificate')} {verb} soon (see above).", "yellow"))
    for d in report.address_disagreements:
        lines.append(
            (
                f"Addresses disagree behind {d.endpoint_id} ({', '.join(d.addresses)}): {', '.join(d.aspects)} differ.",
                "",
            )
        )
    drift = report.drift
    if drift is not None and drift.previous_run is not None:
        if drift.policy_changed:
            lines.append(
                (
                    f"The policy changed since run {drift.previous_run}: a negotiated suite or a status below "
                    "may have changed for that reason, not the server's.",
                    "",
                )
            )
        if drift.changes:
            lines.append((f"Changes since run {drift.previous_run}:", "bold"))
            lines += [(f"  {change_line(c)}", "") for c in drift.changes]
        else:
            lines.append((f"No changes since run {drift.previous_run}.", ""))
    if report.usage_period is not None and report.usage_period.runs > 1:
        since = report.usage_period.since.strftime("%Y-%m-%d %H:%M UTC")
        lines.append((f"Usage (the asterisks) over {report.usage_period.runs} runs since {since}.", "dim"))
    if not report.complete:
        lines.append(("The run was interrupted: the results above are incomplete.", "bold red"))
    return lines


def render(renderables: list[RenderableType], width: int = 120) -> str:
    """Renderables as plain text at `width` columns (no colour): for tests and for a log."""
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False, highlight=False)
    for item in renderables:
        console.print(item)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def summary(report: VerifyAllReport, width: int = 120, shipped: Collection[str] | None = None) -> str:
    """The summary as plain text."""
    return render(summary_renderables(report, width, shipped), width)
