"""The fewest suite moves that reconnect every failing endpoint: which Disabled (or unlisted) suites to put in
Selected so that each endpoint failing for want of a common suite accepts one of them. Pure: no I/O.

An endpoint that accepts no Selected suite and one suite of the moves connects once that suite is Selected,
whatever the order (the client offers it, and it is all the server and the client share). So the fewest
moves are a set cover: the smallest set of suites meeting every such endpoint's options, strongest among
ties (`impact.smallest_cover`). Endpoints no move can reconnect (no TLS 1.2, a refused certificate, only
suites the client cannot offer) and endpoints that could not be probed at all are named apart.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from scanner import catalog, clients
from scanner.findings import UNPROBED
from scanner.impact import ImpactReport, ImpactStatus, smallest_cover
from scanner.models import EndpointFinding, EndpointStatus, Policy
from scanner.naming import policy_spelling, spelling_of

DISABLED = "disabled"
NOT_LISTED = "not listed"


@dataclass(frozen=True)
class Move:
    """One suite to put in Selected: from where (`origin`: "disabled", or "not listed" for a suite in
    neither list), and the failing endpoints that accept it."""

    suite: str
    origin: str
    reconnects: tuple[str, ...]


@dataclass(frozen=True)
class Stuck:
    """A failing endpoint that moving suites does not reconnect, or could not be probed, and why."""

    endpoint_id: str
    why: str


@dataclass(frozen=True)
class FewestMoves:
    """The answer: the moves, the endpoints they reconnect, the failing endpoints they cannot, and the
    endpoints that could not be probed (a network problem, not the policy's)."""

    moves: tuple[Move, ...]
    reconnects: tuple[str, ...]
    not_by_moves: tuple[Stuck, ...] = ()
    unprobed: tuple[Stuck, ...] = ()
    side_effects: tuple[tuple[str, str, str], ...] = ()
    """(endpoint, suite today, suite after the moves) for working endpoints whose own order would pick a
    moved suite over today's: they still connect, with another suite."""
    options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Each endpoint the moves reconnect -> the suites outside Selected it accepts, with where each is now:
    what the moves were chosen from (the report's grid marks them "required")."""

    @property
    def nothing_fails(self) -> bool:
        return not (self.reconnects or self.not_by_moves or self.unprobed)


def cover(options: Mapping[str, Mapping[str, str]]) -> tuple[Move, ...]:
    """The fewest moves for `options` (endpoint -> {suite it accepts: where the suite is now}), strongest
    suite first; each move with every endpoint of `options` that accepts it."""
    chosen = smallest_cover({endpoint: set(suites) for endpoint, suites in options.items() if suites})
    origin = {suite: where for suites in options.values() for suite, where in suites.items()}
    return tuple(
        Move(suite, origin[suite], tuple(sorted(e for e, suites in options.items() if suite in suites)))
        for suite in sorted(chosen, key=lambda n: catalog.resolve(n).sort_key)
    )


def candidates(policy: Policy, accepted: Sequence[str], shipped: Collection[str] | None = None) -> dict[str, str]:
    """The suites outside Selected that the policy's client could offer and the server accepts, with where
    each is now ("disabled", or "not listed": in neither list). A suite in neither list that the release does
    not ship (`shipped`: the release's suites; None: not known) is no candidate: the admin cannot select it."""
    selected, disabled = set(policy.selected), set(policy.disabled)
    outside = clients.get(policy.client).implemented(s for s in accepted if s not in selected)
    return {
        s: DISABLED if s in disabled else NOT_LISTED
        for s in outside
        if s in disabled or shipped is None or s in shipped
    }


def _why_not(f: EndpointFinding, policy: Policy) -> str:
    status = f.probe.status
    if status is EndpointStatus.OK:
        return "the client refuses its certificate: moving suites does not change that"
    if status is EndpointStatus.NO_COMMON_SUITE:
        listed = {*policy.selected, *policy.disabled}
        unshipped = [s for s in clients.get(policy.client).implemented(f.probe.client_accepted) if s not in listed]
        if unshipped:  # no candidate, so none of these is shipped
            names = ", ".join(policy_spelling(policy)(s) for s in unshipped[:3])  # as the policy file spells
            why = f"accepts only suites release {policy.release} does not ship ({names})"
            return why + ": the server must accept a Selected suite"
        return "accepts no suite the client can offer: the server must accept a Selected suite"
    if status is EndpointStatus.NO_TLS12:
        return "does not speak TLS 1.2: the server must enable it"
    if status is EndpointStatus.INTERNAL_ERROR:
        return "tlsverify failed on it (a bug, not the server's doing)"
    return "no TLS handshake completed: " + (f.probe.reason or "no reason recorded")


def for_findings(
    policy: Policy, findings: Sequence[EndpointFinding], shipped: Collection[str] | None = None
) -> FewestMoves:
    """The fewest moves for a Verify All run: over every endpoint the client does not connect to. `shipped`:
    the suites the policy's release ships (None: not known, and a suite in neither list counts as one)."""
    options: dict[str, dict[str, str]] = {}
    stuck, unprobed = [], []
    for f in findings:
        if f.connects:
            continue
        endpoint_id = f.endpoint.id
        if f.probe.status in UNPROBED:
            unprobed.append(Stuck(endpoint_id, f.probe.reason or f.probe.status.value.replace("_", " ")))
            continue
        no_common = f.probe.status is EndpointStatus.NO_COMMON_SUITE
        found = candidates(policy, f.probe.client_accepted, shipped) if no_common else {}
        if found:
            options[endpoint_id] = found
        else:
            stuck.append(Stuck(endpoint_id, _why_not(f, policy)))
    moves = cover(options)
    return FewestMoves(
        moves, tuple(sorted(options)), tuple(stuck), tuple(unprobed), _side_effects(policy, findings, moves), options
    )


def _side_effects(
    policy: Policy, findings: Sequence[EndpointFinding], moves: Sequence[Move]
) -> tuple[tuple[str, str, str], ...]:
    if not moves:
        return ()
    client = clients.get(policy.client)
    after = (*policy.selected, *(m.suite for m in moves))  # appended: the client's own order prefers today's
    changed = []
    for f in findings:
        if not f.connects or not f.probe.client_accepted:
            continue
        today = client.negotiate(policy.selected, f.probe.client_accepted, f.probe.server_preference)
        then = client.negotiate(after, f.probe.client_accepted, f.probe.server_preference)
        if today is not None and then is not None and then != today:
            changed.append((f.endpoint.id, today, then))
    return tuple(changed)


def for_impact(report: ImpactReport) -> FewestMoves:
    """The fewest moves into the proposed policy's Selected list that reconnect every endpoint failing after
    the change (breaking, or failing already), from each one's rescue suites; a suite the proposed release
    does not ship is no move (the admin cannot select it)."""
    options: dict[str, dict[str, str]] = {}
    stuck, unknown = [], []
    for row in report.endpoints:
        if row.status is ImpactStatus.UNKNOWN:
            unknown.append(Stuck(row.endpoint.id, row.reason))
            continue
        if row.after is not None:
            continue
        found = {r.suite: r.where for r in row.rescue if not r.where.startswith("not in release")}
        if found:
            options[row.endpoint.id] = found
        elif row.rescue:
            spell = spelling_of(report.after, report.before)
            shipped_not = ", ".join(spell(r.suite) for r in row.rescue[:3])
            why = f"accepts only suites release {report.after.release} does not ship ({shipped_not})"
            stuck.append(Stuck(row.endpoint.id, why + ": the server must accept a Selected suite"))
        else:
            stuck.append(Stuck(row.endpoint.id, row.reason))
    return FewestMoves(cover(options), tuple(sorted(options)), tuple(stuck), tuple(unknown))
