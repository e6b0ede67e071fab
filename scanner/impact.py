"""What a policy change does to every endpoint, predicted from what a scan learned; and the strongest policy
that keeps every working endpoint working. Pure: no I/O.

A client offering Selected (in order) to a server that accepts `accepted` gets: with a server that imposes
its own order, the first suite of the server's order that the client offers; otherwise the first suite
of the client's order that the server accepts.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import combinations
from math import comb

from scanner import catalog, clients
from scanner.models import Endpoint, EndpointStatus, Policy, ProbeResult
from scanner.policy import Releases, suggested_order

# Statuses with no accepted-suite data to predict from.
NO_DATA = {
    EndpointStatus.UNREACHABLE: "unreachable in the stored scan",
    EndpointStatus.DNS_ERROR: "its name did not resolve in the stored scan",
    EndpointStatus.TIMEOUT: "timed out in the stored scan",
    EndpointStatus.TLS_ERROR: "no TLS handshake succeeded in the stored scan",
    EndpointStatus.INTERNAL_ERROR: "tlsverify failed on it in the stored scan",
}


class ImpactStatus(StrEnum):
    UNCHANGED = "unchanged"
    CHANGES = "changes"
    BREAKS = "breaks"
    FIXED = "fixed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Rescue:
    """A suite the server accepts that would reconnect it, and where it stands in the proposed policy."""

    suite: str
    where: str  # "disabled", "not listed", or "not in release R"


@dataclass(frozen=True)
class EndpointImpact:
    """One endpoint before and after the change."""

    endpoint: Endpoint
    before: str | None
    after: str | None
    status: ImpactStatus
    reason: str
    rescue: tuple[Rescue, ...] = ()
    verified: bool | None = None
    verified_suite: str | None = None
    verify_note: str | None = None
    never_scanned: bool = False
    """No stored run has probed this endpoint: nothing is known of it."""


@dataclass(frozen=True)
class ImpactReport:
    """A whole what-if: both policies and every endpoint."""

    before: Policy
    after: Policy
    change: str
    scan_time: str
    endpoints: tuple[EndpointImpact, ...]
    notes: tuple[str, ...] = ()

    @property
    def breaks(self) -> tuple[EndpointImpact, ...]:
        return tuple(e for e in self.endpoints if e.status is ImpactStatus.BREAKS)

    @property
    def mismatches(self) -> tuple[EndpointImpact, ...]:
        return tuple(e for e in self.endpoints if e.verified is False)

    @property
    def unchecked(self) -> tuple[EndpointImpact, ...]:
        """Predictions `--verify` set out to check but could not (the server unreachable, say)."""
        return tuple(
            e for e in self.endpoints if e.status is not ImpactStatus.UNKNOWN and e.verified is None and e.verify_note
        )

    @property
    def never_scanned(self) -> tuple[EndpointImpact, ...]:
        return tuple(e for e in self.endpoints if e.never_scanned)


def endpoint_impact(
    endpoint: Endpoint, probe: ProbeResult | None, before: Policy, after: Policy, releases: Releases
) -> EndpointImpact:
    """Predict one endpoint under both policies from what the scan learned about it."""
    if probe is None:
        reason = "no stored run has probed it: run verify-all (or impact --rescan)"
        return EndpointImpact(endpoint, None, None, ImpactStatus.UNKNOWN, reason, never_scanned=True)
    if probe.status in NO_DATA and not probe.accepted_tls12:
        reason = f"{NO_DATA[probe.status]} ({probe.reason or 'no reason recorded'})"
        return EndpointImpact(endpoint, None, None, ImpactStatus.UNKNOWN, reason)
    if probe.status is EndpointStatus.NO_TLS12:
        return EndpointImpact(
            endpoint, None, None, ImpactStatus.UNCHANGED, "fails before and after: the server does not speak TLS 1.2"
        )
    old = clients.negotiate(before, probe.client_accepted, probe.server_preference)
    new = clients.negotiate(after, probe.client_accepted, probe.server_preference)
    order = _order(probe, before, after)
    if old is None and new is None:
        status, reason = ImpactStatus.UNCHANGED, "no common suite before or after"
    elif new is None:
        status, reason = ImpactStatus.BREAKS, "no Selected suite of the proposed policy is accepted by the server"
    elif old is None:
        status, reason = ImpactStatus.FIXED, f"the proposed policy offers {new}, which the server accepts"
    elif old == new:
        status, reason = ImpactStatus.UNCHANGED, f"still {new} ({order})"
    else:
        status, reason = ImpactStatus.CHANGES, f"{old} -> {new} ({order})"
    rescue = _rescue(probe.client_accepted, after, releases) if new is None else ()
    return EndpointImpact(endpoint, old, new, status, reason, rescue)


def _order(probe: ProbeResult, before: Policy, after: Policy) -> str:
    if probe.server_preference:
        return "the server's order"
    if probe.server_preference is False:
        return "the client's order"
    shared = set(probe.client_accepted) & (set(before.selected) | set(after.selected))
    if len(shared) > 1:
        return "order unknown: the client's assumed, so the suite is a guess; whether it connects is not"
    return "the only shared suite"


def _rescue(accepted: Sequence[str], after: Policy, releases: Releases) -> tuple[Rescue, ...]:
    """Every accepted suite, strongest first, with where it is in the proposed policy."""
    release = releases.get(after.release)
    disabled = set(after.disabled)
    out = []
    for name in catalog.strongest_first(clients.get(after.client).implemented(accepted)):
        if release is not None and name not in release.available:
            where = f"not in release {after.release}"
        elif name in disabled:
            where = "disabled"
        else:
            where = "not listed"
        out.append(Rescue(name, where))
    return tuple(out)


def impact(
    scanned: Sequence[tuple[Endpoint, ProbeResult | None]],
    before: Policy,
    after: Policy,
    releases: Releases,
    change: str,
    scan_time: str,
    notes: Sequence[str] = (),
) -> ImpactReport:
    """Every endpoint's impact, sorted by id."""
    rows = tuple(
        endpoint_impact(e, p, before, after, releases) for e, p in sorted(scanned, key=lambda item: item[0].id)
    )
    return ImpactReport(before, after, change, scan_time, rows, tuple(notes))


