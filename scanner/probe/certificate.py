"""The verdict of a JDK 17 client on the certificate chain a server sent: trust, dates, host name and algorithms.

`inspect(chain, server_name, ca_file, now)` reads the DER certificates of the TLS 1.2 Certificate message (leaf
first, the rest in any order, extras allowed) and returns a `models.Certificate` whose problems are judged as
JDK 17's `X509TrustManagerImpl` judges them: PKIX through `sun.security.validator` with the JDK's
`jdk.certpath.disabledAlgorithms` (MD2, MD5, SHA1 jdkCA & usage TLSServer, RSA keySize < 1024, DSA keySize < 1024,
EC keySize < 224, as /usr/lib/jvm/java-17-openjdk-amd64/conf/security/java.security says), its
`jdk.security.caDistrustPolicies` for Entrust and Camerfirma, then `HostnameChecker` with the HTTPS rules. `now` is
passed in; the trust store is `ca_file` (a PEM bundle) or, when it is None, the system's, read once.

Representation: `sans` are the leaf's subjectAltName DNS names and IP addresses as "DNS:a.example" and
"IP:192.0.2.1" (IPv6 compressed), other kinds left out; `fingerprint_sha256` is upper-case hex in colon-separated
pairs, as keytool and `openssl x509 -fingerprint` print it; `key_bits` of Ed25519 and Ed448 are 255 and 448, as the
JDK counts them. An empty chain, undecodable DER and an unreadable or empty `ca_file` raise ValueError.

The path is built here, not by `cryptography.x509.verification`: that verifier keeps a web-PKI profile even with
its extension policies relaxed (it forbids SHA-1 signatures and RSA issuer keys under 2048 bits, and a server
verifier needs a subjectAltName), where the JDK accepts all three. Like the JDK, trust is judged without the
dates, so an expired leaf under a trusted CA shows EXPIRED only; a leaf that is itself in the trust store is
accepted with no path checks, and a trust anchor's own dates and self-signature are never checked (an expired
anchor is reported, not refused). Differences from JDK 17 that remain:

- name constraints and certificate policies are not evaluated, nor the Netscape certificate type, the JDK's
  blocked.certs list or its Symantec distrust policy (those roots are no longer in the stores);
- under a CA of the JDK's own store, a wildcard right above a top-level domain ("*.com") is refused, but the
  public suffix list is not consulted, so "*.co.uk" is not;
- the leaf's keyUsage passes with any of digitalSignature, keyEncipherment or keyAgreement: the JDK asks for the
  one bit the negotiated key exchange needs, which is not known here;
- signatures cryptography cannot verify (MD2, MD4, exotic keys) make the chain UNTRUSTED, names are compared
  exactly where the JDK folds case and spaces, and when several issuers fit, one currently valid and sent first is
  preferred, which the JDK does only when the server's order is broken.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import ssl
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from scanner.models import Certificate, CertificateIssue, CertificateProblem

SYSTEM = "system"
"""`Certificate.trust` when the chain was checked against the system's trust store."""

_DEBIAN_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

# jdk.certpath.disabledAlgorithms of JDK 17: the refusal limits; below _FLOOR_BITS is only a warning.
_MIN_BITS = {"RSA": 1024, "DSA": 1024, "EC": 224}
_FLOOR_BITS = 2048
_JDK_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
"""The only ECDSA curves JDK 17's SunEC still implements: a key on any other curve cannot verify anything."""
_MD_SIGNATURES = {"1.2.840.113549.1.1.2": "MD2", "1.2.840.113549.1.1.4": "MD5"}

# What the JDK's PKIX checkers and its TLS end-entity checker recognise.
_KNOWN_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_MAPPINGS,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.INHIBIT_ANY_POLICY,
    }
)
_SERVER_EKUS = frozenset(
    {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
        x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),  # Microsoft Server Gated Cryptography
        x509.ObjectIdentifier("2.16.840.1.113730.4.1"),  # Netscape Server Gated Cryptography
    }
)
_MAX_PATH = 8
_MAX_CANDIDATES = 32


