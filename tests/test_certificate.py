"""The certificate verdict: every chain made here with cryptography, judged as JDK 17 would, and checked against
`openssl verify` wherever the two clients agree.

OpenSSL is left out where the JDK differs from it on purpose (a trust anchor's dates, a leaf pinned in the trust
store, SHA-1, weak keys, Java's partial wildcards); those verdicts were checked once by hand against JDK 17's own
`X509TrustManagerImpl` and `HostnameChecker`.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scanner.models import Certificate, CertificateProblem
from scanner.probe import certificate
from scanner.probe.certificate import inspect

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
P = CertificateProblem


# Making certificates.


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp192r1": ec.SECP192R1,
    "secp256k1": ec.SECP256K1,
}


@functools.cache
def ec_key(label: str, curve: str = "secp256r1") -> ec.EllipticCurvePrivateKey:
    """One key per label (and curve) for the whole module: EC keys are quick to make, RSA ones are not."""
    return ec.generate_private_key(CURVES[curve]())


@functools.cache
def rsa_key(label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


def probable_prime(bits: int) -> int:
    """A random prime (Fermat-tested) with its top two bits set, so that two of them make a 2*bits modulus."""
    while True:
        n = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if all(pow(base, n - 1, n) == 1 for base in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)):
            return n


def small_rsa_public_key(bits: int) -> rsa.RSAPublicKey:
    """cryptography no longer generates RSA keys under 1024 bits, but still builds one from its numbers."""
    return rsa.RSAPublicNumbers(65537, probable_prime(bits // 2) * probable_prime(bits // 2)).public_key()


@dataclass(frozen=True)
class Ca:
    cert: x509.Certificate
    key: PrivateKey


def make(
    cn: str,
    key: PrivateKey | PublicKey,
    issuer: Ca | None = None,
    *,
    ca: bool = False,
    sans: Sequence[str] = (),
    days: tuple[int, int] = (-30, 60),
    path_length: int | None = None,
    eku: Sequence[x509.ObjectIdentifier] = (),
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
    basic_constraints: bool = True,
) -> x509.Certificate:
    """A certificate for `cn`, signed by `issuer` (self-signed when None) with SHA-256, valid over `days` from NOW."""
    public = key if isinstance(key, PublicKey) else key.public_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=days[0]))
        .not_valid_after(NOW + timedelta(days=days[1]))
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([general_name(s) for s in sans]), critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    signer = issuer.key if issuer else key
    assert not isinstance(signer, PublicKey), "a self-signed certificate needs the private key"
    digest = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, digest)


def general_name(text: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        return x509.DNSName(text)


def authority(
    cn: str,
    key: PrivateKey,
    issuer: Ca | None = None,
    *,
    days: tuple[int, int] = (-30, 60),
    path_length: int | None = None,
) -> Ca:
    return Ca(make(cn, key, issuer, ca=True, days=days, path_length=path_length), key)


def der_encoding(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
OLD_RSA_SIGNATURES = {
    "sha1": bytes.fromhex("300d06092a864886f70d0101050500"),
    "md5": bytes.fromhex("300d06092a864886f70d0101040500"),
}


def resigned(cert: x509.Certificate, issuer: Ca, digest: hashes.HashAlgorithm) -> x509.Certificate:
    """`cert` signed again by `issuer` with SHA-1 or MD5, which cryptography's builder no longer does: the
    algorithm identifier is swapped in the to-be-signed bytes (same length) and the signature remade."""
    assert isinstance(issuer.key, rsa.RSAPrivateKey)
    algorithm = OLD_RSA_SIGNATURES[digest.name]
    assert cert.tbs_certificate_bytes.count(SHA256_WITH_RSA) == 1
    tbs = cert.tbs_certificate_bytes.replace(SHA256_WITH_RSA, algorithm)
    signature = issuer.key.sign(tbs, padding.PKCS1v15(), digest)
    return x509.load_der_x509_certificate(der_encoding(0x30, tbs + algorithm + der_encoding(0x03, b"\0" + signature)))


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem_file(path: Path, certs: Sequence[x509.Certificate]) -> str:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return str(path)


# One PKI for the module: root -> intermediate -> leaves, on fast EC keys; an RSA CA for SHA-1 and MD5.


@functools.cache
def root() -> Ca:
    return authority("Test Root", ec_key("root"))


@functools.cache
def intermediate() -> Ca:
    return authority("Test Intermediate", ec_key("intermediate"), root())


@functools.cache
def rsa_ca() -> Ca:
    return authority("RSA Root", rsa_key("rsa-root"))


def leaf(
    cn: str = "www.example.com",
    sans: Sequence[str] | None = None,
    *,
    days: tuple[int, int] = (-30, 60),
    eku: Sequence[x509.ObjectIdentifier] = (),
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """A leaf for `cn` from the test intermediate, naming `cn` in its subjectAltName unless `sans` says otherwise."""
    names = (cn,) if sans is None else sans
    return make(cn, ec_key("leaf"), intermediate(), sans=names, days=days, eku=eku, extra=extra)


@dataclass(frozen=True)
class Case:
    """What the server sends, what the client trusts, the name it connects to, and the verdict expected."""

    sent: tuple[x509.Certificate, ...]
    anchors: tuple[x509.Certificate, ...]
    name: str
    expected: tuple[tuple[CertificateProblem, bool], ...] = ()
    detail: str = ""
    """Words the first problem's detail must contain."""


