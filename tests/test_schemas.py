"""The JSON Schemas: shipped and valid, strict enough to mean something, the input files' ones equal to what
their pydantic models generate; `tlsverify schema`; documents stored before `tool` and the code points still
read; and the check every test's documents pass, shown to fail a test that leaves a broken one."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from scanner import catalog, clients, document, drift, schemas, versions
from scanner import findings as analysis
from scanner import impact as predictions
from scanner.catalog import Strength
from scanner.cli import main
from scanner.config import load_releases
from scanner.config import schemas as models
from scanner.config.source import read_yaml
from scanner.impact import ImpactStatus
from scanner.models import (
    Certificate,
    CertificateIssue,
    CertificateProblem,
    ChangeKind,
    Endpoint,
    EndpointStatus,
    Policy,
    ProbeMode,
    ProbeResult,
    Protocol,
    Proxy,
    TlsVersion,
    Tool,
    UsagePeriod,
    VerifyAllReport,
)
from scanner.report import impact_report
from scanner.store import Store
from tests.conftest import ROOT
from tests.documents import Checked, assert_valid, problems, schema_errors

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
A256 = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
A128 = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
CHACHA = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
RSA128 = "TLS_RSA_WITH_AES_128_CBC_SHA"
DES3 = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
POLICY = Policy("12.0.0.0", (TlsVersion.TLSV1_2,), (), (A256, A128, CHACHA), (RSA128,), client="jsse-17")
TOOL = Tool("tlsverify", "0.1.0", "6.3.1", "5.4.0")


def by_name(name: str) -> schemas.Schema:
    schema = schemas.find(name)
    assert schema is not None
    return schema


# --- the shipped schemas ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", schemas.SCHEMAS, ids=lambda s: s.name)
def test_every_schema_is_a_draft_2020_12_schema_with_a_stable_id(schema: schemas.Schema) -> None:
    body = schemas.load(schema)
    Draft202012Validator.check_schema(body)
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert body["$id"] == f"https://tlsverify.invalid/schemas/{schema.file}"
    assert body["title"] == schema.title and body["description"]
    assert body["type"] == "object" and body["additionalProperties"] is False


@pytest.mark.parametrize("schema", [s for s in schemas.SCHEMAS if s.model], ids=lambda s: s.name)
def test_the_input_schemas_are_what_the_models_generate(schema: schemas.Schema) -> None:
    assert schemas.text(schema) == schemas.generated(schema), "run `python -m scanner.schemas` to write it again"


def test_a_hand_written_schema_is_not_generated() -> None:
    with pytest.raises(ValueError, match="written by hand"):
        schemas.generated(by_name("verify-all"))


def _objects(node: object, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that describes an object by its properties."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{where}/{i}")


@pytest.mark.parametrize("name", ["verify-all", "impact"])
def test_every_object_of_a_document_has_a_fixed_shape(name: str) -> None:
    """The codecs write every key every time: each one required, none other allowed."""
    found = list(_objects(schemas.load(by_name(name))))
    assert len(found) >= 5 and found[0][0] == ""  # the document itself, then its parts
    for where, node in found:
        assert node.get("additionalProperties") is False, where
        assert sorted(node["required"]) == sorted(node["properties"]), where


@pytest.mark.parametrize("name", ["verify-all", "impact"])
def test_every_top_level_field_is_described(name: str) -> None:
    body = schemas.load(by_name(name))
    for key, field in body["properties"].items():
        target = body["$defs"][field["$ref"].rsplit("/", 1)[1]] if "$ref" in field else field
        assert field.get("description") or target.get("description"), key


def _enum(node: dict[str, Any]) -> list[object]:
    return list(node["enum"])


def test_the_schemas_enumerate_what_the_models_do() -> None:
    va = schemas.load(by_name("verify-all"))
    defs = va["$defs"]
    endpoint = defs["endpoint"]["properties"]
    statuses = [s.value for s in EndpointStatus]
    assert _enum(defs["status"]) == statuses
    assert _enum(defs["tls_version"]) == [v.value for v in TlsVersion]
    assert _enum(endpoint["protocol"]) == [p.value for p in Protocol]
    assert _enum(endpoint["mode"]) == [m.value for m in ProbeMode]
    kinds = defs["certificate"]["properties"]["problems"]["items"]["properties"]["kind"]
    assert _enum(kinds) == [p.value for p in CertificateProblem]
    assert _enum(defs["change"]["properties"]["kind"]) == [k.value for k in ChangeKind]
    clauses = [c["if"]["properties"]["kind"]["const"] for c in defs["change"]["allOf"]]
    assert clauses == [k.value for k in ChangeKind]  # before and after are typed for every kind
    assert _enum(defs["suite"]["properties"]["strength"]) == [s.value for s in Strength]
    assert _enum(defs["policy"]["properties"]["client"]) == list(clients.PROFILES)
    assert va["properties"]["summary"]["required"] == [
        "endpoints",
        "connect",
        "certificate_refused",
        "certificate_warnings",
        *statuses,
    ]
    differ = va["properties"]["address_disagreements"]["items"]["properties"]["differ"]["items"]
    assert _enum(differ) == [aspect for aspect, _ in analysis._ASPECTS]
    impact = schemas.load(by_name("impact"))
    assert _enum(impact["$defs"]["endpoint"]["properties"]["status"]) == [s.value for s in ImpactStatus]
    assert impact["properties"]["summary"]["required"] == ["endpoints", *[s.value for s in ImpactStatus], "mismatches"]
    endpoints = schemas.load(by_name("endpoints"))
    assert _enum(endpoints["$defs"]["EndpointModel"]["properties"]["protocol"]) == [p.value for p in Protocol]


def test_every_suite_of_the_catalog_fits_the_schemas_patterns() -> None:
    for name in ("verify-all", "impact"):
        defs = schemas.load(by_name(name))["$defs"]
        names = Draft202012Validator(defs["suite_name"])
        codes = Draft202012Validator(defs["suite_code"])
        for suite in catalog.all_suites():
            assert names.is_valid(suite.name) and codes.is_valid(suite.code_hex), suite
        assert not codes.is_valid("0xc02f") and not codes.is_valid("0xC0,0x2F") and not codes.is_valid("49199")
    assert catalog.resolve(A128).code_hex == "0xC02F"


# --- the documents -----------------------------------------------------------------------------------------------


def certificate(fingerprint: str, not_after: datetime, *problems: CertificateIssue) -> Certificate:
    return Certificate(
        subject="CN=stay.example",
        issuer="CN=Example CA",
        sans=("DNS:stay.example", "IP:192.0.2.7"),
        key_type="RSA",
        key_bits=2048,
        signature="sha256WithRSAEncryption",
        not_before=T0 - timedelta(days=300),
        not_after=not_after,
        fingerprint_sha256=":".join([fingerprint] * 32),
        chain_length=2,
        trust="system",
        problems=problems,
    )


def site(generated: datetime, new: bool) -> VerifyAllReport:
    """A run over endpoints chosen so that the run after (`new`) differs from the one before in every way a
    change can be: each ChangeKind, address disagreements, a configured proxy, a refused certificate."""
    proxy = Proxy("proxy.example", 3128, "TLSVERIFY_PROXY_USER", "TLSVERIFY_PROXY_PASSWORD")
    endpoints = [
        Endpoint("stay", "Stay", "APNS", "stay.example", 443, proxy=proxy),
        Endpoint("flip", "Flip", "SCEP", "flip.example", 8443, Protocol.TLS),
        Endpoint("order", "Order", "LDAP", "order.example", 636, Protocol.LDAPS, ca_file="/etc/ca.pem"),
        Endpoint("refusing", "Refusing", "SMTP", "refusing.example", 587, Protocol.SMTP_STARTTLS),
        Endpoint("gone" if not new else "new", "Other", "other", "other.example", 443),
        *(
            Endpoint(f"multi@{ip}", "Multi", "other", "multi.example", 443, ip=ip, address_of="multi")
            for ip in ("192.0.2.1", "2001:db8::1")
        ),
    ]
    untrusted = CertificateIssue(CertificateProblem.UNTRUSTED, "not issued by a trusted CA", True)
    weak = CertificateIssue(CertificateProblem.WEAK_SIGNATURE, "SHA-1 under a private CA", False)
    results = [
        ProbeResult(
            "stay",
            EndpointStatus.OK,
            ip=None,
            tls_versions=(TlsVersion.TLSV1_2, TlsVersion.TLSV1_3) if new else (TlsVersion.TLSV1_2,),
            accepted_tls12=(A128, CHACHA) if new else (A256, A128),
            server_preference=not new,
            negotiated=A128 if new else A256,
            connections=12,
            duration_s=0.4,
            client_certificate="optional",
            certificate=certificate("AB" if new else "CD", T0 + timedelta(days=10 if new else 400)),
        ),
        ProbeResult(
            "flip",
            EndpointStatus.NO_COMMON_SUITE if new else EndpointStatus.OK,
            reason="no Selected suite is accepted" if new else None,
            ip="192.0.2.8",
            tls_versions=(TlsVersion.TLSV1_2,),
            accepted_tls12=(RSA128, DES3) if new else (A256, RSA128),
            accepted_other_hello=(DES3,) if new else (),
            negotiated=None if new else A256,
            evidence="the client's own hello was refused" if new else None,
            mode=ProbeMode.EXHAUSTIVE,
        ),
        ProbeResult(
            "order",
            EndpointStatus.OK,
            ip="192.0.2.9",
            tls_versions=(TlsVersion.TLSV1_2,),
            accepted_tls12=(A128, A256) if new else (A256, A128),
            server_preference=True,
            negotiated=A128 if new else A256,
            notes=("asked again in slices of 32 suites",),
        ),
        ProbeResult(
            "refusing",
            EndpointStatus.OK,
            ip="192.0.2.10",
            tls_versions=(TlsVersion.TLSV1_2,),
            accepted_tls12=(A256,),
            negotiated=A256,
            certificate=certificate("EF", T0 + timedelta(days=400), untrusted, weak) if new else None,
        ),
        ProbeResult("new" if new else "gone", EndpointStatus.UNREACHABLE, reason="connection refused"),
        ProbeResult("multi@192.0.2.1", EndpointStatus.OK, ip="192.0.2.1", tls_versions=(TlsVersion.TLSV1_2,)),
        ProbeResult("multi@2001:db8::1", EndpointStatus.TIMEOUT, ip="2001:db8::1", reason="no answer"),
    ]
    return analysis.verify_all_report(endpoints, results, POLICY, generated, legacy=frozenset({RSA128}))


def full_report() -> VerifyAllReport:
    before, after = site(T0 - timedelta(days=1), new=False), site(T0, new=True)
    return replace(
        after,
        drift=drift.compare(before, after, 1),
        run_id=2,
        period_start=T0 - timedelta(days=3),
        usage_period=UsagePeriod(T0 - timedelta(days=3), 2),
        source="/srv/tlsverify/endpoints.yaml",
        tool=TOOL,
    )


def full_document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(document.encode(full_report())))
    return doc


def test_a_document_with_every_part_filled_matches_its_schema() -> None:
    report = full_report()
    assert report.drift is not None and {c.kind for c in report.drift.changes} == set(ChangeKind)
    assert report.address_disagreements and any(
        f.probe.certificate and f.probe.certificate.refused for f in report.findings
    )
    doc = full_document()
    assert_valid(doc, "verify-all")
    assert doc["tool"] == {"name": "tlsverify", "version": "0.1.0", "sslyze": "6.3.1", "nassl": "5.4.0"}
    assert doc["suites"][0] == {**doc["suites"][0], "name": A256, "code": "0xC030"}
    assert doc["suite_codes"][DES3] == "0x000A"  # only ever accepted: still given its code point
    assert list(doc["suite_codes"].values()) == sorted(doc["suite_codes"].values())  # code point order
    assert document.decode(doc) == report  # and it reads back


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return change


_DELETE = object()


def _change_of(kind: str, **values: object) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        entry = next(c for c in doc["drift"]["changes"] if c["kind"] == kind)
        entry.update(values)

    return change


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        pytest.param(_set("surprise", 1), "Additional properties are not allowed", id="unknown-key"),
        pytest.param(
            _set("endpoints/0/surprise", 1), "Additional properties are not allowed", id="unknown-endpoint-key"
        ),
        pytest.param(_set("tool", _DELETE), "'tool' is a required property", id="no-tool"),
        pytest.param(_set("tool/sslyze", 6), "6 is not of type 'string', 'null'", id="tool-version-number"),
        pytest.param(_set("schema", "tlsverify/verify-all/2"), "'tlsverify/verify-all/1' was expected", id="other-tag"),
        pytest.param(_set("endpoints/0/status", "fine"), "'fine' is not one of", id="status"),
        pytest.param(_set("endpoints/0/port", 0), "0 is less than the minimum of 1", id="port-0"),
        pytest.param(
            _set("endpoints/0/negotiated", "ECDHE-RSA-AES128-GCM-SHA256"),
            "does not match '^TLS_",
            id="openssl-name",
        ),
        pytest.param(_set("summary/ok", _DELETE), "'ok' is a required property", id="summary-key"),
        pytest.param(_set("suites/0/code", "0xc030"), "does not match", id="code-case"),
        pytest.param(_set("suites/0/list", "chosen"), "'chosen' is not one of", id="suite-list"),
        pytest.param(_set("suite_codes/" + A256, "49200"), "does not match", id="code-decimal"),
        pytest.param(_set("generated_at", "2026-12-01 06:00"), "does not match", id="timestamp"),
        pytest.param(
            _set("endpoints/0/certificate/problems/0/kind", "revoked"), "'revoked' is not one of", id="problem-kind"
        ),
        pytest.param(_change_of("status", after="fine"), "'fine' is not one of", id="change-status"),
        pytest.param(_change_of("suites_added", after=A128), "is not of type 'array'", id="change-suites-added"),
        pytest.param(_change_of("negotiated", before=["x"]), "is not of type 'string'", id="change-negotiated"),
        pytest.param(_change_of("connects", after="yes"), "'yes' is not of type 'boolean'", id="change-connects"),
        pytest.param(_change_of("endpoint_added", before="ok"), "'ok' is not of type 'null'", id="change-added-before"),
    ],
)
def test_the_schema_refuses_a_document_that_is_not_what_the_codec_writes(
    broken: Callable[[dict[str, Any]], None], expected: str
) -> None:
    doc = full_document()
    doc["endpoints"].sort(key=lambda e: e["certificate"] is None)  # endpoints/0 has a certificate with a problem
    assert doc["endpoints"][0]["certificate"]["problems"]
    broken(doc)
    found = schema_errors(doc, "verify-all")
    assert any(expected in line for line in found), found


def test_a_suite_without_its_code_point_is_caught() -> None:
    doc = full_document()
    del doc["suite_codes"][DES3]
    assert problems(doc) == [f"suite_codes: {DES3} is missing"]
    doc["suite_codes"][DES3] = "0x000B"
    assert problems(doc) == [f"suite_codes: {DES3}: 0x000B, the catalog says 0x000A"]


def test_an_impact_document_with_every_status_matches_its_schema() -> None:
    report = site(T0, new=False)
    scanned: list[tuple[Endpoint, ProbeResult | None]] = [(f.endpoint, f.probe) for f in report.findings]
    scanned.append((Endpoint("never", "Never", "other", "never.example", 443), None))
    after = replace(POLICY, selected=(CHACHA, A128), disabled=(A256, RSA128))
    made = predictions.impact(scanned, POLICY, after, load_releases(), "the proposed policy p.yaml", T0.isoformat())
    made = replace(made, endpoints=tuple(predictions.with_verification(row, None) for row in made.endpoints))
    assert {row.status for row in made.endpoints} >= {ImpactStatus.BREAKS, ImpactStatus.UNKNOWN, ImpactStatus.CHANGES}
    doc = json.loads(json.dumps(impact_report.document(made, T0)))
    assert_valid(doc, "impact")
    assert doc["tool"] == document.encode_tool(versions.current())
    flip = next(e for e in doc["endpoints"] if e["id"] == "flip")
    assert flip["rescue"][0] == {"suite": A256, "code": "0xC030", "jsse_name": A256, "list": "disabled"}
    doc["endpoints"][0]["status"] = "fine"
    doc["endpoints"][1]["rescue_suites"] = ["DES-CBC3-SHA"]
    found = schema_errors(doc, "impact")
    assert any("'fine' is not one of" in line for line in found) and any("DES-CBC3-SHA" in line for line in found)


def test_the_tool_is_what_is_installed() -> None:
    assert versions.current() == Tool("tlsverify", version("tlsverify"), version("sslyze"), version("nassl"))


# --- documents stored before this version --------------------------------------------------------------------

# A run as the first tlsverify stored it (commit ebcce39, schema 1 of the database): no policy client, no
# configured endpoint, no certificate, usage or drift, and none of tool, code or suite_codes.
FIRST_STORED = {
    "schema": "tlsverify/verify-all/1",
    "generated_at": "2026-11-26T02:00:00+00:00",
    "complete": True,
    "run_id": 1,
    "policy": {"release": "10.3.0.0", "protocols": ["TLSv1.2"], "selected": [A256, A128], "disabled": [RSA128]},
    "summary": {"endpoints": 2, "ok": 1, "no_common_suite": 1},
    "endpoints": [
        {
            "id": "apns",
            "name": "APNS",
            "category": "APNS",
            "host": "apns.example",
            "port": 443,
            "protocol": "https",
            "sni": "apns.example",
            "ip": "192.0.2.7",
            "status": "ok",
            "reason": None,
            "tls_versions": ["TLSv1.2"],
            "accepted_tls12": [A128],
            "server_preference": None,
            "negotiated": A128,
            "required_disabled": [],
            "accepted_unlisted": [],
            "advice": None,
            "connections": 6,
            "duration_s": 0.2,
            "mode": "elimination",
            "notes": [],
        },
        {
            "id": "scep",
            "name": "SCEP",
            "category": "SCEP",
            "host": "scep.example",
            "port": 443,
            "protocol": "https",
            "sni": "scep.example",
            "ip": "192.0.2.8",
            "status": "no_common_suite",
            "reason": "no Selected suite is accepted",
            "tls_versions": ["TLSv1.2"],
            "accepted_tls12": [RSA128],
            "server_preference": None,
            "negotiated": None,
            "required_disabled": [RSA128],
            "accepted_unlisted": [],
            "advice": "Move TLS_RSA_WITH_AES_128_CBC_SHA to Selected",
            "connections": 4,
            "duration_s": 0.1,
            "mode": "elimination",
            "notes": [],
        },
    ],
    "suites": [
        {
            "name": name,
            "jsse_name": name,
            "list": where,
            "position": position,
            "strength": catalog.resolve(name).strength.value,
            "negotiated_by": ["apns"] if name == A128 else [],
            "required_by": ["scep"] if name == RSA128 else [],
            "legacy": False,
        }
        for name, where, position in ((A256, "selected", 1), (A128, "selected", 2), (RSA128, "disabled", 1))
    ],
    "unused_selected": [A256],
    "without_tls12": [],
}


def _store_as_written(db: Path, stored: dict[str, Any]) -> int:
    """A run in the database with `stored` as its document, byte for byte what an older tlsverify wrote."""
    with Store(db) as store:
        run_id = store.save(document.decode(stored))
    import sqlite3

    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE runs SET report_json = ? WHERE id = ?", (json.dumps(stored), run_id))
    return run_id


def test_a_run_the_first_tlsverify_stored_is_read_and_written_again_by_todays_schema(tmp_path: Path) -> None:
    db, out = tmp_path / "history.sqlite", tmp_path / "again"
    run_id = _store_as_written(db, FIRST_STORED)
    with Store(db, read_only=True) as store:
        stored = store.run(run_id)
    assert stored is not None
    report = stored.report
    assert report.tool is None and report.policy.client == "jsse-17" and report.policy.selected == (A256, A128)
    assert [f.probe.negotiated for f in report.findings] == [A128, None]
    assert report.findings[1].required_disabled == (RSA128,)
    assert report.findings[1].endpoint.ip == "192.0.2.8"  # no `configured` then: the address dialled stands in
    assert main(["report", "--run", str(run_id), "--db", str(db), "--out", str(out)]) == 0
    again = json.loads((out / "verify-all.json").read_text())
    assert_valid(again, "verify-all")  # (and the check after the test reads it too)
    assert again["tool"] is None  # not known: never today's versions passed off as the scan's
    assert again["suite_codes"] == {RSA128: "0x002F", A128: "0xC02F", A256: "0xC030"}
    assert [s["code"] for s in again["suites"]] == ["0xC030", "0xC02F", "0x002F"]


def test_a_document_from_just_before_tool_and_code_points_decodes_to_the_same_run() -> None:
    made = replace(full_report(), tool=None)
    old = full_document()
    del old["tool"], old["suite_codes"]
    for suite in old["suites"]:
        del suite["code"]
    assert document.decode(old) == made
    assert document.encode(document.decode(old)) == {**full_document(), "tool": None}


def test_a_stored_run_keeps_the_versions_that_probed_it(tmp_path: Path) -> None:
    """`report --run N` writes the versions of the tlsverify that probed, not of the one writing again."""
    db, out = tmp_path / "history.sqlite", tmp_path / "again"
    then = Tool("tlsverify", "0.0.1", "6.0.0", "5.0.0")  # not what is installed now
    with Store(db) as store:
        run_id = store.save(replace(full_report(), tool=then))
        stored = store.run(run_id)
    assert stored is not None and stored.report.tool == then
    assert main(["report", "--run", str(run_id), "--db", str(db), "--out-dir", str(out)]) == 0
    assert json.loads((out / "verify-all.json").read_text())["tool"] == document.encode_tool(then)


# --- tlsverify schema --------------------------------------------------------------------------------------------


def test_schema_without_a_name_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["schema"], ["schema", "--list"]):
        assert main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split()[0] for line in lines] == ["verify-all", "impact", "endpoints", "policy", "release"]
        assert "reports/verify-all.json" in lines[0] and "endpoints.yaml" in lines[2]


@pytest.mark.parametrize("schema", schemas.SCHEMAS, ids=lambda s: s.name)
def test_schema_prints_the_shipped_file(schema: schemas.Schema, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", schema.name]) == 0
    printed = capsys.readouterr().out
    shipped = (Path(schemas.__file__).parent / "data" / "schemas" / schema.file).read_text(encoding="utf-8")
    assert printed == shipped
    assert json.loads(printed)["$id"] == schema.id


def test_an_unknown_schema_is_a_usage_error_with_the_closest_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "verify_all"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no schema 'verify_all'; did you mean 'verify-all'?" in captured.err
    assert "verify-all, impact, endpoints, policy, release" in captured.err
    assert main(["schema", "zzz"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_schema_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--help"]) == 0
    assert "tlsverify schema verify-all > verify-all.schema.json" in capsys.readouterr().out


def test_printing_a_schema_needs_neither_pydantic_nor_jsonschema() -> None:
    code = (
        "import sys; from scanner.cli import main; main(['schema', 'endpoints']); "
        "print(sorted({n.split('.')[0] for n in sys.modules} & {'pydantic', 'jsonschema'}), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["title"] == "tlsverify endpoints file"
    assert done.stderr.strip() == "[]"


# --- the input files ---------------------------------------------------------------------------------------------


def _yaml(path: Path) -> object:
    data, _ = read_yaml(path)
    return data


def shipped_inputs() -> list[tuple[str, Path]]:
    package = Path(schemas.__file__).parent / "data"
    found = [("endpoints", ROOT / "endpoints.yaml"), ("endpoints", package / "endpoints.yaml")]
    found += [("policy", ROOT / "policy.yaml")]
    found += [("release", path) for path in sorted((package / "releases").glob("*.yaml"))]
    return found


@pytest.mark.parametrize(("name", "path"), shipped_inputs(), ids=lambda v: str(v).rsplit("/", 2)[-1])
def test_the_shipped_input_files_match_their_schemas(name: str, path: Path) -> None:
    assert_valid(_yaml(path), name)


def test_the_files_tlsverify_writes_for_people_to_edit_match_their_schemas(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "site")]) == 0
    assert main(["policy", "reset-to-default", "--release", "9.0", "--output", str(tmp_path / "nine.yaml")]) == 0
    upgraded = tmp_path / "upgraded.yaml"
    assert main(["policy", "upgrade", str(tmp_path / "nine.yaml"), "--to", "12.0.0.0", "--output", str(upgraded)]) == 0
    assert_valid(_yaml(tmp_path / "site" / "endpoints.yaml"), "endpoints")
    for path in (tmp_path / "site" / "policy.yaml", tmp_path / "nine.yaml", upgraded):
        assert_valid(_yaml(path), "policy")


MODELS: dict[str, type[BaseModel]] = {
    "endpoints": models.EndpointsFile,
    "policy": models.PolicyFile,
    "release": models.ReleaseFile,
}


@pytest.mark.parametrize(
    ("name", "text", "valid"),
    [
        ("endpoints", "endpoints:\n  - {id: a, host: a.example}\n", True),
        ("endpoints", "endpoints:\n  - {id: a, host: a.example, proxy: none}\n", True),
        ("endpoints", "endpoints:\n  - {id: a, host: a.example, proxy: ' None '}\n", True),
        ("endpoints", "endpoints:\n  - {id: a, host: a.example, proxy: maybe}\n", False),
        ("endpoints", "proxy: {url: 'http://p.example:3128'}\nendpoints:\n  - {id: a, host: a.example}\n", True),
        ("endpoints", "proxy: {url: 'http://p.example:3128', username_env: U}\nendpoints: [{id: a, host: h}]\n", False),
        (
            "endpoints",
            "proxy: {url: 'http://p.example:3128', username_env: U, password_env: P}\nendpoints: []\n",
            False,
        ),
        ("endpoints", "endpoints:\n  - {id: a, host: a.example, protocol: tls}\n", False),
        ("endpoints", "endpoints:\n  - {id: a, host: a.example, protocol: tls, port: 8443}\n", True),
        ("endpoints", "endpoints:\n  - {id: a, host: a.example, protocol: ftps}\n", False),
        ("endpoints", "endpoints:\n  - {id: a, host: a.example, port: 0}\n", False),
        ("endpoints", "endpoints:\n  - {id: a, host: a.example, port: 65536}\n", False),
        ("endpoints", "endpoints:\n  - {id: 'a b', host: a.example}\n", False),
        ("endpoints", "endpoints:\n  - {id: a, hots: a.example}\n", False),
        (
            "endpoints",
            "endpoints:\n  - {id: a, host: a.example, enabled: false, sni: b.example, ip: 192.0.2.1}\n",
            True,
        ),
        (
            "endpoints",
            "endpoints:\n  - {id: a, host: a.example, proxy: {url: 'http://p:1', password_env: '1x'}}\n",
            False,
        ),
        ("policy", "release: '12.0.0.0'\ncipher_suites:\n  selected: [A]\n  disabled:\n", True),
        ("policy", "release: 9.0\ncipher_suites: {selected: [A]}\n", True),
        ("policy", "release: ''\ncipher_suites: {selected: [A]}\n", False),
        ("policy", "release: '12.0.0.0'\n", False),
        ("policy", "release: '12.0.0.0'\ncipher_suites: {selected: [A], enabled: [B]}\n", False),
        ("policy", "release: '12.0.0.0'\nprotocols: {selected: [TLSv1.2]}\ncipher_suites: {selected: [A]}\n", True),
        ("policy", "release: '12.0.0.0'\ncipher_suites: {selected: A}\n", False),
        ("release", "release: '13.0'\navailable: [A]\ndefault_selected: [A]\n", True),
        ("release", "release: '13.0'\navailable: []\ndefault_selected: [A]\n", False),
        ("release", "release: '13.0'\navailable: [A]\ndefault_selected: [A]\nremoved: [B]\nnotes: x\n", False),
    ],
)
def test_the_input_schemas_take_what_the_models_take(name: str, text: str, valid: bool, tmp_path: Path) -> None:
    """On what a schema can say (keys, types, ranges, patterns, both-or-neither, tls's port), it agrees with
    the pydantic model tlsverify reads the file with."""
    path = tmp_path / "file.yaml"
    path.write_text(text)
    data = _yaml(path)
    try:
        MODELS[name].model_validate(data)
        model_valid = True
    except ValidationError:
        model_valid = False
    assert (model_valid, not schema_errors(data, name)) == (valid, valid)


# --- the check every test's documents pass -----------------------------------------------------------------------


def test_the_checker_reports_each_broken_document_once(tmp_path: Path) -> None:
    folder = tmp_path / "checked"
    (folder / "deep").mkdir(parents=True)
    good, bad = full_document(), full_document()
    bad["endpoints"][0]["status"] = "fine"
    unknown = {"schema": "tlsverify/nightly/9"}
    try:
        (folder / "verify-all.json").write_text(json.dumps(good))
        (folder / "deep" / "verify-all.json").write_text(json.dumps(bad))
        (folder / "deep" / "other.json").write_text(json.dumps(unknown))
        (folder / "package.json").write_text(json.dumps({"schema": "https://example/other", "x": 1}))
        (folder / "half.json").write_text('{"schema": "tlsverify/verify-all/1", ')
        checked = Checked()
        wrong = checked.check([folder])
        assert sorted(wrong) == [
            f"{folder / 'deep' / 'other.json'}: schema: no shipped schema for the tag 'tlsverify/nightly/9'",
            f"{folder / 'deep' / 'verify-all.json'}: endpoints/0/status: 'fine' is not one of {statuses()}",
        ]
        assert checked.documents == 3
        assert checked.check([folder]) == []  # unchanged files are not read again
        (folder / "verify-all.json").write_text(json.dumps({**good, "complete": "yes"}))
        assert checked.check([folder]) == [f"{folder / 'verify-all.json'}: complete: 'yes' is not of type 'boolean'"]
    finally:  # or the check after this test would (rightly) fail it
        for path in folder.rglob("*.json"):
            path.unlink()


def statuses() -> list[str]:
    return [s.value for s in EndpointStatus]


SELF_CHECK = ROOT / "tests" / "selfcheck" / "leaves_a_broken_document.py"


def test_the_check_after_each_test_fails_a_test_that_leaves_a_broken_document() -> None:
    """A real pytest run of a test that passes but leaves a verify-all.json the schema refuses: the check in
    conftest.py must turn it into an error (the file is not collected by the suite itself)."""
    with tempfile.TemporaryDirectory(prefix="tlsverify-selfcheck-") as base:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--basetemp={base}/t",
            str(SELF_CHECK),
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    out = done.stdout
    assert done.returncode == 1, out
    assert "1 passed, 1 error" in out, out
    assert (
        "documents that do not match their JSON Schema" in out
        and "verify-all.json: (top): 'tool' is a required property" in out
    ), out
    assert "endpoints/0/status: 'fine' is not one of" in out, out