def with_verification(row: EndpointImpact, real: ProbeResult | None) -> EndpointImpact:
    """Attach the result of a real handshake offering the proposed Selected list. A handshake that could
    not happen (unreachable, timeout) checks nothing: `verified` stays None, with the reason."""
    if row.status is ImpactStatus.UNKNOWN or real is None:
        return replace(row, verify_note="no data to check against" if real is None else None)
    if real.status not in (EndpointStatus.OK, EndpointStatus.NO_COMMON_SUITE):
        return replace(row, verify_note=f"could not check: {real.reason}")
    return replace(row, verified=real.negotiated == row.after, verified_suite=real.negotiated)


# --- the advisor -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advice:
    """The strongest policy that keeps the kept endpoints working, and why each suite is in it."""

    policy: Policy
    kept_for: tuple[tuple[str, tuple[str, ...]], ...]  # (suite, endpoints that negotiate it under the advice)
    keeps: tuple[str, ...]
    dropped: tuple[str, ...]
    not_working_today: tuple[str, ...]
    legacy: tuple[str, ...]  # Selected suites the release does not ship, kept because an endpoint needs one
    weaker_by_server_order: tuple[tuple[str, str, str], ...]  # (endpoint, suite it will get, its best suite)


MAX_EXACT = 6
"""Up to this many suites the advisor finds the smallest cover by search; beyond, it covers greedily."""