def chain(
    cert: x509.Certificate,
    name: str,
    expected: tuple[tuple[CertificateProblem, bool], ...] = (),
    detail: str = "",
) -> Case:
    """`cert` sent with the test intermediate, checked against the test root."""
    return Case((cert, intermediate().cert), (root().cert,), name, expected, detail)


CASES: dict[str, Callable[[], Case]] = {
    "trusted chain": lambda: chain(leaf(), name="www.example.com"),
    "expired leaf": lambda: chain(
        leaf("old.example", days=(-400, -31)),
        name="old.example",
        expected=((P.EXPIRED, True),),
        detail="expired on 2025-05-01 (leaf CN=old.example)",
    ),
    "not yet valid leaf": lambda: chain(
        leaf("new.example", days=(10, 400)),
        name="new.example",
        expected=((P.NOT_YET_VALID, True),),
        detail="not valid until 2025-06-11 (leaf CN=new.example)",
    ),
    "expires in 10 days": lambda: chain(leaf(days=(-355, 10)), name="www.example.com"),
    "expired intermediate": lambda: Case(
        (leaf(), authority("Test Intermediate", ec_key("intermediate"), root(), days=(-400, -1)).cert),
        (root().cert,),
        "www.example.com",
        ((P.EXPIRED, True),),
        "(intermediate CN=Test Intermediate)",
    ),
    "self-signed": lambda: Case(
        (make("self.example", ec_key("self"), sans=("self.example",)),),
        (root().cert,),
        "self.example",
        ((P.UNTRUSTED, True),),
        "self-signed and not in the trust store (leaf CN=self.example)",
    ),
    "no intermediate sent": lambda: Case(
        (leaf(),),
        (root().cert,),
        "www.example.com",
        ((P.UNTRUSTED, True),),
        'issuer "CN=Test Intermediate" neither sent by the server nor in the trust store (leaf CN=www.example.com)',
    ),
    "out of order with extras": lambda: Case(
        (leaf(), make("Stray", ec_key("stray")), root().cert, intermediate().cert), (root().cert,), "www.example.com"
    ),
    "wrong name": lambda: chain(
        leaf(), name="other.example.com", expected=((P.NAME_MISMATCH, True),), detail="DNS:www.example.com"
    ),
    "wildcard": lambda: chain(leaf("*.example.com"), name="a.example.com"),
    "wildcard, bare domain": lambda: chain(
        leaf("*.example.com"), name="example.com", expected=((P.NAME_MISMATCH, True),)
    ),
    "wildcard, two labels": lambda: chain(
        leaf("*.example.com"), name="a.b.example.com", expected=((P.NAME_MISMATCH, True),)
    ),
    "IP SAN": lambda: chain(leaf("server", sans=("192.0.2.10", "2001:db8::10")), name="192.0.2.10"),
    "IPv6 SAN": lambda: chain(leaf("server", sans=("2001:db8::10",)), name="2001:db8:0:0:0:0:0:10"),
    "IP not in SANs": lambda: chain(
        leaf("server", sans=("192.0.2.10",)), name="192.0.2.11", expected=((P.NAME_MISMATCH, True),)
    ),
    "IP as a DNS SAN": lambda: chain(
        make(
            "server",
            ec_key("leaf"),
            intermediate(),
            extra=((x509.SubjectAlternativeName([x509.DNSName("192.0.2.10")]), False),),
        ),
        name="192.0.2.10",
        expected=((P.NAME_MISMATCH, True),),
        detail="the leaf lists no IP address",
    ),
    "CN fallback": lambda: chain(leaf("cn-only.example", sans=()), name="cn-only.example"),
    "CN ignored beside a DNS SAN": lambda: chain(
        leaf("cn.example", sans=("san.example",)), name="cn.example", expected=((P.NAME_MISMATCH, True),)
    ),
    "no CN for an IP": lambda: chain(
        leaf("192.0.2.10", sans=()), name="192.0.2.10", expected=((P.NAME_MISMATCH, True),)
    ),
}


