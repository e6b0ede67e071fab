"""The codec between the models and the stored document: a stored run decodes to the very models it was
made from, and a later probe dials the endpoint as configured, not the address an old scan resolved."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from scanner import document
from scanner import findings as analysis
from scanner.cli import main
from scanner.config import write_endpoints
from scanner.lab.servers import Lab, ServerSpec
from scanner.models import (
    Endpoint,
    EndpointStatus,
    Policy,
    ProbeMode,
    ProbeResult,
    Protocol,
    TlsVersion,
    VerifyAllReport,
)
from scanner.store import Store
from tests.conftest import ROOT

POLICY = Policy(
    "10.3.0.0",
    (TlsVersion.TLSV1_2,),
    (TlsVersion.TLSV1_0, TlsVersion.TLSV1_1),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("TLS_RSA_WITH_AES_128_CBC_SHA",),
    client="jsse-11",
)


def a_report() -> VerifyAllReport:
    endpoints = [
        # configured by name only: the probe resolved it; the stored endpoint must not pin that address
        Endpoint("apns", "APNS", "APNS", "apns.example", 443),
        # configured with an address and an SNI name equal to its host, and disabled
        Endpoint(
            "scep", "SCEP", "SCEP", "scep.example", 8443, Protocol.TLS, sni="scep.example", ip="10.0.0.2", enabled=False
        ),
    ]
    results = [
        ProbeResult(
            "apns",
            EndpointStatus.OK,
            ip="192.0.2.7",
            tls_versions=(TlsVersion.TLSV1_2, TlsVersion.TLSV1_3),
            accepted_tls12=("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",),
            server_preference=True,
            negotiated="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            connections=9,
            duration_s=0.25,
            notes=("a note",),
            evidence="the client's own hello ...",
        ),
        ProbeResult(
            "scep",
            EndpointStatus.NO_COMMON_SUITE,
            reason="none shared",
            ip="10.0.0.2",
            tls_versions=(TlsVersion.TLSV1_2,),
            accepted_tls12=("TLS_RSA_WITH_AES_128_CBC_SHA",),
            mode=ProbeMode.EXHAUSTIVE,
        ),
    ]
    generated = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    report = analysis.verify_all_report(endpoints, results, POLICY, generated, legacy=frozenset())
    return replace(report, period_start=datetime(2026, 11, 30, tzinfo=UTC))


def test_a_stored_run_decodes_to_the_models_it_was_made_from(tmp_path: Path) -> None:
    made = a_report()
    assert document.decode(json.loads(json.dumps(document.encode(made)))) == made
    with Store(tmp_path / "db.sqlite") as store:
        run_id = store.save(made)
        stored = store.run(run_id)
    assert stored is not None and stored.report == replace(made, run_id=run_id)
    apns = stored.report.findings[0]
    assert apns.endpoint.ip is None and apns.probe.ip == "192.0.2.7"  # as configured; as dialled


def test_impact_verify_resolves_names_again(tmp_path: Path) -> None:
    """A scan of `localhost` stored, then the stored address made wrong: impact --verify still reaches the
    server, because it looks the name up again instead of dialling what an old scan found."""
    with Lab() as lab:
        server = lab.start(ServerSpec("by-name", "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"))
        endpoints = tmp_path / "endpoints.yaml"
        entry: dict[str, object] = {"id": "by-name", "host": "localhost", "port": server.port, "protocol": "tls"}
        write_endpoints([entry], endpoints, "one endpoint, by name", lab.certificates.ca_bundle())
        out = tmp_path / "out"
        common = ["--endpoints", str(endpoints), "--policy", str(ROOT / "policy.yaml"), "--out", str(out)]
        assert main(["verify-all", *common, "--no-progress"]) == 0
        db = out / "tlsverify.sqlite"
        with sqlite3.connect(db) as raw:
            (text,) = raw.execute("SELECT report_json FROM runs").fetchone()
            assert '"ip": "127.0.0.1"' in text
            raw.execute("UPDATE runs SET report_json = ?", (text.replace('"ip": "127.0.0.1"', '"ip": "127.0.0.9"'),))
        with Store(db) as store:
            latest = store.latest()
        assert latest is not None and latest.report.findings[0].probe.ip == "127.0.0.9"
        assert main(["impact", "--reset-to-default", "--verify", *common, "--no-progress"]) == 0
        row = json.loads((out / "impact.json").read_text())["endpoints"][0]
        assert row["verified"] is True, row