@dataclass(frozen=True)
class _Distrust:
    """A JDK CA distrust policy: TLS server certificates issued after `after` under these roots are refused."""

    name: str
    after: date
    roots: frozenset[str]


# sun.security.validator.EntrustTLSPolicy and CamerfirmaTLSPolicy of JDK 17.0.15 (SHA-256 of the roots).
_DISTRUST = (
    _Distrust(
        "Entrust",
        date(2024, 11, 11),
        frozenset(
            {
                "0376AB1D54C5F9803CE4B2E201A0EE7EEF7B57B636E8A93C9B8D4860C96F5FA7",
                "0A81EC5A929777F145904AF38D5D509F66B5E2C58FCDB531058B0E17F3F0B41B",
                "70A73F7F376B60074248904534B11482D5BF0E698ECC498DF52577EBF2E93B9A",
                "BD71FDF6DA97E4CF62D1647ADD2581B07D79ADF8397EB4ECBA9C5E8488821423",
                "6DC47172E01CBCB0BF62580D895FE2B8AC9AD4F873801E0C10B9C837D21EB177",
                "73C176434F1BC6D5ADF45B0E76E727287C8DE57616C1E6E6141A2B2CBC7D8E4C",
                "02ED0EB28C14DA45165C566791700D6451D7FB56F0B2AB1D3B8EB070E56EDFF5",
                "43DF5774B03E7FEF5FE40D931A7BEDF1BB2E6B42738C4E6D3841103D3AA7F339",
                "DB3517D1F6732A2D5AB97C533EC70779EE3270A62FB4AC4238372460E6F01E88",
            }
        ),
    ),
    _Distrust(
        "Camerfirma",
        date(2025, 4, 15),
        frozenset(
            {
                "0C258A12A5674AEF25F28BA7DCFAECEEA348E541E6F5CC4EE63B71B361606AC3",
                "063E4AFAC491DFD332F3089B8542E94617D893D7FE944E10A7937EE29D9693C0",
                "136335439334A7698016A0D324DE72284E079D7B5220BB8FBD747816EEBEBACA",
            }
        ),
    ),
)

_E = TypeVar("_E", bound=x509.ExtensionType)
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


_ONE_AT_A_TIME = threading.Lock()


def inspect(chain: Sequence[bytes], server_name: str, ca_file: str | None, now: datetime) -> Certificate:
    """The leaf of `chain` and the JDK 17 client's verdict on the chain for `server_name` at `now` (aware UTC),
    against `ca_file` or, when None, the system trust store. Raises ValueError for an empty chain, undecodable DER
    or an unusable `ca_file`."""
    # warnings.catch_warnings swaps the process's filters: two threads inside it at once can leave one of
    # them without the filter (seen as an internal error under pytest's warnings-as-errors), so one at a time.
    with _ONE_AT_A_TIME, warnings.catch_warnings():
        # Real roots (and servers) carry negative serial numbers, which the JDK accepts and cryptography warns of.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        certs = _parse_chain(chain)
        store = _system_store() if ca_file is None else _load_store(ca_file)
        path = _build_path(certs, store, now)
        public = path.anchor is not None and _fingerprint(path.anchor) in _system_store().fingerprints
        issues = (
            *_trust_issues(path),
            *_date_issues(path, now),
            *_name_issues(certs[0], server_name, public),
            *_key_issues(path),
            *_signature_issues(path, public),
        )
        return _summary(certs[0], len(certs), SYSTEM if ca_file is None else ca_file, issues)


# The server's chain and the trust stores.


