"""Endpoints and policy files: the shipped ones parse; bad ones give every problem with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import ConfigError, load_endpoints, load_policy
from scanner.models import Protocol, Proxy, TlsVersion
from tests.conftest import ROOT


def write(tmp_path: Path, text: str | bytes, name: str = "f.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_shipped_endpoints_parse_without_any_traffic() -> None:
    endpoints = load_endpoints(ROOT / "endpoints.yaml")
    ids = {e.id for e in endpoints}
    assert {"apns", "apple-dep", "apple-vpp", "mi-gateway", "scep", "ldaps", "smtps", "sentry"} <= ids
    apns = next(e for e in endpoints if e.id == "apns")
    assert (apns.host, apns.port, apns.protocol) == ("api.push.apple.com", 443, Protocol.HTTPS)
    assert any(not e.enabled for e in endpoints)


def test_shipped_policy() -> None:
    policy = load_policy(ROOT / "policy.yaml")
    assert policy.protocols_selected == (TlsVersion.TLSV1_2,)
    assert policy.selected[0] == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256" in policy.disabled  # 10.3.0.0 moved the TLS_RSA_* suites
    assert not any("3DES" in n or "RC4" in n for n in policy.selected + policy.disabled)  # removed in 10.2.0.0


def test_names_in_any_spelling_resolve_to_iana(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """release: "10.3.0.0"
cipher_suites:
  selected: [ECDHE-RSA-AES128-GCM-SHA256, SSL_RSA_WITH_3DES_EDE_CBC_SHA]
  disabled: [tls_rsa_with_aes_128_cbc_sha]
""",
    )
    policy = load_policy(path)
    assert policy.selected == ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA")
    assert policy.disabled == ("TLS_RSA_WITH_AES_128_CBC_SHA",)


def problems(path: Path, loader: object) -> str:
    with pytest.raises(ConfigError) as error:
        loader(path)  # type: ignore[operator]
    return str(error.value)


def test_unknown_suite_names_line_and_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """release: "10.3.0.0"
cipher_suites:
  selected:
    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA348
""",
    )
    message = problems(path, load_policy)
    assert f"{path}:5:7: cipher_suites.selected item 2: unknown cipher suite" in message
    assert "did you mean TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in message


def test_tls12_cannot_be_disabled(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """release: "10.3.0.0"
protocols: {selected: [], disabled: [TLSv1.2]}
cipher_suites: {selected: [ECDHE-RSA-AES128-GCM-SHA256]}
""",
    )
    assert "TLSv1.2 cannot be disabled" in problems(path, load_policy)


def test_suite_in_both_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """release: "10.3.0.0"
cipher_suites: {selected: [AES128-SHA], disabled: [TLS_RSA_WITH_AES_128_CBC_SHA]}
""",
    )
    assert "TLS_RSA_WITH_AES_128_CBC_SHA is both Selected and Disabled" in problems(path, load_policy)


def test_every_endpoint_problem_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """endpoints:
  - {id: a, host: a.example.com, port: 70000}
  - {id: b, host: b.example.com, port: 443, protocl: https}
  - {id: c, host: c.example.com, port: "443"}
  - {id: d, host: d.example.com, port: 443, ip: not-an-ip}
  - {id: e, host: "bad..name", port: 443}
  - {id: f, host: "has space.example.com", port: 443}
""",
    )
    message = problems(path, load_endpoints)
    assert f"{path}:2:40: endpoints item 1, port:" in message
    assert f"{path}:3:45: endpoints item 2, protocl: unknown key (did you mean 'protocol'?)" in message
    assert "endpoints item 3, port" in message
    assert "endpoints item 4, ip" in message
    assert "endpoints item 5, host" in message and "endpoints item 6, host" in message


def test_duplicate_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """endpoints:
  - {id: a, host: a.example.com, port: 443}
  - {id: a, host: b.example.com, port: 443}
