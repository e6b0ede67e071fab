"""The codec between the models and the verify-all JSON document (schema `tlsverify/verify-all/1`).

One encoding serves the database, the JSON report and `tlsverify report`; decoding gives back the very
models it was made from. The contract's fields keep their meaning (`ip` is the address the probe dialled);
`configured` holds the endpoint as endpoints.yaml gave it, so a later probe resolves its name again.
`tool` says which tlsverify, sslyze and nassl probed (null for a run stored before it was recorded), and
`suite_codes` gives the IANA code point of every suite name the document holds. The document's JSON Schema
ships as `data/schemas/verify-all-1.json` (`tlsverify schema verify-all`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from scanner import catalog
from scanner.findings import without_tls12
from scanner.models import (
    AddressDisagreement,
    Certificate,
    CertificateIssue,
    CertificateProblem,
    Change,
    ChangeKind,
    Drift,
    Endpoint,
    EndpointFinding,
    EndpointStatus,
    Policy,
    ProbeMode,
    ProbeResult,
    Protocol,
    Proxy,
    SuiteUsage,
    TlsVersion,
    Tool,
    UsagePeriod,
    VerifyAllReport,
)

SCHEMA = "tlsverify/verify-all/1"

Document = dict[str, Any]


def encode_tool(tool: Tool | None) -> Document | None:
    """The tlsverify, sslyze and nassl that produced the results; None when not known (a run stored before
    versions were recorded)."""
    if tool is None:
        return None
    return {"name": tool.name, "version": tool.version, "sslyze": tool.sslyze, "nassl": tool.nassl}


def decode_tool(data: Document | None) -> Tool | None:
    if not data:
        return None
    return Tool(str(data.get("name", "tlsverify")), data.get("version"), data.get("sslyze"), data.get("nassl"))


def encode_policy(policy: Policy) -> Document:
    return {
        "release": policy.release,
        "protocols": [v.value for v in policy.protocols_selected],
        "protocols_disabled": [v.value for v in policy.protocols_disabled],
        "selected": list(policy.selected),
        "disabled": list(policy.disabled),
        "client": policy.client,
    }


def decode_policy(data: Document) -> Policy:
    return Policy(
        release=str(data["release"]),
        protocols_selected=tuple(TlsVersion(v) for v in data.get("protocols", ["TLSv1.2"])),
        protocols_disabled=tuple(TlsVersion(v) for v in data.get("protocols_disabled", [])),
        selected=tuple(data["selected"]),
        disabled=tuple(data["disabled"]),
        client=str(data.get("client", "jsse-17")),
    )


def encode_finding(f: EndpointFinding) -> Document:
    p, e = f.probe, f.endpoint
    return {
        "id": e.id,
        "name": e.name,
        "category": e.category,
        "host": e.host,
        "port": e.port,
        "protocol": e.protocol.value,
        "sni": e.server_name,
        "ip": p.ip,
        "proxy": str(e.proxy) if e.proxy else None,
        "configured": {
            "ip": e.ip,
            "sni": e.sni,
            "enabled": e.enabled,
            "proxy": encode_proxy(e.proxy),
            "ca_file": e.ca_file,
            "address_of": e.address_of,
        },
        "status": p.status.value,
        "connects": f.connects,
        "reason": p.reason,
        "tls_versions": [v.value for v in p.tls_versions],
        "accepted_tls12": list(p.accepted_tls12),
        "accepted_other_hello": list(p.accepted_other_hello),
        "server_preference": p.server_preference,
        "negotiated": p.negotiated,
        "required_disabled": list(f.required_disabled),
        "rescue_suite": f.rescue,
        "accepted_unlisted": list(f.accepted_unlisted),
        "advice": f.advice,
        "connections": p.connections,
        "duration_s": p.duration_s,
        "mode": p.mode.value,
        "notes": list(p.notes),
        "evidence": p.evidence,
        "client_certificate": p.client_certificate,
        "certificate": encode_certificate(p.certificate) if p.certificate else None,
        "certificate_warnings": list(f.certificate_warnings),
    }


def encode_proxy(proxy: Proxy | None) -> Document | None:
    """The proxy as configured: its host and port, and the names (never the values) of its credentials'
    environment variables."""
    if proxy is None:
        return None
    return {
        "host": proxy.host,
        "port": proxy.port,
        "username_env": proxy.username_env,
        "password_env": proxy.password_env,
    }


def decode_proxy(data: Document | None) -> Proxy | None:
    if not data:
        return None
    return Proxy(str(data["host"]), int(data["port"]), data.get("username_env"), data.get("password_env"))


def encode_certificate(c: Certificate) -> Document:
    return {
        "subject": c.subject,
        "issuer": c.issuer,
        "sans": list(c.sans),
        "key_type": c.key_type,
        "key_bits": c.key_bits,
        "signature": c.signature,
        "not_before": c.not_before.isoformat(),
        "not_after": c.not_after.isoformat(),
        "fingerprint_sha256": c.fingerprint_sha256,
        "chain_length": c.chain_length,
        "trust": c.trust,
        "refused": c.refused,
        "problems": [{"kind": i.kind.value, "detail": i.detail, "refused": i.refused} for i in c.problems],
    }


def decode_certificate(data: Document | None) -> Certificate | None:
    if not data:
        return None
    return Certificate(
        subject=data["subject"],
        issuer=data["issuer"],
        sans=tuple(data.get("sans", [])),
        key_type=data["key_type"],
        key_bits=int(data["key_bits"]),
        signature=data.get("signature", ""),
        not_before=datetime.fromisoformat(data["not_before"]),
        not_after=datetime.fromisoformat(data["not_after"]),
        fingerprint_sha256=data.get("fingerprint_sha256", ""),
        chain_length=int(data.get("chain_length", 1)),
        trust=data.get("trust", "system"),
        problems=tuple(
            CertificateIssue(CertificateProblem(i["kind"]), i["detail"], bool(i.get("refused", True)))
            for i in data.get("problems", [])
        ),
    )


def decode_endpoint(e: Document) -> Endpoint:
    """The endpoint as configured. A document from before `configured` existed only knows the address the
    probe dialled, so that stands in for the configured one."""
    configured = e.get("configured")
    if configured is None:
        configured = {"ip": e.get("ip"), "sni": e.get("sni") if e.get("sni") != e["host"] else None}
    return Endpoint(
        id=e["id"],
        name=e.get("name") or e["id"],
        category=e.get("category", "other"),
        host=e["host"],
        port=int(e["port"]),
        protocol=Protocol(e.get("protocol", "https")),
        sni=configured.get("sni"),
        ip=configured.get("ip"),
        enabled=bool(configured.get("enabled", True)),
        proxy=decode_proxy(configured.get("proxy")),
        ca_file=configured.get("ca_file"),
        address_of=configured.get("address_of"),
    )


def decode_probe(e: Document) -> ProbeResult:
    return ProbeResult(
        endpoint_id=e["id"],
        status=EndpointStatus(e["status"]),
        reason=e.get("reason"),
        ip=e.get("ip"),
        tls_versions=tuple(TlsVersion(v) for v in e.get("tls_versions", [])),
        accepted_tls12=tuple(e.get("accepted_tls12", [])),
        accepted_other_hello=tuple(e.get("accepted_other_hello", [])),
        server_preference=e.get("server_preference"),
        negotiated=e.get("negotiated"),
        connections=int(e.get("connections", 0)),
        duration_s=float(e.get("duration_s", 0.0)),
        mode=ProbeMode(e.get("mode", ProbeMode.ELIMINATION.value)),
        notes=tuple(e.get("notes", [])),
        evidence=e.get("evidence"),
        client_certificate=e.get("client_certificate"),
        certificate=decode_certificate(e.get("certificate")),
    )


def decode_finding(e: Document) -> EndpointFinding:
    return EndpointFinding(
        endpoint=decode_endpoint(e),
        probe=decode_probe(e),
        required_disabled=tuple(e.get("required_disabled", [])),
        accepted_unlisted=tuple(e.get("accepted_unlisted", [])),
        advice=e.get("advice"),
        rescue=e.get("rescue_suite"),
        certificate_warnings=tuple(e.get("certificate_warnings", [])),
    )


def encode(report: VerifyAllReport) -> Document:
    """The JSON document; the names in the contract's schema keep their meaning, the rest is extra."""
    counts: dict[str, int] = {s.value: 0 for s in EndpointStatus}
    for f in report.findings:
        counts[f.probe.status.value] += 1
    doc: Document = {
        "schema": SCHEMA,
        "tool": encode_tool(report.tool),
        "generated_at": report.generated_at.isoformat(),
        "complete": report.complete,
        "partial": report.partial,
        "usage_period_start": _period_since(report).isoformat(),
        "usage_period": (
            {"since": report.usage_period.since.isoformat(), "runs": report.usage_period.runs}
            if report.usage_period
            else None
        ),
        "source": report.source,
        "policy_applied_at": report.period_start.isoformat() if report.period_start else None,
        "run_id": report.run_id,
        "policy": encode_policy(report.policy),
        "summary": {
            "endpoints": len(report.findings),
            "connect": sum(1 for f in report.findings if f.connects),
            "certificate_refused": sum(
                1 for f in report.findings if f.probe.certificate and f.probe.certificate.refused
            ),
            "certificate_warnings": sum(1 for f in report.findings if f.certificate_warnings),
            **counts,
        },
        "endpoints": [encode_finding(f) for f in report.findings],
        "suites": [
            {
                "name": s.name,
                "code": _code(s.name),
                "jsse_name": s.jsse_name,
                "list": s.list,
                "position": s.position,
                "strength": s.strength,
                "negotiated_by": list(s.negotiated_by),
                "required_by": list(s.required_by),
                "last_seen": {endpoint_id: at.isoformat() for endpoint_id, at in s.last_seen},
                "legacy": s.legacy,
            }
            for s in report.suites
        ],
        "drift": encode_drift(report.drift),
        "unused_selected": list(report.unused_selected),
        "without_tls12": [f.endpoint.id for f in without_tls12(report)],
        "address_disagreements": [
            {"endpoint": d.endpoint_id, "addresses": list(d.addresses), "differ": list(d.aspects)}
            for d in report.address_disagreements
        ],
    }
    doc["suite_codes"] = catalog.code_points(suite_names(doc))
    return doc