def _parse_chain(chain: Sequence[bytes]) -> tuple[x509.Certificate, ...]:
    if not chain:
        raise ValueError("the server sent no certificate")
    certs = []
    for number, der in enumerate(chain, 1):
        try:
            cert = x509.load_der_x509_certificate(der)
            cert.extensions  # noqa: B018 - parsed lazily: a malformed extension must fail here, not later
        except ValueError:
            raise ValueError(f"certificate {number} of {len(chain)} the server sent is not valid DER") from None
        certs.append(cert)
    return tuple(certs)


@dataclass(frozen=True)
class _Store:
    """Trust anchors, looked up by subject; a certificate is trusted when its subject and key are those of one."""

    by_subject: Mapping[x509.Name, tuple[x509.Certificate, ...]]
    keys: frozenset[tuple[x509.Name, bytes]]
    fingerprints: frozenset[str]

    def holds(self, cert: x509.Certificate) -> bool:
        return (cert.subject, _key_bytes(cert)) in self.keys

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return [anchor for anchor in self.by_subject.get(cert.issuer, ()) if _signed_by(cert, anchor)]


def _make_store(certs: Sequence[x509.Certificate]) -> _Store:
    unique = {_fingerprint(cert): cert for cert in certs}
    by_subject: dict[x509.Name, tuple[x509.Certificate, ...]] = {}
    for cert in unique.values():
        by_subject[cert.subject] = (*by_subject.get(cert.subject, ()), cert)
    keys = frozenset((cert.subject, _key_bytes(cert)) for cert in unique.values())
    return _Store(by_subject, keys, frozenset(unique))