def run(case: Case, tmp_path: Path) -> Certificate:
    ca_file = pem_file(tmp_path / "anchors.pem", case.anchors)
    return inspect([der(c) for c in case.sent], case.name, ca_file, NOW)


@pytest.mark.parametrize("case_id", list(CASES))
def test_verdict(case_id: str, tmp_path: Path) -> None:
    case = CASES[case_id]()
    cert = run(case, tmp_path)
    assert [(p.kind, p.refused) for p in cert.problems] == list(case.expected), cert.problems
    if case.detail:
        assert case.detail in cert.problems[0].detail


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def openssl_accepts(case: Case, tmp_path: Path) -> bool:
    command = ["openssl", "verify", "-CAfile", pem_file(tmp_path / "ca.pem", case.anchors)]
    if len(case.sent) > 1:
        command += ["-untrusted", pem_file(tmp_path / "untrusted.pem", case.sent[1:])]
    try:
        ipaddress.ip_address(case.name)
        command += ["-verify_ip", case.name]
    except ValueError:
        command += ["-verify_hostname", case.name]
    command += ["-attime", str(int(NOW.timestamp())), pem_file(tmp_path / "leaf.pem", case.sent[:1])]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30).returncode == 0


@needs_openssl
@pytest.mark.parametrize("case_id", list(CASES))
def test_openssl_agrees(case_id: str, tmp_path: Path) -> None:
    case = CASES[case_id]()
    assert openssl_accepts(case, tmp_path) == (not run(case, tmp_path).refused)


# The rest of the JDK's rules, where OpenSSL is no oracle.


def kinds(cert: Certificate) -> list[tuple[CertificateProblem, bool]]:
    return [(p.kind, p.refused) for p in cert.problems]


def check(
    sent: Sequence[x509.Certificate], name: str, anchors: Sequence[x509.Certificate], tmp_path: Path
) -> Certificate:
    return inspect([der(c) for c in sent], name, pem_file(tmp_path / "anchors.pem", anchors), NOW)


