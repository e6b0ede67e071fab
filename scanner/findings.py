"""Cross-reference probe results with the policy: who negotiated what, which Disabled suites are required,
which Selected suites nobody uses, and what the admin should do. Pure: no I/O, time passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from scanner import catalog, clients
from scanner.models import (
    Endpoint,
    EndpointFinding,
    EndpointStatus,
    Policy,
    ProbeResult,
    SuiteUsage,
    TlsVersion,
    VerifyAllReport,
)


def finding(endpoint: Endpoint, probe: ProbeResult, policy: Policy) -> EndpointFinding:
    """One endpoint's result read against the policy, with the fix where something is wrong."""
    required: tuple[str, ...] = ()
    unlisted: tuple[str, ...] = ()
    if probe.status is EndpointStatus.NO_COMMON_SUITE:
        disabled = set(policy.disabled)
        listed = disabled | set(policy.selected)
        # Only a suite the client implements can rescue the endpoint once it is Selected.
        required = clients.get(policy.client).implemented(s for s in probe.client_accepted if s in disabled)
        unlisted = tuple(s for s in probe.accepted_tls12 if s not in listed)
    rescue = catalog.strongest_first(required)[0] if required else None
    return EndpointFinding(endpoint, probe, required, unlisted, _advice(probe, policy, rescue, unlisted), rescue)


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
) -> VerifyAllReport:
    """The whole run: findings sorted by endpoint id, suite usage, and Selected suites nobody used."""
    by_id = {r.endpoint_id: r for r in results}
    findings = tuple(finding(e, by_id[e.id], policy) for e in sorted(endpoints, key=lambda e: e.id) if e.id in by_id)
    suites = suite_usage(policy, findings, legacy)
    unused = tuple(s.name for s in suites if s.list == "selected" and not s.negotiated_by)
    return VerifyAllReport(generated_at, policy, findings, suites, unused, complete)


def without_tls12(report: VerifyAllReport) -> tuple[EndpointFinding, ...]:
    """Endpoints that answered TLS but not TLS 1.2."""
    return tuple(
        f
        for f in report.findings
        if f.probe.status is EndpointStatus.NO_TLS12
        or (f.probe.tls_versions and TlsVersion.TLSV1_2 not in f.probe.tls_versions)
    )


def exit_code(report: VerifyAllReport) -> int:
    """0 when every probed endpoint is ok under the policy, 1 otherwise."""
    return 0 if all(f.probe.status is EndpointStatus.OK for f in report.findings) else 1