def _read_pem(data: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle that parses; one damaged entry does not lose the others."""
    certs = []
    for block in _PEM.findall(data):
        try:
            certs.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            continue
    return certs


def _load_store(ca_file: str) -> _Store:
    try:
        data = Path(ca_file).read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read ca_file {ca_file}: {error.strerror}") from None
    certs = _read_pem(data)
    if not certs:
        raise ValueError(f"no PEM certificate in ca_file {ca_file}")
    return _make_store(certs)


@functools.cache
def _system_store() -> _Store:
    return _make_store(_system_certificates())


def _system_certificates() -> list[x509.Certificate]:
    """The CA file OpenSSL would use, else every file of its CA directory, else Debian's bundle."""
    paths = ssl.get_default_verify_paths()
    if paths.cafile:
        files = [Path(paths.cafile)]
    elif paths.capath and Path(paths.capath).is_dir():
        files = sorted(f for f in Path(paths.capath).iterdir() if f.is_file())
    else:
        files = [_DEBIAN_BUNDLE]
    certs = []
    for file in files:
        try:
            certs.extend(_read_pem(file.read_bytes()))
        except OSError:
            continue
    return certs


# Building the path as the JDK's PKIX validator and builder do: dates aside, anchors before intermediates.


@dataclass(frozen=True)
class _Path:
    """The certificates the client checks (leaf first), the anchor they lead to, and why it refuses them."""

    certs: tuple[x509.Certificate, ...]
    anchor: x509.Certificate | None
    leaf: x509.Certificate
    failure: str | None = None


def _build_path(certs: Sequence[x509.Certificate], store: _Store, now: datetime) -> _Path:
    """The first path that passes, else the first that reaches an anchor, else the longest dead end."""
    leaf = certs[0]
    if store.holds(leaf):
        return _Path((), leaf, leaf)
    pool = tuple({_fingerprint(c): c for c in certs[1:] if not store.holds(c) and c != leaf}.values())
    anchored: _Path | None = None
    dead_end: _Path | None = None
    for path in islice(_walk((leaf,), pool, store, now), _MAX_CANDIDATES):
        if path.anchor is None:
            dead_end = path if dead_end is None or len(path.certs) > len(dead_end.certs) else dead_end
            continue
        failure = _path_failure(path)
        if failure is None:
            return path
        anchored = anchored or _Path(path.certs, path.anchor, leaf, failure)
    if anchored is not None:
        return anchored
    assert dead_end is not None, "a walk yields at least one path"
    return dead_end


def _walk(
    certs: tuple[x509.Certificate, ...], pool: tuple[x509.Certificate, ...], store: _Store, now: datetime
) -> Iterator[_Path]:
    """Every path from `certs` up to a trust anchor, depth first, and the dead ends met on the way."""
    top = certs[-1]
    anchors = store.issuers_of(top)
    for anchor in anchors:
        yield _Path(certs, anchor, certs[0])
    issuers = [c for c in pool if c not in certs and _signed_by(top, c)] if len(certs) < _MAX_PATH else []
    issuers.sort(key=lambda c: not _valid_at(c, now))
    for issuer in issuers:
        yield from _walk((*certs, issuer), pool, store, now)
    if not anchors and not issuers:
        yield _Path(certs, None, certs[0], _dead_end(top, certs[0], pool, store))


def _dead_end(top: x509.Certificate, leaf: x509.Certificate, pool: Sequence[x509.Certificate], store: _Store) -> str:
    who = _who(top, leaf)
    if top.issuer == top.subject and _signed_by(top, top):
        return f"self-signed and not in the trust store ({who})"
    issuer = top.issuer.rfc4514_string()
    if any(c.subject == top.issuer for c in pool) or top.issuer in store.by_subject:
        return f'signature does not verify with the key of "{issuer}" ({who})'
    return f'issuer "{issuer}" neither sent by the server nor in the trust store ({who})'


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """`issuer`'s name and key made `cert`'s signature, whatever its digest (SHA-1 and MD5 included)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        key = issuer.public_key()
        params = cert.signature_algorithm_parameters
        digest = cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and digest and not isinstance(params, ec.ECDSA):
            # cryptography names no padding for the PKCS #1 signatures it would not make itself (MD5).
            key.verify(cert.signature, cert.tbs_certificate_bytes, params or padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(params, ec.ECDSA):
            key.verify(cert.signature, cert.tbs_certificate_bytes, params)
        elif isinstance(key, dsa.DSAPublicKey) and digest:
            key.verify(cert.signature, cert.tbs_certificate_bytes, digest)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey) and params is None and not digest:
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _path_failure(path: _Path) -> str | None:
    """Why the JDK refuses a path that reaches an anchor: CA constraints, critical extensions, TLS usage, distrust."""
    return (
        _ca_failure(path)
        or next((f for c in path.certs if (f := _critical_failure(c, path.leaf))), None)
        or _server_usage_failure(path.leaf)
        or _distrust_failure(path)
    )


def _ca_failure(path: _Path) -> str | None:
    """The JDK's ConstraintsChecker and KeyChecker on the intermediates, from the anchor down."""
    cas = path.certs[:0:-1]
    room = len(path.certs)
    for index, ca in enumerate(cas):
        constraints = _extension(ca, x509.BasicConstraints)
        self_issued = ca.subject == ca.issuer
        if ca.version is x509.Version.v1 and index == 0 and self_issued:
            limit = None
        elif constraints is None or not constraints.ca:
            return f"not a CA certificate, yet it issued the next one ({_who(ca, path.leaf)})"
        else:
            limit = constraints.path_length
        if not self_issued:
            if room <= 0:
                return f"a path length constraint above it is exceeded ({_who(ca, path.leaf)})"
            room -= 1
        room = room if limit is None else min(room, limit)
        usage = _extension(ca, x509.KeyUsage)
        if usage is not None and not usage.key_cert_sign:
            return f"key usage lacks keyCertSign ({_who(ca, path.leaf)})"
    return None


def _critical_failure(cert: x509.Certificate, leaf: x509.Certificate) -> str | None:
    unknown = [e.oid.dotted_string for e in cert.extensions if e.critical and e.oid not in _KNOWN_CRITICAL]
    return f"unrecognized critical extension {', '.join(unknown)} ({_who(cert, leaf)})" if unknown else None


def _server_usage_failure(leaf: x509.Certificate) -> str | None:
    """The JDK's EndEntityChecker for a TLS server (not run when the leaf is itself a trust anchor)."""
    purposes = _extension(leaf, x509.ExtendedKeyUsage)
    if purposes is not None and not _SERVER_EKUS.intersection(purposes):
        return f"extended key usage does not allow TLS server authentication ({_who(leaf, leaf)})"
    usage = _extension(leaf, x509.KeyUsage)
    if usage is not None and not (usage.digital_signature or usage.key_encipherment or usage.key_agreement):
        return f"key usage allows no TLS key exchange ({_who(leaf, leaf)})"
    return None


def _distrust_failure(path: _Path) -> str | None:
    assert path.anchor is not None
    anchor = _fingerprint(path.anchor).replace(":", "")
    issued = path.leaf.not_valid_before_utc.date()
    for policy in _DISTRUST:
        if anchor in policy.roots and issued > policy.after:
            return f"issued after {policy.after} under a distrusted {policy.name} root ({_who(path.leaf, path.leaf)})"
    return None


# The problems.


def _trust_issues(path: _Path) -> list[CertificateIssue]:
    return [CertificateIssue(CertificateProblem.UNTRUSTED, path.failure)] if path.failure else []


def _members(path: _Path) -> list[tuple[x509.Certificate, bool]]:
    """Every certificate the verdict rests on, each with whether it is the trust anchor."""
    return [(c, False) for c in path.certs] + ([(path.anchor, True)] if path.anchor is not None else [])


def _date_issues(path: _Path, now: datetime) -> list[CertificateIssue]:
    issues = []
    for cert, anchor in _members(path):
        note = "; the client does not check a trust anchor's dates" if anchor else ""
        who = _who(cert, path.leaf, anchor)
        if now > cert.not_valid_after_utc:
            detail = f"expired on {cert.not_valid_after_utc.date()} ({who}){note}"
            issues.append(CertificateIssue(CertificateProblem.EXPIRED, detail, refused=not anchor))
        elif now < cert.not_valid_before_utc:
            detail = f"not valid until {cert.not_valid_before_utc.date()} ({who}){note}"
            issues.append(CertificateIssue(CertificateProblem.NOT_YET_VALID, detail, refused=not anchor))
    return issues


def _key_issues(path: _Path) -> list[CertificateIssue]:
    issues = []
    for cert, anchor in _members(path):
        key_type, bits, curve = _key_info(cert)
        who = _who(cert, path.leaf, anchor)
        if bits and bits < _MIN_BITS.get(key_type, 0):
            detail = f"{key_type} {bits}-bit key, below the JDK's {_MIN_BITS[key_type]}-bit minimum ({who})"
            issues.append(CertificateIssue(CertificateProblem.WEAK_KEY, detail))
        elif curve is not None and curve not in _JDK_CURVES:
            detail = f"EC key on {curve}, a curve JDK 17 does not implement ({who})"
            issues.append(CertificateIssue(CertificateProblem.WEAK_KEY, detail))
        elif key_type in ("RSA", "DSA") and bits < _FLOOR_BITS:
            detail = f"{key_type} {bits}-bit key, below {_FLOOR_BITS} bits ({who})"
            issues.append(CertificateIssue(CertificateProblem.WEAK_KEY, detail, refused=False))
    return issues


def _signature_issues(path: _Path, public: bool) -> list[CertificateIssue]:
    """MD2 and MD5 are refused; SHA-1 only under a CA of the JDK's own store (jdkCA), a warning otherwise."""
    issues = []
    for cert in path.certs:
        who = _who(cert, path.leaf)
        digest = _digest(cert)
        if digest in ("MD2", "MD5"):
            detail = f"signed with {digest}, which the JDK refuses ({who})"
            issues.append(CertificateIssue(CertificateProblem.WEAK_SIGNATURE, detail))
        elif digest == "SHA-1":
            verdict = "refused under a CA of the JDK's store" if public else "accepted outside the JDK's CAs"
            detail = f"signed with SHA-1, {verdict} ({who})"
            issues.append(CertificateIssue(CertificateProblem.WEAK_SIGNATURE, detail, refused=public))
    return issues


def _digest(cert: x509.Certificate) -> str | None:
    if (md := _MD_SIGNATURES.get(cert.signature_algorithm_oid.dotted_string)) is not None:
        return md
    try:
        digest = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    if isinstance(digest, hashes.MD5):
        return "MD5"
    return "SHA-1" if isinstance(digest, hashes.SHA1) else None


# The host name, as sun.security.util.HostnameChecker (TYPE_TLS) matches it.


def _name_issues(leaf: x509.Certificate, server_name: str, public: bool) -> list[CertificateIssue]:
    failure = _name_failure(leaf, server_name, public)
    if failure is None:
        return []
    return [CertificateIssue(CertificateProblem.NAME_MISMATCH, f"{failure} ({_who(leaf, leaf)})")]


def _name_failure(leaf: x509.Certificate, server_name: str, public: bool) -> str | None:
    """Why `server_name` (the SNI name: a trailing dot dropped, an IPv6 literal's brackets too) fails, or None."""
    name = server_name[1:-1] if server_name.startswith("[") and server_name.endswith("]") else server_name
    name = name.removesuffix(".")
    address = _ip(name)
    if address is not None:
        return _ip_failure(leaf, address, name)
    wanted = _a_labels(name)
    if wanted is None or not _valid_host(wanted):
        return f'"{server_name}" is not a host name the client accepts'
    sans = _extension(leaf, x509.SubjectAlternativeName)
    dns = sans.get_values_for_type(x509.DNSName) if sans is not None else []
    if dns:
        if any(_template_matches(wanted, template, public) for template in dns):
            return None
        return f'"{name}" matches none of {_listing("DNS:" + d for d in dns)}'
    common = _common_name(leaf)
    if common is None:
        return f'"{name}" cannot match: no DNS name and no CN'
    if unicodedata.is_normalized("NFKC", common) and _template_matches(wanted, common, public):
        return None
    return f'"{name}" does not match the subject CN {common}'


def _ip_failure(leaf: x509.Certificate, address: _Address, name: str) -> str | None:
    """An IP address matches iPAddress entries only, never a DNS name or the CN."""
    sans = _extension(leaf, x509.SubjectAlternativeName)
    listed = sans.get_values_for_type(x509.IPAddress) if sans is not None else []
    addresses = [_unmapped(ip) for ip in listed if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)]
    if address in addresses:
        return None
    if not addresses:
        return f"{name} cannot match: the leaf lists no IP address"
    return f"{name} matches none of {_listing(f'IP:{ip}' for ip in addresses)}"


