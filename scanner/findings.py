"""Cross-reference probe results with the policy: who negotiated what, which Disabled suites are required,
which Selected suites nobody uses, and what the admin should do. Pure: no I/O, time passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from scanner import catalog, clients
from scanner.models import (
    AddressDisagreement,
    Certificate,
    CertificateProblem,
    Endpoint,
    EndpointFinding,
    EndpointStatus,
    Policy,
    ProbeResult,
    SuiteUsage,
    TlsVersion,
    UsagePeriod,
    VerifyAllReport,
)

EXPIRY_WARNING_DAYS = 30
"""A certificate that expires within this many days is a warning."""


def finding(
    endpoint: Endpoint,
    probe: ProbeResult,
    policy: Policy,
    now: datetime | None = None,
    expiry_days: int = EXPIRY_WARNING_DAYS,
) -> EndpointFinding:
    """One endpoint's result read against the policy, with the fix where something is wrong; `now` is when
    the certificate's remaining life is counted from (none: no expiry warning)."""
    required: tuple[str, ...] = ()
    unlisted: tuple[str, ...] = ()
    if probe.status is EndpointStatus.NO_COMMON_SUITE:
        disabled = set(policy.disabled)
        listed = disabled | set(policy.selected)
        # Only a suite the client implements can rescue the endpoint once it is Selected.
        required = clients.get(policy.client).implemented(s for s in probe.client_accepted if s in disabled)
        unlisted = tuple(s for s in probe.accepted_tls12 if s not in listed)
    rescue = catalog.strongest_first(required)[0] if required else None
    advice = _advice(probe, policy, rescue, unlisted) or _certificate_advice(probe.certificate)
    warnings = _expiry_warning(probe.certificate, now, expiry_days)
    return EndpointFinding(endpoint, probe, required, unlisted, advice, rescue, warnings)


def _certificate_advice(certificate: Certificate | None) -> str | None:
    if certificate is None or not certificate.refused:
        return None
    why = "; ".join(p.detail for p in certificate.problems if p.refused)
    fix = "Give the server a certificate the client trusts for this name"
    if any(p.kind is CertificateProblem.UNTRUSTED for p in certificate.problems):
        fix += ", or add its CA to the client's trust store (tlsverify: ca_file)"
    return f"The client refuses the server's certificate ({why}). {fix}."


def _expiry_warning(certificate: Certificate | None, now: datetime | None, days: int) -> tuple[str, ...]:
    if certificate is None or now is None or certificate.not_after <= now:
        return ()
    left = certificate.not_after - now
    if left > timedelta(days=days):
        return ()
    return (f"certificate expires in {left.days} day(s), on {certificate.not_after.date().isoformat()}",)


def _advice(probe: ProbeResult, policy: Policy, rescue: str | None, unlisted: Sequence[str]) -> str | None:
    status = probe.status
    if status is EndpointStatus.OK:
        return None
    if status is EndpointStatus.NO_COMMON_SUITE:
        offer_instead = ", ".join(policy.selected[:3])
        if rescue:
            return (
                f"Move a Disabled suite the server accepts to Selected (strongest: {rescue}), "
                f"or configure the server to accept a Selected suite such as {offer_instead}."
            )
        if unlisted:
            return (
                f"The server only accepts suites release {policy.release} does not have "
                f"({', '.join(unlisted[:3])}); configure the server to accept a Selected suite such as {offer_instead}."
            )
        return f"Configure the server to accept a Selected suite such as {offer_instead}."
    if status is EndpointStatus.NO_TLS12:
        spoken = ", ".join(probe.tls_versions) or "no version we could test"
        return f"Enable TLS 1.2 on the server (it speaks {spoken}); the client uses TLS 1.2 only."
    if status is EndpointStatus.DNS_ERROR:
        return "Check the host name, or set 'ip' in endpoints.yaml to connect to a known address."
    if status is EndpointStatus.UNREACHABLE:
        return "Check the host, the port and any firewall between the client and the server."
    if status is EndpointStatus.TIMEOUT:
        return "The server or the network is too slow or silent; check the port, or raise --timeout."
    if status is EndpointStatus.INTERNAL_ERROR:
        return "tlsverify itself failed here (a bug, not the server's doing): please report it with the reason."
    return "The server did not complete a TLS handshake; check that this port speaks TLS directly."


def suite_usage(
    policy: Policy, findings: Sequence[EndpointFinding], legacy: Collection[str] = ()
) -> tuple[SuiteUsage, ...]:
    """Every suite of the policy, Selected in order then Disabled, with the endpoints that used it.
    `legacy` names the suites the policy's release no longer ships."""
    rows = []
    for list_name, names in (("selected", policy.selected), ("disabled", policy.disabled)):
        for position, name in enumerate(names, start=1):
            suite = catalog.resolve(name)
            rows.append(
                SuiteUsage(
                    name=name,
                    jsse_name=suite.jsse_name,
                    list=list_name,
                    position=position,
                    negotiated_by=tuple(f.endpoint.id for f in findings if f.probe.negotiated == name),
                    required_by=tuple(f.endpoint.id for f in findings if name in f.required_disabled),
                    legacy=name in legacy,
                    strength=suite.strength.value,
                )
            )
    return tuple(rows)