def working_today(scanned: Sequence[tuple[Endpoint, ProbeResult]], current: Policy) -> dict[str, ProbeResult]:
    """Endpoints that connect under `current`, judged from what the scan learned (not from how it ran)."""
    return {
        e.id: p
        for e, p in scanned
        if p.client_accepted and clients.negotiate(current, p.client_accepted, p.server_preference) is not None
    }


def advise(
    scanned: Sequence[tuple[Endpoint, ProbeResult]],
    current: Policy,
    releases: Releases,
    drop: Collection[str] = (),
) -> Advice:
    """The strongest, then fewest, Selected suites so every endpoint that works today still works.

    Strongest first: each endpoint may only be served by a suite of the best strength tier it accepts among
    those usable (shipped by the release, or Selected today), so no endpoint is pushed to a weaker suite
    than it supports. Fewest then: the smallest such set (found by search, greedily past MAX_EXACT suites).
    A server that imposes its own order may still pick a weaker suite of the set: that is reported.
    """
    release = releases.get(current.release)
    shipped = set(release.available) if release else set(current.selected) | set(current.disabled)
    client = clients.get(current.client)
    usable = set(client.implemented(shipped | set(current.selected)))
    all_working = working_today(scanned, current)
    working = {i: p for i, p in all_working.items() if i not in drop}
    not_working = tuple(sorted(e.id for e, _ in scanned if e.id not in all_working))
    eligible: dict[str, set[str]] = {}
    for endpoint_id, probe in working.items():
        candidates = [s for s in probe.client_accepted if s in usable]
        best = min(catalog.resolve(s).tier for s in candidates)
        eligible[endpoint_id] = {s for s in candidates if catalog.resolve(s).tier == best}
    chosen = smallest_cover(eligible)
    # A suite no endpoint would negotiate (a server's own order took another) serves nobody: leave it out.
    while True:
        used = {client.negotiate(chosen, p.client_accepted, p.server_preference) for p in working.values()}
        idle = [s for s in chosen if s not in used]
        if not idle:
            break
        chosen = [s for s in chosen if s != idle[0]]
    selected = tuple(suggested_order(catalog.strongest_first(chosen)))
    ordered = release.available if release else (*current.selected, *current.disabled)
    disabled = tuple(n for n in ordered if n not in set(selected))
    advised = replace(current, selected=selected, disabled=disabled)
    gets = {i: client.negotiate(selected, p.client_accepted, p.server_preference) for i, p in working.items()}
    kept_for = tuple((s, tuple(sorted(i for i, g in gets.items() if g == s))) for s in selected)
    weaker = tuple(
        (i, str(gets[i]), min(eligible[i], key=lambda n: catalog.resolve(n).sort_key))
        for i in sorted(working)
        if gets[i] not in eligible[i]
    )
    legacy = tuple(s for s in selected if s not in shipped)
    return Advice(advised, kept_for, tuple(sorted(working)), tuple(sorted(drop)), not_working, legacy, weaker)


def smallest_cover(eligible: dict[str, set[str]]) -> list[str]:
    """The fewest suites such that every endpoint has one of its eligible suites; strongest among ties (the
    advisor's policy, and the fewest moves that reconnect failing endpoints: `scanner.moves`)."""
    candidates = sorted(
        {s for options in eligible.values() for s in options}, key=lambda n: catalog.resolve(n).sort_key
    )
    if not eligible:
        return []
    for size in range(1, min(MAX_EXACT, len(candidates)) + 1):
        if comb(len(candidates), size) > 200_000:
            break
        for combo in combinations(candidates, size):  # candidates are strongest first, so is the first hit
            chosen = set(combo)
            if all(options & chosen for options in eligible.values()):
                return list(combo)
    uncovered, greedy = set(eligible), []
    while uncovered:
        pick = min(
            {s for i in uncovered for s in eligible[i]},
            key=lambda s: (-sum(1 for i in uncovered if s in eligible[i]), catalog.resolve(s).sort_key),
        )
        greedy.append(pick)
        uncovered = {i for i in uncovered if pick not in eligible[i]}
    return greedy