def _template_matches(name: str, template: str, public: bool) -> bool:
    """HostnameChecker.isMatched: `name` is already in A-labels; wildcards match as the JDK's matchAllWildcards."""
    pattern = _a_labels(template)
    if pattern is None or _illegal_wildcard(pattern, public) or not _valid_host(pattern.replace("*", "z")):
        return False
    names, patterns = name.split("."), pattern.split(".")
    return len(names) == len(patterns) and all(map(_label_matches, names, patterns))


def _illegal_wildcard(pattern: str, public: bool) -> bool:
    """A lone "*", a wildcard with no dot after it, or (under a public CA) one right above a top-level domain."""
    if pattern in ("*", "*."):
        return True
    star = pattern.rfind("*")
    if star < 0:
        return False
    after = pattern[star:]
    if "." not in after:
        return True
    return public and "." not in after.split(".", 1)[1]


def _label_matches(name: str, pattern: str) -> bool:
    """HostnameChecker.matchWildCards: each "*" stands for any run of characters within the one label."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return name == pattern
    rest = name
    for index, part in enumerate(parts[:-1]):
        found = rest.find(part)
        if found < 0 or (index == 0 and found != 0):
            return False
        rest = rest[found + len(part) :]
    return rest.endswith(parts[-1])


def _a_labels(name: str) -> str | None:
    """`name` in lower-case A-labels (IDNA 2003, as java.net.IDN), or None when it has none."""
    try:
        return name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def _valid_host(name: str) -> bool:
    """What javax.net.ssl.SNIHostName accepts: letters, digits and inner hyphens, no empty label, no final dot."""
    return bool(name) and all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", label) for label in name.split("."))


def _ip(text: str) -> _Address | None:
    try:
        return _unmapped(ipaddress.ip_address(text))
    except ValueError:
        return None


def _unmapped(address: _Address) -> _Address:
    """An IPv4-mapped IPv6 address as the IPv4 address it is, as java.net.InetAddress reads it."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _listing(names: Iterable[str], shown: int = 4) -> str:
    items = list(names)
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