def test_the_leaf_is_described(tmp_path: Path) -> None:
    cert = check(
        [leaf(sans=("www.example.com", "192.0.2.1")), intermediate().cert], "www.example.com", [root().cert], tmp_path
    )
    assert cert.subject == "CN=www.example.com"
    assert cert.issuer == "CN=Test Intermediate"
    assert cert.sans == ("DNS:www.example.com", "IP:192.0.2.1")
    assert (cert.key_type, cert.key_bits, cert.signature) == ("EC", 256, "ecdsa-with-SHA256")
    assert cert.not_before == NOW - timedelta(days=30) and cert.not_after == NOW + timedelta(days=60)
    assert cert.chain_length == 2 and cert.trust == str(tmp_path / "anchors.pem") and not cert.problems
    assert len(cert.fingerprint_sha256) == 95 and cert.fingerprint_sha256 == cert.fingerprint_sha256.upper()


@needs_openssl
def test_fingerprint_is_openssls(tmp_path: Path) -> None:
    the_leaf = leaf()
    cert = check([the_leaf, intermediate().cert], "www.example.com", [root().cert], tmp_path)
    leaf_pem = pem_file(tmp_path / "leaf.pem", [the_leaf])
    printed = subprocess.run(
        ["openssl", "x509", "-in", leaf_pem, "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed.strip().endswith("=" + cert.fingerprint_sha256)


@pytest.mark.parametrize(
    ("template", "name", "matches"),
    [
        ("*.example.com", "A.Example.COM", True),
        ("*.example.com", "a.example.com.", True),  # the trailing dot goes, as from the SNI name
        ("xn--bcher-kva.example", "bücher.example", True),
        # HostnameChecker's TLS rules: a wildcard within a label or in any label, not just the leftmost one.
        ("f*.example.com", "foo.example.com", True),
        ("f*.example.com", "bar.example.com", False),
        ("*.*.example.com", "a.b.example.com", True),
        ("*", "example", False),
        ("*.com", "example.com", True),  # refused only under a CA of the JDK's own store
        ("a.example.com.", "a.example.com", False),
        ("_srv.example.com", "_srv.example.com", False),
    ],
)
def test_host_name_rules(template: str, name: str, matches: bool, tmp_path: Path) -> None:
    the_leaf = make("leaf", ec_key("leaf"), intermediate(), sans=(template,))
    cert = check([the_leaf, intermediate().cert], name, [root().cert], tmp_path)
    assert kinds(cert) == ([] if matches else [(P.NAME_MISMATCH, True)])


def test_ipv6_literal_in_brackets(tmp_path: Path) -> None:
    the_leaf = leaf("server", sans=("2001:db8::10",))
    assert not check([the_leaf, intermediate().cert], "[2001:db8::10]", [root().cert], tmp_path).problems


def test_rsa_1024_is_a_warning(tmp_path: Path) -> None:
    the_leaf = make("old-key.example", rsa_key("leaf", 1024), intermediate(), sans=("old-key.example",))
    cert = check([the_leaf, intermediate().cert], "old-key.example", [root().cert], tmp_path)
    assert kinds(cert) == [(P.WEAK_KEY, False)]
    assert (cert.key_type, cert.key_bits) == ("RSA", 1024)
    assert cert.problems[0].detail == "RSA 1024-bit key, below 2048 bits (leaf CN=old-key.example)"


@pytest.mark.parametrize("bits", [512, 768])
def test_rsa_under_1024_is_refused(bits: int, tmp_path: Path) -> None:
    the_leaf = make("tiny.example", small_rsa_public_key(bits), intermediate(), sans=("tiny.example",))
    cert = check([the_leaf, intermediate().cert], "tiny.example", [root().cert], tmp_path)
    assert kinds(cert) == [(P.WEAK_KEY, True)]
    assert f"RSA {bits}-bit key, below the JDK's 1024-bit minimum" in cert.problems[0].detail


@pytest.mark.parametrize("curve", ["secp192r1", "secp256k1"])
def test_ec_curves_jdk17_cannot_use_are_refused(curve: str, tmp_path: Path) -> None:
    the_leaf = make("curve.example", ec_key("leaf", curve), intermediate(), sans=("curve.example",))
    cert = check([the_leaf, intermediate().cert], "curve.example", [root().cert], tmp_path)
    assert kinds(cert) == [(P.WEAK_KEY, True)]


def test_ed25519_leaf(tmp_path: Path) -> None:
    ed_key = ed25519.Ed25519PrivateKey.generate().public_key()
    the_leaf = make("ed.example", ed_key, intermediate(), sans=("ed.example",))
    cert = check([the_leaf, intermediate().cert], "ed.example", [root().cert], tmp_path)
    assert (cert.key_type, cert.key_bits, cert.problems) == ("Ed25519", 255, ())


def test_sha1_under_a_private_ca_is_a_warning(tmp_path: Path) -> None:
    the_leaf = resigned(make("sha1.example", ec_key("leaf"), rsa_ca(), sans=("sha1.example",)), rsa_ca(), hashes.SHA1())
    cert = check([the_leaf], "sha1.example", [rsa_ca().cert], tmp_path)
    assert cert.signature == "sha1WithRSAEncryption"
    assert kinds(cert) == [(P.WEAK_SIGNATURE, False)]


def test_md5_is_refused(tmp_path: Path) -> None:
    the_leaf = resigned(make("md5.example", ec_key("leaf"), rsa_ca(), sans=("md5.example",)), rsa_ca(), hashes.MD5())
    cert = check([the_leaf], "md5.example", [rsa_ca().cert], tmp_path)
    assert cert.signature == "md5WithRSAEncryption"
    assert kinds(cert) == [(P.WEAK_SIGNATURE, True)]
    assert cert.problems[0].detail == "signed with MD5, which the JDK refuses (leaf CN=md5.example)"


def test_an_anchors_own_md5_signature_does_not_count(tmp_path: Path) -> None:
    md5_root = Ca(resigned(rsa_ca().cert, rsa_ca(), hashes.MD5()), rsa_ca().key)
    the_leaf = make("ok.example", ec_key("leaf"), md5_root, sans=("ok.example",))
    assert not check([the_leaf, md5_root.cert], "ok.example", [md5_root.cert], tmp_path).problems


def test_a_pinned_leaf_is_accepted_even_expired(tmp_path: Path) -> None:
    """The JDK returns at once when the leaf itself is a trust anchor: no dates, no usage checks."""
    pinned = make("pinned.example", ec_key("pinned"), sans=("pinned.example",), days=(-400, -5))
    cert = check([pinned], "pinned.example", [pinned], tmp_path)
    assert kinds(cert) == [(P.EXPIRED, False)]


def test_an_expired_anchor_is_reported_not_refused(tmp_path: Path) -> None:
    old_root = authority("Old Root", ec_key("old-root"), days=(-400, -1))
    the_leaf = make("www.example.com", ec_key("leaf"), old_root, sans=("www.example.com",))
    cert = check([the_leaf], "www.example.com", [old_root.cert], tmp_path)
    assert kinds(cert) == [(P.EXPIRED, False)]
    assert "trust anchor CN=Old Root" in cert.problems[0].detail


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: Ca(make("Not A CA", ec_key("nca"), root()), ec_key("nca")), "not a CA certificate"),
        (lambda: Ca(make("No BC", ec_key("nbc"), root(), basic_constraints=False), ec_key("nbc")), "not a CA"),
    ],
)
def test_an_issuer_that_is_no_ca_is_untrusted(build: Callable[[], Ca], words: str, tmp_path: Path) -> None:
    issuer = build()
    the_leaf = make("www.example.com", ec_key("leaf"), issuer, sans=("www.example.com",))
    cert = check([the_leaf, issuer.cert], "www.example.com", [root().cert], tmp_path)
    assert kinds(cert) == [(P.UNTRUSTED, True)] and words in cert.problems[0].detail


