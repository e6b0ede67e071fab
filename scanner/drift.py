"""What changed between two runs, endpoint by endpoint, and the usage collection period; pure: reports and
times in, values out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from scanner.models import Change, ChangeKind, Drift, EndpointFinding, EndpointStatus, VerifyAllReport

_REACHED = (EndpointStatus.OK, EndpointStatus.NO_COMMON_SUITE, EndpointStatus.NO_TLS12)
"""Statuses with TLS facts (versions, suites, order) worth comparing; other statuses say only why not."""


def compare(before: VerifyAllReport, after: VerifyAllReport, previous_run: int | None) -> Drift:
    """The changes from `before` to `after`. Endpoints only one run has count as added or removed when both
    runs covered the whole endpoints file (a --only run leaves the others out, it does not remove them)."""
    old = {f.endpoint.id: f for f in before.findings}
    new = {f.endpoint.id: f for f in after.findings}
    _pair_addresses(old, new)
    whole = not before.partial and not after.partial and before.complete and after.complete
    changes: list[Change] = []
    for endpoint_id in sorted(old.keys() | new.keys()):
        if _comes_and_goes(endpoint_id, old, new):
            continue  # one address of a name (--all-addresses): addresses come and go with DNS
        if endpoint_id not in old:
            if whole:
                changes.append(Change(endpoint_id, ChangeKind.ADDED, None, new[endpoint_id].probe.status.value))
        elif endpoint_id not in new:
            if whole:
                changes.append(Change(endpoint_id, ChangeKind.REMOVED, old[endpoint_id].probe.status.value, None))
        else:
            # (named by the key: an address of a name is compared with the name probed as one endpoint)
            changes += [
                replace(c, endpoint_id=endpoint_id) for c in endpoint_changes(old[endpoint_id], new[endpoint_id])
            ]
    return Drift(previous_run, tuple(changes), policy_changed=before.policy != after.policy)


def _pair_addresses(old: dict[str, EndpointFinding], new: dict[str, EndpointFinding]) -> None:
    """A run with --all-addresses beside one without: each address (`ID@ADDRESS`) is compared with the
    endpoint probed as one (`ID`), so switching the option on or off is not endpoints added and removed."""
    for mine, other in ((old, new), (new, old)):
        for f in [f for f in mine.values() if f.endpoint.address_of in other and f.endpoint.id not in other]:
            parent = other[str(f.endpoint.address_of)]
            if parent.endpoint.address_of is None:
                other[f.endpoint.id] = parent
    for mine, other in ((old, new), (new, old)):
        for endpoint_id in [i for i, f in mine.items() if f.endpoint.address_of is None and _expanded(i, other)]:
            mine.pop(endpoint_id)


def _expanded(endpoint_id: str, findings: dict[str, EndpointFinding]) -> bool:
    return any(f.endpoint.address_of == endpoint_id for f in findings.values())


def _comes_and_goes(endpoint_id: str, old: dict[str, EndpointFinding], new: dict[str, EndpointFinding]) -> bool:
    """An address of a name that only one run has, while both runs probed the name."""
    finding = new.get(endpoint_id) or old.get(endpoint_id)
    parent = finding.endpoint.address_of if finding is not None else None
    if parent is None or (endpoint_id in old and endpoint_id in new):
        return False
    return _expanded(parent, old) and _expanded(parent, new)


def endpoint_changes(a: EndpointFinding, b: EndpointFinding) -> list[Change]:
    """What changed for one endpoint, in a fixed order: verdict first, then the TLS facts, then the
    certificate."""
    pa, pb, endpoint_id = a.probe, b.probe, b.endpoint.id
    found: list[Change] = []

    def add(kind: ChangeKind, before: object, after: object) -> None:
        found.append(Change(endpoint_id, kind, before, after))

    if pa.status is not pb.status:
        add(ChangeKind.STATUS, pa.status.value, pb.status.value)
    elif a.connects != b.connects:
        add(ChangeKind.CONNECTS, a.connects, b.connects)
    if pa.status in _REACHED and pb.status in _REACHED:
        if pa.tls_versions != pb.tls_versions:
            add(ChangeKind.TLS_VERSIONS, [v.value for v in pa.tls_versions], [v.value for v in pb.tls_versions])
        added = [s for s in pb.accepted_tls12 if s not in pa.accepted_tls12]
        removed = [s for s in pa.accepted_tls12 if s not in pb.accepted_tls12]
        if added:
            add(ChangeKind.SUITES_ADDED, None, added)
        if removed:
            add(ChangeKind.SUITES_REMOVED, removed, None)
        if None not in (pa.server_preference, pb.server_preference) and pa.server_preference != pb.server_preference:
            # (None: not known, with fewer than two suites accepted; that alone is no change of order)
            add(ChangeKind.SERVER_ORDER, pa.server_preference, pb.server_preference)
        elif pb.server_preference and _in_common(pa.accepted_tls12, pb.accepted_tls12) != _in_common(
            pb.accepted_tls12, pa.accepted_tls12
        ):
            add(ChangeKind.SERVER_ORDER, list(pa.accepted_tls12), list(pb.accepted_tls12))
    if pa.negotiated != pb.negotiated and pa.negotiated is not None and pb.negotiated is not None:
        add(ChangeKind.NEGOTIATED, pa.negotiated, pb.negotiated)
    ca, cb = pa.certificate, pb.certificate
    if ca is not None and cb is not None and ca.fingerprint_sha256 != cb.fingerprint_sha256:
        add(
            ChangeKind.CERTIFICATE_REPLACED,
            _certificate(ca.subject, ca.not_after),
            _certificate(cb.subject, cb.not_after),
        )
    if b.certificate_warnings and not a.certificate_warnings:
        add(ChangeKind.CERTIFICATE_EXPIRING, None, list(b.certificate_warnings))
    return found


def _in_common(names: Sequence[str], other: Sequence[str]) -> list[str]:
    """`names` that `other` holds too, in the order of `names`: the order both runs can be compared on."""
    return [n for n in names if n in other]


def _certificate(subject: str, not_after: datetime) -> dict[str, str]:
    return {"subject": subject, "not_after": not_after.isoformat()}


def period_start(anchor: datetime | None, first_run: datetime | None, now: datetime, days: int) -> datetime:
    """When the current usage collection period began. Periods run `days` long from the anchor (the last
    `policy apply` or `usage reset`; without one, the first run ever) and follow one another, as the vendor's
    weekly clearing does; an apply or a reset starts a new one at once."""
    base = anchor or first_run or now
    if now <= base:  # an anchor in the future (a clock that was wrong when it was set): the period starts now
        return now
    length = timedelta(days=days)
    return base + length * ((now - base) // length)


def aggregate(
    own: Iterable[tuple[str, str, str]], earlier: Iterable[tuple[str, str, str, datetime]], now: datetime
) -> dict[tuple[str, str], dict[str, datetime]]:
    """Usage over the period: (suite, kind) to {endpoint id: last seen}, from this run's (suite, kind,
    endpoint) triples, seen `now`, and the period's earlier ones with their times."""
    seen: dict[tuple[str, str], dict[str, datetime]] = {}
    for suite, kind, endpoint_id, at in [*earlier, *((s, k, e, now) for s, k, e in own)]:
        users = seen.setdefault((suite, kind), {})
        if endpoint_id not in users or users[endpoint_id] < at:
            users[endpoint_id] = at
    return seen
