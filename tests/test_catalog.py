"""The suite catalog: derived from cryptodatahub, every name spelling resolves to one suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptodatahub.tls.algorithm import TlsCipherSuite

from scanner import catalog
from scanner.catalog import Strength


@pytest.mark.parametrize(
    "spelling",
    [
        "SSL_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "DES-CBC3-SHA",
        "ssl_rsa_with_3des_ede_cbc_sha",
        "  des-cbc3-sha ",
    ],
)
def test_every_spelling_resolves_to_one_suite(spelling: str) -> None:
    suite = catalog.resolve(spelling)
    assert suite.code == 0x000A
    assert suite.name == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    assert suite.jsse_name == "SSL_RSA_WITH_3DES_EDE_CBC_SHA"
    assert suite.openssl_name == "DES-CBC3-SHA"


def test_jsse_prefix_only_for_ssl3_code_points() -> None:
    assert catalog.resolve("TLS_RSA_WITH_RC4_128_SHA").jsse_name == "SSL_RSA_WITH_RC4_128_SHA"  # 0x0005
    assert catalog.resolve("TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA").jsse_name == "SSL_DHE_RSA_WITH_3DES_EDE_CBC_SHA"
    assert catalog.resolve("TLS_RSA_WITH_AES_128_CBC_SHA").jsse_name == "TLS_RSA_WITH_AES_128_CBC_SHA"  # 0x002F


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(catalog.UnknownSuiteError) as error:
        catalog.resolve("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265")
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in error.value.suggestions
    assert "Did you mean" in str(error.value)


def test_catalog_comes_from_the_library() -> None:
    library = {cs.value.iana_name for cs in TlsCipherSuite if cs.value.iana_name}
    ours = {s.name for s in catalog.all_suites()}
    assert ours <= library
    assert len(ours) > 300
    assert not any(s.code >> 8 == 0x13 for s in catalog.all_suites())  # TLS 1.3 suites are not TLS 1.2 suites


@pytest.mark.parametrize(
    ("name", "strength"),
    [
        ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Strength.SECURE),
        ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", Strength.SECURE),
        ("TLS_RSA_WITH_AES_128_GCM_SHA256", Strength.WEAK),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Strength.WEAK),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", Strength.INSECURE),
        ("TLS_RSA_WITH_RC4_128_SHA", Strength.INSECURE),
        ("TLS_RSA_WITH_NULL_SHA", Strength.INSECURE),
        ("TLS_DH_anon_WITH_AES_128_CBC_SHA", Strength.INSECURE),
        ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", Strength.INSECURE),
    ],
)
def test_strength(name: str, strength: Strength) -> None:
    assert catalog.resolve(name).strength is strength


def test_strongest_first() -> None:
    names = [
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ]
    assert catalog.strongest_first(names) == [
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    ]


def test_openssl_aliases_resolve() -> None:
    assert catalog.by_openssl_name("DHE-RSA-DES-CBC3-SHA") == catalog.resolve("EDH-RSA-DES-CBC3-SHA")


@pytest.mark.parametrize(
    ("typo", "real", "code"),
    [
        ("TLS_RSA_WITH_AES_128_GCM_SHA128", "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009C),
        ("tls_rsa_with_aes_128_cbc_sha128", "TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003C),
    ],
)
def test_the_seed_misspellings_resolve_with_a_warning(typo: str, real: str, code: int) -> None:
    suite = catalog.resolve(typo)
    assert (suite.name, suite.code) == (real, code)
    warning = catalog.typo_warning(typo)
    assert warning is not None and real in warning and "does not exist" in warning
    assert catalog.typo_warning(real) is None


def test_the_catalog_file_is_what_the_installed_cryptodatahub_gives() -> None:
    """The shipped file saves every start the library's import; it may never drift from the library."""
    built = catalog.from_cryptodatahub()
    assert catalog.all_suites() == built, "cryptodatahub changed: run `python -m scanner.catalog` to rewrite the file"
    shipped = (Path(catalog.__file__).parent / "data" / "suites.json").read_text(encoding="utf-8")
    assert shipped == catalog.catalog_json(built)


def test_reading_the_catalog_does_not_import_cryptodatahub() -> None:
    code = "import sys; from scanner import catalog; catalog.resolve('TLS_RSA_WITH_AES_128_CBC_SHA'); "
    code += "print(any(name.startswith('cryptodatahub') for name in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