def test_path_length_constraint(tmp_path: Path) -> None:
    top = authority("Top CA", ec_key("top"), root(), path_length=0)
    below = authority("Below CA", ec_key("below"), top)
    the_leaf = make("www.example.com", ec_key("leaf"), below, sans=("www.example.com",))
    cert = check([the_leaf, below.cert, top.cert], "www.example.com", [root().cert], tmp_path)
    assert kinds(cert) == [(P.UNTRUSTED, True)] and "intermediate CN=Below CA" in cert.problems[0].detail


def test_client_only_extended_key_usage_is_untrusted(tmp_path: Path) -> None:
    the_leaf = leaf(eku=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    cert = check([the_leaf, intermediate().cert], "www.example.com", [root().cert], tmp_path)
    assert kinds(cert) == [(P.UNTRUSTED, True)] and "extended key usage" in cert.problems[0].detail


def test_unknown_critical_extension_is_untrusted(tmp_path: Path) -> None:
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    the_leaf = leaf(extra=((odd, True),))
    cert = check([the_leaf, intermediate().cert], "www.example.com", [root().cert], tmp_path)
    assert kinds(cert) == [(P.UNTRUSTED, True)] and "1.3.6.1.4.1.55555.1" in cert.problems[0].detail


def test_the_system_store_is_the_default() -> None:
    cert = inspect([der(leaf()), der(intermediate().cert)], "www.example.com", None, NOW)
    assert cert.trust == "system"
    assert kinds(cert) == [(P.UNTRUSTED, True)] and '"CN=Test Root"' in cert.problems[0].detail


@pytest.fixture
def system_store_of(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[[Sequence[x509.Certificate]], None]]:
    """Points OpenSSL's SSL_CERT_FILE, and so the system trust store, at a bundle of the test's own."""

    def use(anchors: Sequence[x509.Certificate]) -> None:
        monkeypatch.setenv("SSL_CERT_FILE", pem_file(tmp_path / "system.pem", anchors))
        certificate._system_store.cache_clear()

    yield use
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    certificate._system_store.cache_clear()


def test_sha1_under_a_system_ca_is_refused(system_store_of: Callable[[Sequence[x509.Certificate]], None]) -> None:
    system_store_of([rsa_ca().cert])
    the_leaf = resigned(make("sha1.example", ec_key("leaf"), rsa_ca(), sans=("sha1.example",)), rsa_ca(), hashes.SHA1())
    cert = inspect([der(the_leaf)], "sha1.example", None, NOW)
    assert kinds(cert) == [(P.WEAK_SIGNATURE, True)]


def test_public_wildcard_above_a_tld_is_refused(system_store_of: Callable[[Sequence[x509.Certificate]], None]) -> None:
    system_store_of([root().cert])
    the_leaf = leaf("*.com")
    cert = inspect([der(the_leaf), der(intermediate().cert)], "example.com", None, NOW)
    assert kinds(cert) == [(P.NAME_MISMATCH, True)]


@pytest.mark.parametrize(
    ("sent", "words"),
    [([], "sent no certificate"), ([b"\x30\x03\x02\x01\x01"], "certificate 1 of 1"), ([b"garbage"], "not valid DER")],
)
def test_undecodable_chains_raise(sent: list[bytes], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        inspect(sent, "www.example.com", None, NOW)


def test_an_unusable_ca_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read ca_file"):
        inspect([der(leaf())], "www.example.com", str(tmp_path / "missing.pem"), NOW)
    (tmp_path / "empty.pem").write_text("no certificates here\n")
    with pytest.raises(ValueError, match="no PEM certificate"):
        inspect([der(leaf())], "www.example.com", str(tmp_path / "empty.pem"), NOW)


def test_control_characters_in_a_certificate_cannot_forge_a_line_of_the_summary(tmp_path: Path) -> None:
    forged = "evil\n!! other-endpoint  ok  \x1b[32mforged"
    cert = check(
        [leaf(cn=forged, sans=("www.example.com",)), intermediate().cert], "www.example.org", [root().cert], tmp_path
    )
    texts = [cert.subject, *cert.sans, *(p.detail for p in cert.problems)]
    assert cert.problems and all("\n" not in t and "\x1b" not in t for t in texts)
    assert "evil?!! other-endpoint" in cert.subject