def _code(name: str) -> str | None:
    suite = catalog.find(name)
    return suite.code_hex if suite else None


# Drift kinds whose `before` and `after` are suite names (a suite, or a list of them).
_SUITE_CHANGES = {ChangeKind.SUITES_ADDED, ChangeKind.SUITES_REMOVED, ChangeKind.SERVER_ORDER, ChangeKind.NEGOTIATED}


def suite_names(doc: Document) -> Iterator[str]:
    """Every suite name an encoded verify-all document holds: the policy's lists, each endpoint's suites,
    the suites' table, the unused Selected suites and the suites of drift changes."""
    policy = doc["policy"]
    yield from policy["selected"]
    yield from policy["disabled"]
    for e in doc["endpoints"]:
        for key in ("accepted_tls12", "accepted_other_hello", "required_disabled", "accepted_unlisted"):
            yield from e[key]
        for key in ("negotiated", "rescue_suite"):
            if e[key]:
                yield e[key]
    yield from (s["name"] for s in doc["suites"])
    yield from doc["unused_selected"]
    for change in doc["drift"]["changes"] if doc["drift"] else ():
        if ChangeKind(change["kind"]) in _SUITE_CHANGES:
            for value in (change["before"], change["after"]):
                if isinstance(value, str):
                    yield value
                elif isinstance(value, list):
                    yield from (v for v in value if isinstance(v, str))


