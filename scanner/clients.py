"""The TLS clients a policy can be for: the suites each implements and what its TLS 1.2 ClientHello carries.

The client tlsverify speaks for is a Java application: its Selected list is what JSSE is told to enable, in
order, and what JSSE sends is what the servers answer. A `ClientProfile` is that client as data, each with
its source. Nothing here does I/O; `scanner.probe.hello` turns a profile into ClientHello bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from functools import cache

from scanner import catalog
from scanner.models import Policy


class Group(IntEnum):
    """Named groups (RFC 8446 section 4.2.7, RFC 7919), by their code in the supported_groups extension."""

    SECP256R1 = 0x0017
    SECP384R1 = 0x0018
    SECP521R1 = 0x0019
    X25519 = 0x001D
    X448 = 0x001E
    FFDHE2048 = 0x0100
    FFDHE3072 = 0x0101
    FFDHE4096 = 0x0102
    FFDHE6144 = 0x0103
    FFDHE8192 = 0x0104

    @property
    def is_ffdhe(self) -> bool:
        return self >= 0x0100


class Extension(IntEnum):
    """The ClientHello extensions a modelled client sends (IANA TLS ExtensionType values)."""

    SERVER_NAME = 0x0000
    STATUS_REQUEST = 0x0005
    SUPPORTED_GROUPS = 0x000A
    EC_POINT_FORMATS = 0x000B
    SIGNATURE_ALGORITHMS = 0x000D
    STATUS_REQUEST_V2 = 0x0011
    EXTENDED_MASTER_SECRET = 0x0017
    SESSION_TICKET = 0x0023
    SUPPORTED_VERSIONS = 0x002B
    SIGNATURE_ALGORITHMS_CERT = 0x0032
    RENEGOTIATION_INFO = 0xFF01


# TLS 1.2 signature schemes (RFC 8446 section 4.2.3 and RFC 5246 pairs), in the JDK's order.
_JDK_SIGNATURE_SCHEMES = (
    0x0403,  # ecdsa_secp256r1_sha256
    0x0503,  # ecdsa_secp384r1_sha384
    0x0603,  # ecdsa_secp521r1_sha512
    0x0807,  # ed25519
    0x0808,  # ed448
    0x0804,  # rsa_pss_rsae_sha256
    0x0805,  # rsa_pss_rsae_sha384
    0x0806,  # rsa_pss_rsae_sha512
    0x0809,  # rsa_pss_pss_sha256
    0x080A,  # rsa_pss_pss_sha384
    0x080B,  # rsa_pss_pss_sha512
    0x0401,  # rsa_pkcs1_sha256
    0x0501,  # rsa_pkcs1_sha384
    0x0601,  # rsa_pkcs1_sha512
    0x0402,  # dsa_sha256
    0x0303,  # ecdsa_sha224
    0x0301,  # rsa_sha224
    0x0302,  # dsa_sha224
    0x0203,  # ecdsa_sha1
    0x0201,  # rsa_pkcs1_sha1
    0x0202,  # dsa_sha1
    0x0101,  # rsa_md5
)

_JDK_EXTENSIONS = (
    Extension.SERVER_NAME,
    Extension.STATUS_REQUEST,
    Extension.SUPPORTED_GROUPS,
    Extension.EC_POINT_FORMATS,
    Extension.STATUS_REQUEST_V2,
    Extension.EXTENDED_MASTER_SECRET,
    Extension.SESSION_TICKET,
    Extension.SIGNATURE_ALGORITHMS,
    Extension.SUPPORTED_VERSIONS,
    Extension.SIGNATURE_ALGORITHMS_CERT,
    Extension.RENEGOTIATION_INFO,
)

# JDK 11 (SSLExtension.java of openjdk/jdk11u): the signature algorithms pair comes before
# status_request_v2, and no session_ticket is sent.
_JDK11_EXTENSIONS = (
    Extension.SERVER_NAME,
    Extension.STATUS_REQUEST,
    Extension.SUPPORTED_GROUPS,
    Extension.EC_POINT_FORMATS,
    Extension.SIGNATURE_ALGORITHMS,
    Extension.SIGNATURE_ALGORITHMS_CERT,
    Extension.STATUS_REQUEST_V2,
    Extension.EXTENDED_MASTER_SECRET,
    Extension.SUPPORTED_VERSIONS,
    Extension.RENEGOTIATION_INFO,
)

# JDK 8u261 and later (the TLS 1.3 backport): no OCSP stapling requests by default
# (jdk.tls.client.enableStatusRequestExtension=false) and no session_ticket.
_JDK8_EXTENSIONS = (
    Extension.SERVER_NAME,
    Extension.SUPPORTED_GROUPS,
    Extension.EC_POINT_FORMATS,
    Extension.SIGNATURE_ALGORITHMS,
    Extension.SIGNATURE_ALGORITHMS_CERT,
    Extension.EXTENDED_MASTER_SECRET,
    Extension.SUPPORTED_VERSIONS,
    Extension.RENEGOTIATION_INFO,
)

_EDDSA = (0x0807, 0x0808)  # ed25519, ed448: JDK 15 and later

_JDK_GROUPS = (
    Group.X25519,
    Group.SECP256R1,
    Group.SECP384R1,
    Group.SECP521R1,
    Group.X448,
    Group.FFDHE2048,
    Group.FFDHE3072,
    Group.FFDHE4096,
    Group.FFDHE6144,
    Group.FFDHE8192,
)

# Every suite below TLS 1.3 that SunJSSE implements, in its own priority order (getSupportedCipherSuites()
# with the jdk.tls.disabledAlgorithms restrictions lifted), as OpenJDK 17.0.15 printed it.
JDK17_SUPPORTED = (
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "SSL_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "SSL_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA",
    "SSL_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
    "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
    "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
    "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
    "TLS_DH_anon_WITH_AES_256_CBC_SHA",
    "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
    "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
    "TLS_DH_anon_WITH_AES_128_CBC_SHA",
    "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
    "SSL_DH_anon_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "SSL_RSA_WITH_RC4_128_SHA",
    "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDH_RSA_WITH_RC4_128_SHA",
    "SSL_RSA_WITH_RC4_128_MD5",
    "TLS_ECDH_anon_WITH_RC4_128_SHA",
    "SSL_DH_anon_WITH_RC4_128_MD5",
    "SSL_RSA_WITH_DES_CBC_SHA",
    "SSL_DHE_RSA_WITH_DES_CBC_SHA",
    "SSL_DHE_DSS_WITH_DES_CBC_SHA",
    "SSL_DH_anon_WITH_DES_CBC_SHA",
    "SSL_RSA_EXPORT_WITH_DES40_CBC_SHA",
    "SSL_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
    "SSL_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
    "SSL_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
    "SSL_RSA_EXPORT_WITH_RC4_40_MD5",
    "SSL_DH_anon_EXPORT_WITH_RC4_40_MD5",
    "TLS_RSA_WITH_NULL_SHA256",
    "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
    "TLS_ECDHE_RSA_WITH_NULL_SHA",
    "SSL_RSA_WITH_NULL_SHA",
    "TLS_ECDH_ECDSA_WITH_NULL_SHA",
    "TLS_ECDH_RSA_WITH_NULL_SHA",
    "TLS_ECDH_anon_WITH_NULL_SHA",
    "SSL_RSA_WITH_NULL_MD5",
)

# CipherSuite.java marks DES suites as protocols up to TLS 1.1 and EXPORT suites up to TLS 1.0 (RFC 5246
# dropped both), so a TLS 1.2 hello never carries them, whatever the list: seen in the captured hello.
BEFORE_TLS12 = frozenset(s for s in JDK17_SUPPORTED if "_DES_CBC_" in s or "_EXPORT_" in s)
_JDK17_SUITES = tuple(s for s in JDK17_SUPPORTED if s not in BEFORE_TLS12)

_CHACHA20 = (
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
)  # JDK 12 and later; backported to 11.0.13, never to 8

_EC_KEY_EXCHANGES = frozenset({"ECDHE", "ECDH", "AECDH"})
_DH_KEY_EXCHANGES = frozenset({"DHE", "ADH"})


@dataclass(frozen=True)
class ClientProfile:
    """One TLS client as its servers see it: the suites it can offer and the rest of its ClientHello."""

    name: str
    title: str
    source: str
    suites: tuple[str, ...]
    """Every suite the client can offer in TLS 1.2 (IANA or JSSE names), in its own priority order."""
    groups: tuple[Group, ...]
    signature_schemes: tuple[int, ...]
    extensions: tuple[Extension, ...]
    """The extensions of its TLS 1.2-only ClientHello, in the order it sends them."""

    @property
    def codes(self) -> frozenset[int]:
        return _codes(self.suites)

    def implements(self, code: int) -> bool:
        return code in self.codes

    def offer(self, names: Iterable[str]) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """The code points of `names` this client can offer, in the given order, and the names it cannot."""
        offered: list[int] = []
        missing: list[str] = []
        for name in names:
            suite = catalog.resolve(name)
            if suite.code not in self.codes:
                missing.append(suite.name)
            elif suite.code not in offered:
                offered.append(suite.code)
        return tuple(offered), tuple(missing)

    def implemented(self, names: Iterable[str]) -> tuple[str, ...]:
        """The IANA names among `names` this client implements, in the given order."""
        return tuple(dict.fromkeys(s.name for s in map(catalog.resolve, names) if s.code in self.codes))

    def negotiate(self, selected: Sequence[str], accepted: Sequence[str], server_preference: bool | None) -> str | None:
        """The suite this client, enabling `selected` in order, gets from a server accepting `accepted` (in
        the server's order when it imposes one), or None. Suites it does not implement are never offered."""
        offered = self.implemented(selected)
        if server_preference:
            wanted = set(offered)
            return next((s for s in accepted if s in wanted), None)
        accepted_set = set(accepted)
        return next((s for s in offered if s in accepted_set), None)

    def groups_for(self, codes: Sequence[int]) -> tuple[Group, ...]:
        """The groups its hello lists when these suites are enabled: elliptic curves only with an EC key
        exchange among them, finite-field groups only with a DHE one (as SunJSSE does)."""
        kinds = {_key_exchange(code) for code in codes}
        ec, dh = bool(kinds & _EC_KEY_EXCHANGES), bool(kinds & _DH_KEY_EXCHANGES)
        return tuple(g for g in self.groups if (dh if g.is_ffdhe else ec))


@cache
def _codes(names: tuple[str, ...]) -> frozenset[int]:
    return frozenset(catalog.resolve(name).code for name in names)


@cache
def _key_exchange(code: int) -> str:
    suite = catalog.by_code(code)
    return suite.key_exchange if suite else ""


_JDK17 = ClientProfile(
    name="jsse-17",
    title="OpenJDK 17 (SunJSSE)",
    source=(
        "OpenJDK 17.0.15 (Debian 17.0.15+6-Debian-1deb12u1): SSLSocketFactory.getSupportedCipherSuites() "
        "less the DES and EXPORT suites it offers only below TLS 1.2, and the bytes of its TLS 1.2 "
        "ClientHello, captured with jdk.tls.disabledAlgorithms emptied"
    ),
    suites=_JDK17_SUITES,
    groups=_JDK_GROUPS,
    signature_schemes=_JDK_SIGNATURE_SCHEMES,
    extensions=_JDK_EXTENSIONS,
)

_JDK21 = replace(
    _JDK17,
    name="jsse-21",
    title="OpenJDK 21 (SunJSSE)",
    source=(
        "OpenJDK 17.0.15 and 17.0.21 (Debian) and Temurin 25.0.3 send byte-identical TLS 1.2 ClientHellos "
        "and implement the same 88 TLS 1.2 suites (both captured); 21 lies between them. Not captured itself"
    ),
)

_JDK11 = ClientProfile(
    name="jsse-11",
    title="OpenJDK 11 (SunJSSE)",
    source=(
        "openjdk/jdk11u at 11.0.32, sun/security/ssl: CipherSuite.java (the same 88 TLS 1.2 suites as 17; the "
        "ChaCha20 suites since 11.0.13), SupportedGroupsExtension.java, SignatureScheme.java (no EdDSA in 11), "
        "SSLExtension.java (extension order, no session_ticket). Read from source, not captured"
    ),
    suites=_JDK17_SUITES,
    groups=_JDK_GROUPS,
    signature_schemes=tuple(s for s in _JDK_SIGNATURE_SCHEMES if s not in _EDDSA),
    extensions=_JDK11_EXTENSIONS,
)

_JDK8 = ClientProfile(
    name="jsse-8",
    title="OpenJDK 8u261+ (SunJSSE)",
    source=(
        "openjdk/jdk8u-dev, jdk/src/share/classes/sun/security/ssl: CipherSuite.java (17's suites without "
        "ChaCha20; the Kerberos suites need a Kerberos setup and are left out), SignatureScheme.java (no "
        "EdDSA), SSLContextImpl.java (status_request off by default); SupportedGroupsExtension.java and "
        "SSLExtension.java as 8u builds carry them (no x25519 or x448, no session_ticket). Read from source, "
        "not captured"
    ),
    suites=tuple(s for s in _JDK17_SUITES if s not in _CHACHA20),
    groups=tuple(g for g in _JDK_GROUPS if g not in (Group.X25519, Group.X448)),
    signature_schemes=tuple(s for s in _JDK_SIGNATURE_SCHEMES if s not in _EDDSA),
    extensions=_JDK8_EXTENSIONS,
)

PROFILES: dict[str, ClientProfile] = {p.name: p for p in (_JDK8, _JDK11, _JDK17, _JDK21)}
DEFAULT_CLIENT = "jsse-17"


def get(name: str) -> ClientProfile:
    """The profile called `name`; raises KeyError for a client tlsverify does not model."""
    return PROFILES[name]


def negotiate(policy: Policy, accepted: Sequence[str], server_preference: bool | None) -> str | None:
    """The suite the policy's client negotiates with a server accepting `accepted`, or None."""
    return get(policy.client).negotiate(policy.selected, accepted, server_preference)