# What the report shows of the leaf.


def _summary(leaf: x509.Certificate, length: int, trust: str, issues: Sequence[CertificateIssue]) -> Certificate:
    key_type, bits, _ = _key_info(leaf)
    return Certificate(
        subject=_printable(leaf.subject.rfc4514_string()),
        issuer=_printable(leaf.issuer.rfc4514_string()),
        sans=tuple(_printable(name) for name in _sans(leaf)),
        key_type=key_type,
        key_bits=bits,
        signature=_signature_name(leaf),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        fingerprint_sha256=_fingerprint(leaf),
        chain_length=length,
        trust=trust,
        problems=tuple(
            replace(issue, detail=_printable(issue.detail))
            for issue in sorted(issues, key=lambda issue: list(CertificateProblem).index(issue.kind))
        ),
    )


def _printable(text: str) -> str:
    """A server's text as a terminal may show it: control characters (a newline, an escape sequence that
    would forge a line of the summary) become '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _sans(leaf: x509.Certificate) -> tuple[str, ...]:
    sans = _extension(leaf, x509.SubjectAlternativeName)
    if sans is None:
        return ()
    names = [f"DNS:{name}" for name in sans.get_values_for_type(x509.DNSName)]
    return (*names, *(f"IP:{ip}" for ip in sans.get_values_for_type(x509.IPAddress)))


def _key_info(cert: x509.Certificate) -> tuple[str, int, str | None]:
    """The key's type, size in bits and, for EC, curve; ("unknown"-ish OID name, 0, None) for other keys."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return cert.public_key_algorithm_oid._name, 0, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 255, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 448, None
    return cert.public_key_algorithm_oid._name, 0, None


def _signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = oid._name
    return oid.dotted_string if name == "Unknown OID" else name


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _key_bytes(cert: x509.Certificate) -> bytes:
    """The certificate's SubjectPublicKeyInfo; the whole certificate for a key cryptography cannot load."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return cert.public_bytes(serialization.Encoding.DER)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _common_name(cert: x509.Certificate) -> str | None:
    """The most specific (last) CN of the subject, as the JDK's X500Name.findMostSpecificAttribute."""
    values = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return next((v for v in reversed(values) if isinstance(v, str)), None)


def _who(cert: x509.Certificate, leaf: x509.Certificate, anchor: bool = False) -> str:
    """How a detail names a certificate: "leaf CN=a.example", "intermediate CN=CA 1", "trust anchor CN=Root"."""
    common = _common_name(cert)
    name = f"CN={common}" if common is not None else cert.subject.rfc4514_string() or "empty subject"
    if cert == leaf:
        role = "leaf"
    elif anchor:
        role = "trust anchor"
    else:
        role = "root" if cert.subject == cert.issuer else "intermediate"
    return f"{role} {name}"


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