""",
    )
    assert f"{path}:3:10: endpoints item 2, id: duplicate id 'a'" in problems(path, load_endpoints)


def test_an_unknown_protocol_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "endpoints:\n  - {id: a, host: a.example.com, port: 389, protocol: ldap}\n")
    assert "ldap+starttls" in problems(path, load_endpoints)


def test_ports_default_by_protocol_and_tls_needs_one(tmp_path: Path) -> None:
    kinds = ["https", "ldaps", "ldap+starttls", "smtps", "smtp+starttls"]
    text = "endpoints:\n" + "".join(f"  - {{id: e{i}, host: a.example, protocol: {k}}}\n" for i, k in enumerate(kinds))
    ports = [e.port for e in load_endpoints(write(tmp_path, text))]
    assert ports == [443, 636, 389, 465, 587]
    bare = write(tmp_path, "endpoints:\n  - {id: a, host: a.example, protocol: tls}\n", "bare.yaml")
    assert "bare.yaml:2:5: endpoints item 1: protocol tls has no default port: add `port:`" in problems(
        bare, load_endpoints
    )


def test_proxy_blocks_global_per_endpoint_bypass_and_command_line(tmp_path: Path) -> None:
    text = (
        "proxy: {url: 'http://proxy.example:3128', username_env: PROXY_USER, password_env: PROXY_PASSWORD}\n"
        "endpoints:\n"
        "  - {id: a, host: a.example}\n"
        "  - {id: b, host: b.example, proxy: none}\n"
        "  - {id: c, host: c.example, proxy: {url: 'http://[::1]:8080'}}\n"
    )
    path = write(tmp_path, text)
    a, b, c = load_endpoints(path)
    assert a.proxy == Proxy("proxy.example", 3128, "PROXY_USER", "PROXY_PASSWORD")
    assert b.proxy is None
    assert c.proxy == Proxy("::1", 8080) and str(c.proxy) == "[::1]:8080"
    given = Proxy("127.0.0.1", 3129)
    assert [e.proxy for e in load_endpoints(path, proxy=given)] == [given, None, Proxy("::1", 8080)]


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("{url: 'http://alice:s3cret@proxy.example:3128'}", "credentials do not belong in the URL"),
        ("{url: 'https://proxy.example:3128'}", "starts with http://"),
        ("{url: 'http://proxy.example'}", "has no port"),
        ("{url: 'http://proxy.example:3128', username_env: U}", "both username_env and password_env"),
        ("{url: 'http://p.example:1', username_env: 'not a name', password_env: P}", "environment variable"),
        ("{url: 'http://p.example:1', usrname_env: U}", "did you mean 'username_env'?"),
        ("nope", "or `none`"),
    ],
)
def test_bad_proxy_blocks_say_what_is_wrong_and_never_echo_a_password(
    tmp_path: Path, block: str, expected: str
) -> None:
    path = write(tmp_path, f"endpoints:\n  - {{id: a, host: a.example, proxy: {block}}}\n")
    said = problems(path, load_endpoints)
    assert expected in said and "f.yaml:2:" in said
    assert "s3cret" not in said


def test_ca_file_is_relative_to_the_file_and_must_hold_certificates(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (tmp_path / "junk.pem").write_text("hello\n")
    text = (
        "ca_file: ca.pem\nendpoints:\n  - {id: a, host: a.example}\n  - {id: b, host: b.example, ca_file: junk.pem}\n"
    )
    path = write(tmp_path, text)
    said = problems(path, load_endpoints)
    assert "f.yaml:4:" in said and "junk.pem holds no PEM certificate" in said
    path = write(tmp_path, text.replace("junk.pem", "missing.pem"))
    assert "cannot read" in problems(path, load_endpoints)
    (a,) = load_endpoints(write(tmp_path, "ca_file: ca.pem\nendpoints:\n  - {id: a, host: a.example}\n"))
    assert a.ca_file == str((tmp_path / "ca.pem").resolve())


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("endpoints:\n  - {id: a, host: [\n", "invalid YAML"),
        ("", "file is empty"),
        (b"\x00\x01\x02binary", "binary file"),
        (b"\xff\xfe\xfa", "not UTF-8"),
        ("- just\n- a list\n", "expected a mapping"),
        ("endpoints: []\n", "endpoints"),
    ],
)
def test_broken_files(tmp_path: Path, content: str | bytes, expected: str) -> None:
    assert expected in problems(write(tmp_path, content), load_endpoints)


def test_malformed_yaml_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "endpoints:\n  - id: a\n    host: [unclosed\n")
    message = problems(path, load_endpoints)
    assert message.startswith(f"{path}:")
    assert "invalid YAML" in message


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in problems(tmp_path / "nope.yaml", load_endpoints)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("endpoints: &a [ *a ]\n", ":1:12: YAML anchors and aliases"),
        ('a: &a ["x", "x"]\nb: &b [*a, *a]\nendpoints: [*b, *b]\n', "YAML anchors and aliases"),
        ("[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
)
def test_recursive_aliases_bombs_and_deep_nesting_are_refused(tmp_path: Path, content: str, expected: str) -> None:
    assert expected in problems(write(tmp_path, content), load_endpoints)


def test_an_endless_file_is_read_only_up_to_the_limit() -> None:
    assert "larger than the limit" in problems(Path("/dev/zero"), load_endpoints)
