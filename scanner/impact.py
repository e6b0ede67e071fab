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

from scanner import catalog
from scanner.models import Endpoint, EndpointStatus, Policy, ProbeResult
from scanner.policy import Releases, suggested_order, tier

# Statuses with no accepted-suite data to predict from.
NO_DATA = {
    EndpointStatus.UNREACHABLE: "unreachable in the stored scan",
    EndpointStatus.DNS_ERROR: "its name did not resolve in the stored scan",
    EndpointStatus.TIMEOUT: "timed out in the stored scan",
    EndpointStatus.TLS_ERROR: "no TLS handshake succeeded in the stored scan",
}


def negotiate(selected: Sequence[str], accepted: Sequence[str], server_preference: bool | None) -> str | None:
    """The suite a client offering `selected` gets from a server accepting `accepted`, or None."""
    if server_preference:
        wanted = set(selected)
        return next((s for s in accepted if s in wanted), None)
    accepted_set = set(accepted)
    return next((s for s in selected if s in accepted_set), None)


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


@dataclass(frozen=True)
class ImpactReport:
    """A whole what-if: both policies and every endpoint."""

    before: Policy
    after: Policy
    change: str
    scan_time: str
    endpoints: tuple[EndpointImpact, ...]

    @property
    def breaks(self) -> tuple[EndpointImpact, ...]:
        return tuple(e for e in self.endpoints if e.status is ImpactStatus.BREAKS)

    @property
    def mismatches(self) -> tuple[EndpointImpact, ...]:
        return tuple(e for e in self.endpoints if e.verified is False)


def endpoint_impact(
    endpoint: Endpoint, probe: ProbeResult | None, before: Policy, after: Policy, releases: Releases
) -> EndpointImpact:
    """Predict one endpoint under both policies from what the scan learned about it."""
    if probe is None:
        return EndpointImpact(endpoint, None, None, ImpactStatus.UNKNOWN, "not in the stored scan: run with --rescan")
    if probe.status in NO_DATA:
        reason = f"{NO_DATA[probe.status]} ({probe.reason or 'no reason recorded'})"
        return EndpointImpact(endpoint, None, None, ImpactStatus.UNKNOWN, reason)
    if probe.status is EndpointStatus.NO_TLS12:
        return EndpointImpact(
            endpoint, None, None, ImpactStatus.UNCHANGED, "fails before and after: the server does not speak TLS 1.2"
        )
    old = negotiate(before.selected, probe.accepted_tls12, probe.server_preference)
    new = negotiate(after.selected, probe.accepted_tls12, probe.server_preference)
    order = "the server's order" if probe.server_preference else "the client's order"
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
    rescue = _rescue(probe.accepted_tls12, after, releases) if new is None else ()
    return EndpointImpact(endpoint, old, new, status, reason, rescue)


def _rescue(accepted: Sequence[str], after: Policy, releases: Releases) -> tuple[Rescue, ...]:
    """Every accepted suite, strongest first, with where it is in the proposed policy."""
    release = releases.get(after.release)
    disabled = set(after.disabled)
    out = []
    for name in catalog.strongest_first(accepted):
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
) -> ImpactReport:
    """Every endpoint's impact, sorted by id."""
    rows = tuple(
        endpoint_impact(e, p, before, after, releases) for e, p in sorted(scanned, key=lambda item: item[0].id)
    )
    return ImpactReport(before, after, change, scan_time, rows)


def with_verification(row: EndpointImpact, negotiated: str | None, note: str | None) -> EndpointImpact:
    """Attach the result of a real handshake offering the proposed Selected list."""
    if row.status is ImpactStatus.UNKNOWN:
        return replace(row, verify_note=note)
    return replace(row, verified=negotiated == row.after, verified_suite=negotiated, verify_note=note)


# --- the advisor -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advice:
    """The strongest policy that keeps the kept endpoints working, and why each suite is in it."""

    policy: Policy
    kept_for: tuple[tuple[str, tuple[str, ...]], ...]  # (suite, endpoints that negotiate it under the advice)
    keeps: tuple[str, ...]
    dropped: tuple[str, ...]
    not_working_today: tuple[str, ...]
    uncoverable: tuple[str, ...]


def advise(
    scanned: Sequence[tuple[Endpoint, ProbeResult]],
    current: Policy,
    releases: Releases,
    drop: Collection[str] = (),
) -> Advice:
    """The strongest, then fewest, Selected suites so every endpoint that works today still works.

    Strongest first: each endpoint may only be served by a suite of the best strength tier it accepts
    (forward secrecy, AEAD, ECDHE: as `policy check` ranks them), so no endpoint is pushed to a weaker
    suite than it supports. Fewest then: a greedy cover takes the suite that serves the most endpoints
    still unserved. Selected comes out strongest first; every other suite of the release is Disabled.
    """
    release = releases.get(current.release)
    shipped = set(release.available) if release else set(current.selected) | set(current.disabled)
    working = {e.id: p for e, p in scanned if p.status is EndpointStatus.OK and p.negotiated and e.id not in drop}
    not_working = tuple(sorted(e.id for e, p in scanned if p.status is not EndpointStatus.OK))
    eligible: dict[str, set[str]] = {}
    for endpoint_id, probe in working.items():
        usable = [s for s in probe.accepted_tls12 if s in shipped]
        if usable:
            best = min(tier(catalog.resolve(s)) for s in usable)
            eligible[endpoint_id] = {s for s in usable if tier(catalog.resolve(s)) == best}
    uncoverable = tuple(sorted(set(working) - set(eligible)))
    uncovered = set(eligible)
    chosen: list[str] = []
    while uncovered:
        candidates = {s for i in uncovered for s in eligible[i]}
        pick = min(
            candidates,
            key=lambda s: (-sum(1 for i in uncovered if s in eligible[i]), catalog.resolve(s).sort_key),
        )
        chosen.append(pick)
        uncovered = {i for i in uncovered if pick not in eligible[i]}
    selected = tuple(suggested_order(catalog.strongest_first(chosen)))
    ordered_release = release.available if release else (*current.selected, *current.disabled)
    disabled = tuple(n for n in ordered_release if n not in set(selected))
    advised = Policy(current.release, current.protocols_selected, current.protocols_disabled, selected, disabled)
    kept_for = tuple(
        (
            s,
            tuple(
                sorted(i for i, p in working.items() if negotiate(selected, p.accepted_tls12, p.server_preference) == s)
            ),
        )
        for s in selected
    )
    return Advice(advised, kept_for, tuple(sorted(working)), tuple(sorted(drop)), not_working, uncoverable)