def verify_all_report(
    endpoints: Sequence[Endpoint],
    results: Sequence[ProbeResult],
    policy: Policy,
    generated_at: datetime,
    complete: bool = True,
    legacy: Collection[str] = (),
    expiry_days: int = EXPIRY_WARNING_DAYS,
) -> VerifyAllReport:
    """The whole run: findings sorted by endpoint id, suite usage, and Selected suites nobody used."""
    by_id = {r.endpoint_id: r for r in results}
    ordered = sorted(endpoints, key=lambda e: e.id)
    findings = tuple(finding(e, by_id[e.id], policy, generated_at, expiry_days) for e in ordered if e.id in by_id)
    suites = tuple(
        replace(s, last_seen=tuple((e, generated_at) for e in sorted({*s.negotiated_by, *s.required_by})))
        for s in suite_usage(policy, findings, legacy)
    )
    unused = tuple(s.name for s in suites if s.list == "selected" and not s.negotiated_by)
    report = VerifyAllReport(generated_at, policy, findings, suites, unused, complete)
    return replace(report, address_disagreements=address_disagreements(findings))


def own_usage(findings: Sequence[EndpointFinding]) -> list[tuple[str, str, str]]:
    """This run's (suite, kind, endpoint id): the suite each endpoint negotiated, the Disabled suites it required."""
    used = [(f.probe.negotiated, "negotiated", f.endpoint.id) for f in findings if f.probe.negotiated]
    used += [(name, "required", f.endpoint.id) for f in findings for name in f.required_disabled]
    return [(str(suite), kind, endpoint_id) for suite, kind, endpoint_id in used]


def over_period(
    report: VerifyAllReport, usage: dict[tuple[str, str], dict[str, datetime]], period: UsagePeriod
) -> VerifyAllReport:
    """The report with its suites' usage taken over the whole collection period, as the vendor's asterisks
    accumulate: negotiated_by and required_by list every endpoint seen in the period (this run's first),
    with when each was last seen; Selected suites unused over the period."""
    this_run = [f.endpoint.id for f in report.findings]

    def users(name: str, kind: str) -> tuple[str, ...]:
        seen = usage.get((name, kind), {})
        return tuple(sorted(seen, key=lambda e: (e not in this_run, this_run.index(e) if e in this_run else 0, e)))

    suites = tuple(
        replace(
            s,
            negotiated_by=users(s.name, "negotiated"),
            required_by=users(s.name, "required"),
            last_seen=tuple(
                sorted({**usage.get((s.name, "negotiated"), {}), **usage.get((s.name, "required"), {})}.items())
            ),
        )
        for s in report.suites
    )
    unused = tuple(s.name for s in suites if s.list == "selected" and not s.negotiated_by)
    return replace(report, suites=suites, unused_selected=unused, usage_period=period)


def address_disagreements(findings: Sequence[EndpointFinding]) -> tuple[AddressDisagreement, ...]:
    """Where the addresses behind one name (--all-addresses) answered differently: status, versions,
    accepted suites, server order, negotiated suite, certificate."""
    groups: dict[str, list[EndpointFinding]] = {}
    for f in findings:
        if f.endpoint.address_of is not None:
            groups.setdefault(f.endpoint.address_of, []).append(f)
    found = []
    for endpoint_id, members in sorted(groups.items()):
        aspects = [aspect for aspect, value in _ASPECTS if len({value(m.probe) for m in members}) > 1]
        if aspects:
            addresses = tuple(m.endpoint.ip or "" for m in members)
            found.append(AddressDisagreement(endpoint_id, addresses, tuple(aspects)))
    return tuple(found)


_ASPECTS: tuple[tuple[str, Callable[[ProbeResult], object]], ...] = (
    ("status", lambda p: p.status),
    ("tls_versions", lambda p: p.tls_versions),
    ("accepted_tls12", lambda p: frozenset(p.accepted_tls12)),
    ("server_preference", lambda p: p.server_preference),
    ("negotiated", lambda p: p.negotiated),
    ("certificate", lambda p: p.certificate.fingerprint_sha256 if p.certificate else None),
)


def without_tls12(report: VerifyAllReport) -> tuple[EndpointFinding, ...]:
    """Endpoints that answered TLS but not TLS 1.2."""
    return tuple(
        f
        for f in report.findings
        if f.probe.status is EndpointStatus.NO_TLS12
        or (f.probe.tls_versions and TlsVersion.TLSV1_2 not in f.probe.tls_versions)
    )


UNPROBED = frozenset({EndpointStatus.UNREACHABLE, EndpointStatus.DNS_ERROR, EndpointStatus.TIMEOUT})
"""Statuses that say the network kept the probe from the server: nothing is known of its policy."""


def exit_code(report: VerifyAllReport) -> int:
    """0 when the client connects to every probed endpoint (negotiation and certificate); 1 when one does not
    for a reason of policy, TLS or certificate (or a tlsverify error); else 3 when some could not be probed
    at all (unreachable, timeout, DNS): a monitoring job tells a network problem from a policy one."""
    failing = [f for f in report.findings if not f.connects]
    if any(f.probe.status not in UNPROBED for f in failing):
        return 1
    return 3 if failing else 0