def _period_since(report: VerifyAllReport) -> datetime:
    if report.usage_period is not None:
        return report.usage_period.since
    return report.period_start or report.generated_at


def encode_drift(drift: Drift | None) -> Document | None:
    if drift is None:
        return None
    return {
        "previous_run": drift.previous_run,
        "policy_changed": drift.policy_changed,
        "changes": [
            {"endpoint": c.endpoint_id, "kind": c.kind.value, "before": c.before, "after": c.after}
            for c in drift.changes
        ],
    }


def decode_drift(data: Document | None) -> Drift | None:
    if data is None:
        return None
    changes = tuple(
        Change(c["endpoint"], ChangeKind(c["kind"]), c.get("before"), c.get("after")) for c in data["changes"]
    )
    return Drift(data.get("previous_run"), changes, bool(data.get("policy_changed", False)))


def decode(document: Document, run_id: int | None = None) -> VerifyAllReport:
    """The report a document was encoded from (`run_id` from the store, which knows it for certain)."""
    generated = datetime.fromisoformat(document["generated_at"])
    if "policy_applied_at" in document:
        applied = document["policy_applied_at"]
        period = datetime.fromisoformat(applied) if applied else None
    else:  # written before policy_applied_at: a period start other than the run's time was a policy's
        start = datetime.fromisoformat(document.get("usage_period_start") or document["generated_at"])
        period = start if start != generated else None
    return VerifyAllReport(
        generated_at=generated,
        policy=decode_policy(document["policy"]),
        findings=tuple(decode_finding(e) for e in document["endpoints"]),
        suites=tuple(
            SuiteUsage(
                name=s["name"],
                jsse_name=s["jsse_name"],
                list=s["list"],
                position=int(s["position"]),
                negotiated_by=tuple(s.get("negotiated_by", [])),
                required_by=tuple(s.get("required_by", [])),
                legacy=bool(s.get("legacy", False)),
                strength=str(s.get("strength", "")),
                last_seen=tuple((e, datetime.fromisoformat(t)) for e, t in s.get("last_seen", {}).items()),
            )
            for s in document["suites"]
        ),
        unused_selected=tuple(document.get("unused_selected", [])),
        complete=bool(document["complete"]),
        partial=bool(document.get("partial", False)),
        run_id=run_id if run_id is not None else document.get("run_id"),
        period_start=period,
        address_disagreements=tuple(
            AddressDisagreement(d["endpoint"], tuple(d["addresses"]), tuple(d["differ"]))
            for d in document.get("address_disagreements", [])
        ),
        drift=decode_drift(document.get("drift")),
        usage_period=_decode_period(document.get("usage_period")),
        source=document.get("source"),
        tool=decode_tool(document.get("tool")),
    )


def _decode_period(data: Document | None) -> UsagePeriod | None:
    if not data:
        return None
    return UsagePeriod(datetime.fromisoformat(data["since"]), int(data["runs"]))


def scanned(report: VerifyAllReport) -> list[tuple[Endpoint, ProbeResult]]:
    """Each endpoint as configured with what its probe found: what predictions are made from."""
    return [(f.endpoint, f.probe) for f in report.findings]
