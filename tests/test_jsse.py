"""tlsverify against the real client: OpenJDK's SunJSSE, on every lab server, for several policies.

The Java client (tests/jsse/JsseClient.java, compiled here) enables the Selected list in order, TLS 1.2
only, with the JDK's own algorithm restrictions lifted (tests/jsse/java.security), so only the list
decides. For every server and policy, tlsverify's Verify All and `impact --verify`'s handshake must say
what Java got: the same negotiated suite, or a failure where Java fails. Its own ClientHello must be, byte
for byte, the hello the JDK sends.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from scanner import catalog, clients
from scanner.cli import main
from scanner.config import load_releases, write_endpoints
from scanner.lab.demo import start_lab
from scanner.lab.gnutls import GnutlsServer
from scanner.lab.gnutls import unavailable_reason as gnutls_unavailable
from scanner.lab.nginx import DEFAULT_NAME, ECDSA_NAME, RSA_NAME, NginxServer
from scanner.lab.nginx import unavailable_reason as nginx_unavailable
from scanner.lab.process import OpensslServer
from scanner.lab.proxy import TinyproxyServer
from scanner.lab.proxy import unavailable_reason as proxy_unavailable
from scanner.lab.servers import LOOPBACK, LOOPBACK6, Lab, ServerSpec, TlsServer
from scanner.lab.slapd import SlapdServer
from scanner.lab.slapd import unavailable_reason as slapd_unavailable
from scanner.models import Endpoint, EndpointStatus, Policy, ProbeResult, Protocol, Proxy, TlsVersion
from scanner.policy import reset_to_default
from scanner.probe.contract import Gate
from scanner.probe.hello import client_hello
from scanner.probe.prober import SslyzeProber
from scanner.scan import ScanSettings, scan
from tests.conftest import ROOT

JSSE_DIR = Path(__file__).parent / "jsse"


def _java_reason() -> str | None:
    for tool in ("java", "javac"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install openjdk-17-jdk-headless)"
    return None


REASON = _java_reason() or gnutls_unavailable() or slapd_unavailable() or nginx_unavailable() or proxy_unavailable()
if REASON and os.environ.get("CI"):
    raise RuntimeError(f"CI must run the JSSE comparison: {REASON}")
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

T12 = (TlsVersion.TLSV1_2,)


def _policy(selected: list[str], client: str = "jsse-17") -> Policy:
    names = tuple(catalog.resolve(n).name for n in selected)
    return Policy("12.0.0.0", T12, (), names, (), client)


MODERN = [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
]
POLICIES: dict[str, Policy] = {
    "modern": _policy(MODERN),
    "modern-reversed": _policy(MODERN[::-1]),
    "rsa-and-3des-low": _policy(
        [
            *MODERN,
            "TLS_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "SSL_RSA_WITH_3DES_EDE_CBC_SHA",
            "SSL_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        ]
    ),
    "release-9.0-defaults": replace(reset_to_default(load_releases(), "9.0"), client="jsse-17"),
    "suites-jsse-lacks": _policy(
        [
            "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
            "TLS_RSA_WITH_AES_128_CCM",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
        ]
    ),
    "legacy-only-mixed": _policy(
        [
            "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "SSL_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_RSA_WITH_AES_256_GCM_SHA384",
        ]
    ),
    "dhe-first": _policy(
        [
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_AES_128_GCM_SHA256",
        ]
    ),
}


@dataclass(frozen=True)
class JavaClient:
    """The compiled JsseClient and how to run it."""

    classes: Path

    jvm: tuple[str, ...] = ()

    def command(self, *args: str) -> list[str]:
        security = JSSE_DIR / "java.security"
        jvm = [f"-Djava.security.properties={security}", *self.jvm]
        return ["java", *jvm, "-cp", str(self.classes), "JsseClient", *args]

    def connect_all(self, jobs: list[tuple[Endpoint, Policy]], trust: bool = False) -> list[str]:
        """One handshake per job, all in one JVM, reaching the server as the endpoint says (STARTTLS, the
        proxy's tunnel): "OK <suite>" or "FAIL <why>" each. With `trust`, the JDK's own PKIX and hostname
        checks decide against the endpoint's ca_file."""
        lines = []
        for e, p in jobs:
            suites = ",".join(catalog.resolve(n).jsse_name for n in p.selected)
            options = [_JAVA_OPTIONS[e.protocol]] if e.protocol in _JAVA_OPTIONS else []
            if e.proxy is not None:
                options.append(f"proxy={e.proxy.host}:{e.proxy.port}")
            if trust and e.ca_file:
                options.append(f"trust={e.ca_file}")
            lines.append(" ".join([e.ip or LOOPBACK, str(e.port), e.server_name, suites, *options]))
        done = subprocess.run(
            self.command(), input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=600, check=True
        )
        answers = done.stdout.splitlines()
        assert len(answers) == len(jobs), done.stderr
        return answers

    def supported(self) -> list[str]:
        done = subprocess.run(self.command("--supported"), capture_output=True, text=True, timeout=120, check=True)
        return [line.split()[1] for line in done.stdout.splitlines() if line.startswith("SUPPORTED ")]


_JAVA_OPTIONS = {
    Protocol.SMTP_STARTTLS: "starttls=smtp",
    Protocol.LDAP_STARTTLS: "starttls=ldap",
    Protocol.LDAPS: "ldap",
}


@pytest.fixture(scope="module")
def java(tmp_path_factory: pytest.TempPathFactory) -> JavaClient:
    classes = tmp_path_factory.mktemp("jsse")
    subprocess.run(["javac", "-d", str(classes), str(JSSE_DIR / "JsseClient.java")], check=True, timeout=300)
    return JavaClient(classes)


@pytest.fixture(scope="module")
def zoo() -> Iterator[list[Endpoint]]:
    """The demo lab, plus the servers where an OpenSSL hello and a JSSE hello get different answers."""
    with Lab() as lab:
        entries = start_lab(lab)
        certificates, workdir = lab.certificates, str(lab.directory)
        extra = [
            # ECDHE only over X25519 (which OpenSSL 1.0.2's hello lacks), RSA key exchange besides.
            lab.add(
                OpensslServer(
                    "x25519",
                    ciphers="ECDHE-RSA-AES256-GCM-SHA384:AES256-GCM-SHA384",
                    groups="X25519",
                    certificates=certificates,
                    workdir=workdir,
                )
            ),
            # DHE preferred by the server, ECDHE and RSA besides.
            lab.add(
                OpensslServer(
                    "dhe-server-order",
                    ciphers="DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256",
                    server_preference=True,
                    certificates=certificates,
                    workdir=workdir,
                )
            ),
            lab.add(
                GnutlsServer(
                    "dhe-3des",
                    priority="NONE:+VERS-TLS1.2:+3DES-CBC:+DHE-RSA:+SHA1:+COMP-NULL:+SIGN-ALL:+GROUP-ALL",
                    certificates=certificates,
                    workdir=workdir,
                )
            ),
            # Debian's stock slapd on LDAPS: GnuTLS "NORMAL", DHE only for hellos that list FFDHE groups.
            lab.add(SlapdServer("slapd-ldaps", certificates=certificates, workdir=workdir)),
            # Suites SunJSSE does not implement, and one it does.
            lab.start(
                ServerSpec(
                    "aria",
                    "ECDHE-RSA-ARIA128-GCM-SHA256:ECDHE-RSA-CAMELLIA128-SHA256:AES128-CCM:ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA",
                )
            ),
            # Drops ClientHellos over 255 bytes without a word, as some middleboxes do.
            lab.start(ServerSpec("hello255", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA", max_hello=255)),
        ]
        ca = str(lab.certificates.ca_bundle())
        endpoints = [
            Endpoint(
                str(e["id"]),
                str(e["name"]),
                str(e["category"]),
                str(e["host"]),
                int(str(e["port"])),
                Protocol(str(e["protocol"])),
                ip=LOOPBACK,
                ca_file=ca,
            )
            for e in entries
        ]
        endpoints += [
            Endpoint(s.name, s.name, "lab", f"{s.name}.lab.tlsverify.test", s.port, ip=LOOPBACK, ca_file=ca)
            for s in extra
        ]
        yield endpoints + _other_kinds(lab, endpoints)


def _other_kinds(lab: Lab, demo: list[Endpoint]) -> list[Endpoint]:
    """Every server kind besides the demo's (which has SMTP with STARTTLS and implicit TLS, and LDAP StartTLS):
    through tinyproxy (a TLS server, the SMTP relay, the directory), nginx's three names on one port, ::1."""
    tinyproxy = lab.add(TinyproxyServer("jsse-proxy", workdir=str(lab.directory)))
    via = Proxy(LOOPBACK, tinyproxy.port)
    behind = lab.start(ServerSpec("behind-proxy", "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:AES128-SHA"))
    vhosts = lab.add(NginxServer("jsse-vhosts", certificates=lab.certificates, workdir=str(lab.directory)))
    six = lab.add(
        TlsServer(
            "six",
            spec=ServerSpec(
                "six", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384", certificates=("ecdsa", "rsa")
            ),
            certificates=lab.certificates,
            host=LOOPBACK6,
        )
    )
    by_id = {e.id: e for e in demo}
    ca = str(lab.certificates.ca_bundle())
    return [
        Endpoint(
            "behind-proxy",
            "behind-proxy",
            "lab",
            "behind.lab.tlsverify.test",
            behind.port,
            Protocol.TLS,
            ip=LOOPBACK,
            proxy=via,
            ca_file=ca,
        ),
        replace(by_id["smtp"], id="smtp-via-proxy", proxy=via),
        *([replace(by_id["ldap"], id="ldap-via-proxy", proxy=via)] if "ldap" in by_id else []),
        *(
            Endpoint(name.split(".")[0], name, "lab", name, vhosts.port, Protocol.HTTPS, ip=LOOPBACK, ca_file=ca)
            for name in (RSA_NAME, ECDSA_NAME, DEFAULT_NAME)
        ),
        Endpoint("six", "six", "lab", "six.lab.tlsverify.test", six.port, Protocol.TLS, ip=LOOPBACK6, ca_file=ca),
    ]


class _HandshakeOnly:
    """What `impact --verify` runs: one handshake per endpoint, as the client makes it."""

    def __init__(self) -> None:
        self._prober = SslyzeProber(timeout_s=3)

    def probe(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult:
        return self._prober.handshake_only(endpoint, policy, gate)


def _scan(endpoints: list[Endpoint], policy: Policy, verify_only: bool) -> list[ProbeResult]:
    prober = _HandshakeOnly() if verify_only else SslyzeProber(timeout_s=3)
    results: list[ProbeResult] = []

    def go() -> None:  # in a thread of its own: the tests' event loop, if any, is not disturbed
        settings = ScanSettings(concurrency=4, rate=1000, deadline_s=60)
        results.extend(asyncio.run(scan(endpoints, policy, prober, settings)))

    worker = threading.Thread(target=go)
    worker.start()
    worker.join(timeout=600)
    assert not worker.is_alive()
    return results


def _disagreements(results: list[ProbeResult], answers: list[str], policy_name: str) -> list[str]:
    out = []
    for result, answer in zip(results, answers, strict=True):
        if answer.startswith("OK "):
            expected = catalog.resolve(answer[3:]).name
            if result.status is not EndpointStatus.OK or result.negotiated != expected:
                got = result.negotiated or f"{result.status}: {result.reason}"
                out.append(f"{policy_name} / {result.endpoint_id}: Java negotiated {expected}, tlsverify {got}")
        elif result.status is EndpointStatus.OK:
            out.append(f"{policy_name} / {result.endpoint_id}: Java failed ({answer}), tlsverify {result.negotiated}")
    return out


@pytest.mark.parametrize("verify_only", [False, True], ids=["verify-all", "impact-verify"])
def test_tlsverify_negotiates_what_java_negotiates(java: JavaClient, zoo: list[Endpoint], verify_only: bool) -> None:
    policies = {**POLICIES, "shipped-policy": _shipped()}
    jobs = [(e, p) for p in policies.values() for e in zoo]
    answers = java.connect_all(jobs)
    wrong: list[str] = []
    compared = 0
    for index, (name, policy) in enumerate(policies.items()):
        results = sorted(_scan(zoo, policy, verify_only), key=lambda r: [e.id for e in zoo].index(r.endpoint_id))
        mine = answers[index * len(zoo) : (index + 1) * len(zoo)]
        wrong += _disagreements(results, mine, name)
        compared += len(results)
        for result in results:  # a suite Java cannot offer is never reported as negotiated
            assert result.negotiated is None or clients.get("jsse-17").implements(
                catalog.resolve(result.negotiated).code
            )
    ok = sum(a.startswith("OK ") for a in answers)
    print(f"\n{compared} server/policy pairs compared with OpenJDK, {ok} connected, {len(wrong)} disagreements")
    assert not wrong, "\n".join(wrong)


def _shipped() -> Policy:
    from scanner.config import load_policy

    return replace(load_policy(ROOT / "policy.yaml"), client="jsse-17")


def test_the_zoo_has_both_outcomes_for_the_hard_servers(java: JavaClient, zoo: list[Endpoint]) -> None:
    """The comparison means something only if the hard cases connect for real: DHE on stock slapd, DHE
    3DES, ECDHE over X25519 alone."""
    by_id = {e.id: e for e in zoo}
    jobs = [
        (by_id["slapd-ldaps"], POLICIES["dhe-first"]),
        (by_id["dhe-3des"], POLICIES["rsa-and-3des-low"]),
        (by_id["x25519"], POLICIES["release-9.0-defaults"]),
    ]
    assert java.connect_all(jobs) == [
        "OK TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        "OK SSL_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "OK TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ]


@pytest.mark.parametrize("name", ["shipped-policy", "modern", "dhe-first"])
def test_the_fewest_moves_reconnect_what_they_promise_in_java(java: JavaClient, zoo: list[Endpoint], name: str) -> None:
    """The report's first claim, checked by the real client: with the fewest moves made (each moved suite put
    at the end of Selected, out of Disabled), Java connects to every endpoint the moves say they reconnect,
    still fails where they say moving suites does not help, and still connects wherever it did before."""
    from datetime import UTC, datetime

    from scanner import findings as analysis
    from scanner import moves

    policy = {**POLICIES, "shipped-policy": _shipped()}[name]
    report = analysis.verify_all_report(zoo, _scan(zoo, policy, False), policy, datetime.now(UTC))
    answer = moves.for_findings(policy, report.findings)
    moved = [m.suite for m in answer.moves]
    after = replace(
        policy,
        selected=(*policy.selected, *moved),
        disabled=tuple(s for s in policy.disabled if s not in moved),
    )
    by_id = {e.id: e for e in zoo}
    before_ok = [f.endpoint.id for f in report.findings if f.connects]
    stuck = [s.endpoint_id for s in answer.not_by_moves]
    ids = [*answer.reconnects, *stuck, *before_ok]
    answers = dict(zip(ids, java.connect_all([(by_id[i], after) for i in ids]), strict=True))
    print(f"\n{name}: moves {moved} reconnect {answer.reconnects}; not by moves {stuck}; {len(before_ok)} ok before")
    assert answer.reconnects  # the comparison means something: every one of these policies needs moves
    assert [i for i in answer.reconnects if not answers[i].startswith("OK ")] == []
    assert [i for i in stuck if answers[i].startswith("OK ")] == []
    assert [i for i in before_ok if not answers[i].startswith("OK ")] == []


def test_the_jsse_17_profile_is_what_the_jdk_implements(java: JavaClient) -> None:
    tls13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
    supported = [n for n in java.supported() if n not in tls13 and n != "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]
    assert tuple(supported) == clients.JDK17_SUPPORTED  # the same suites, in the JDK's own order
    assert clients.get("jsse-17").suites == tuple(s for s in supported if s not in clients.BEFORE_TLS12)


@pytest.mark.parametrize(
    "selected",
    [
        [
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "SSL_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
            "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
        ],
        ["TLS_RSA_WITH_AES_128_CBC_SHA"],
        ["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384"],
        ["TLS_ECDH_anon_WITH_AES_128_CBC_SHA", "TLS_DH_anon_WITH_AES_128_CBC_SHA"],
        MODERN,
        list(clients.get("jsse-17").suites),
    ],
    ids=["mixed", "rsa", "dhe", "anon", "modern", "every-suite"],
)
def test_our_hello_is_the_jdk_hello_byte_for_byte(java: JavaClient, selected: list[str]) -> None:
    captured = _capture_java_hello(java, selected, "svc.lab.tlsverify.test")
    random = captured[11:43]
    codes = [catalog.resolve(n).code for n in selected]
    assert client_hello(clients.get("jsse-17"), codes, "svc.lab.tlsverify.test", random) == captured


def _capture_java_hello(java: JavaClient, selected: list[str], sni: str) -> bytes:
    with socket.socket() as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(1)
        listener.settimeout(60)
        port = listener.getsockname()[1]
        job = f"{LOOPBACK} {port} {sni} {','.join(catalog.resolve(n).jsse_name for n in selected)}\n"
        client = subprocess.Popen(java.command(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        assert client.stdin is not None
        with client.stdin:
            client.stdin.write(job)
        conn, _ = listener.accept()
        with conn:
            data = b""
            while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
                chunk = conn.recv(65536)
                assert chunk, "the client closed before its hello was whole"
                data += chunk
        client.wait(timeout=60)
    return data


@pytest.mark.parametrize("name", ["modern-reversed", "legacy-only-mixed", "dhe-first", "suites-jsse-lacks"])
def test_impact_verify_on_the_command_line_agrees_with_java(
    java: JavaClient, zoo: list[Endpoint], tmp_path: Path, name: str
) -> None:
    """`tlsverify verify-all`, then `tlsverify impact --proposed FILE --verify`: each verified suite is Java's."""
    endpoints = tmp_path / "endpoints.yaml"
    entries: list[dict[str, object]] = [
        {
            "id": e.id,
            "name": e.name,
            "host": e.host,
            "ip": e.ip,
            "port": e.port,
            "protocol": e.protocol.value,
            **({"proxy": {"url": f"http://{e.proxy}"}} if e.proxy else {}),
        }
        for e in zoo
    ]
    write_endpoints(entries, endpoints, "JSSE comparison zoo")
    policy = POLICIES[name]
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(
        'release: "12.0.0.0"\nclient: jsse-17\ncipher_suites:\n  selected:\n'
        + "".join(f"    - {catalog.resolve(n).jsse_name}\n" for n in policy.selected),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    common = ["--endpoints", str(endpoints), "--policy", str(ROOT / "policy.yaml"), "--out", str(out), "--no-progress"]
    main(["verify-all", *common])
    main(["impact", "--proposed", str(proposed), "--verify", *common])
    rows = {row["id"]: row for row in json.loads((out / "impact.json").read_text())["endpoints"]}
    answers = dict(zip([e.id for e in zoo], java.connect_all([(e, policy) for e in zoo]), strict=True))
    wrong = []
    for endpoint_id, answer in answers.items():
        row = rows[endpoint_id]
        if row["status"] == "unknown" or row.get("verified") is None:
            assert not answer.startswith("OK "), (endpoint_id, row, answer)  # only what Java cannot reach
            continue
        java_suite = catalog.resolve(answer[3:]).name if answer.startswith("OK ") else None
        if row["verified_suite"] != java_suite:
            wrong.append(f"{endpoint_id}: Java {answer}, impact --verify {row['verified_suite']}")
    assert not wrong, "\n".join(wrong)


# JDK 8's named groups (no x25519, no x448): JDK 17 told to list only these speaks, for key exchange, as 8.
JDK8_GROUPS = "-Djdk.tls.namedGroups=secp256r1,secp384r1,secp521r1,ffdhe2048,ffdhe3072,ffdhe4096,ffdhe6144,ffdhe8192"


def test_a_suite_only_openssls_hello_gets_is_neither_negotiated_nor_required(
    java: JavaClient, zoo: list[Endpoint]
) -> None:
    """ECDHE only over X25519, and a client without X25519 (jsse-8): OpenSSL's hello gets the ECDHE suite,
    the client never can, so it is not predicted, not negotiated and not a Disabled suite to move."""
    x25519 = next(e for e in zoo if e.id == "x25519")
    ecdhe, rsa = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384"
    both = Policy("9.0", T12, (), (ecdhe, rsa), (), "jsse-8")
    neither = Policy("9.0", T12, (), ("TLS_RSA_WITH_AES_128_CBC_SHA",), (ecdhe, rsa), "jsse-8")
    jdk8 = replace(java, jvm=(JDK8_GROUPS,))
    assert jdk8.connect_all([(x25519, both), (x25519, neither)])[0] == f"OK {rsa}"
    (got,) = _scan([x25519], both, verify_only=False)
    assert got.negotiated == rsa and got.accepted_other_hello == (ecdhe,) and got.client_accepted == (rsa,)
    assert jdk8.connect_all([(x25519, neither)])[0].startswith("FAIL")
    (failed,) = _scan([x25519], neither, verify_only=False)
    assert failed.status is EndpointStatus.NO_COMMON_SUITE
    from scanner.findings import finding

    assert finding(x25519, failed, neither).required_disabled == (rsa,)  # not the ECDHE suite


def test_the_client_refuses_the_certificates_java_refuses(
    java: JavaClient, zoo: list[Endpoint], tmp_path: Path
) -> None:
    """The JDK's own PKIX trust manager and hostname check (HTTPS; JNDI's for LDAP StartTLS) against the lab's
    CA or a CA that signed none of the servers: Java connects exactly where tlsverify says the client connects."""
    import trustme

    from scanner.findings import finding

    stranger = tmp_path / "stranger-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    by_id = {e.id: e for e in zoo}
    cases = [
        by_id["rsa"],
        by_id["ecdsa"],
        replace(by_id["rsa"], id="wrong-name", host="www.example.org"),  # nginx's default server answers it
        replace(by_id["apns"], id="apns-stranger", ca_file=str(stranger)),
        by_id["smtp"],
        replace(by_id["smtp"], id="smtp-stranger", ca_file=str(stranger)),
        by_id["gateway"],
        by_id["ldap"],
        replace(by_id["ldap"], id="ldap-stranger", ca_file=str(stranger)),
        by_id["six"],
        by_id["behind-proxy"],
        replace(by_id["behind-proxy"], id="proxy-stranger", ca_file=str(stranger)),
    ]
    policy = _shipped()
    answers = java.connect_all([(e, policy) for e in cases], trust=True)
    results = {r.endpoint_id: r for r in _scan(cases, policy, verify_only=False)}
    verdicts = []
    for endpoint, answer in zip(cases, answers, strict=True):
        result = results[endpoint.id]
        assert result.status is EndpointStatus.OK, (endpoint.id, result.reason)  # the negotiation is not the question
        verdicts.append((endpoint.id, answer.startswith("OK "), finding(endpoint, result, policy).connects))
    assert [(i, java_ok) for i, java_ok, _ in verdicts] == [(i, ours) for i, _, ours in verdicts]
    assert {i for i, java_ok, _ in verdicts if not java_ok} == {
        "wrong-name",
        "apns-stranger",
        "smtp-stranger",
        "ldap-stranger",
        "proxy-stranger",
    }
