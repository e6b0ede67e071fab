"""The policy lifecycle: release facts from the vendor's guide, every check rule with its place in the
file, upgrade, Reset to Default, diff, apply and the PCI DSS profile, through the real command line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from scanner import catalog
from scanner import policy as rules
from scanner.cli import main
from scanner.config import load_policy, load_releases, read_policy_document
from scanner.models import Severity, TlsVersion
from scanner.store import Store
from tests.conftest import ROOT

RELEASES = load_releases()
SEED_10_2_REMOVED = [  # verbatim from the vendor's guide
    "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "SSL_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "SSL_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_RC4_128_SHA",
    "SSL_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
]
SEED_10_3_MOVED = [
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA128",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA128",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
]


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def policy_text(
    selected: list[str],
    disabled: Sequence[str] = (),
    release: str = "12.0.0.0",
    protocols: str = "{selected: [TLSv1.2], disabled: []}",
) -> str:
    lines = [f'release: "{release}"', f"protocols: {protocols}", "cipher_suites:", "  selected:"]
    lines += [f"    - {s}" for s in selected]
    lines += ["  disabled:" + (" []" if not disabled else "")] + [f"    - {s}" for s in disabled]
    return "\n".join(lines) + "\n"


# --- release facts ------------------------------------------------------------------------------


def test_releases_shipped_and_marked_reconstructed() -> None:
    assert RELEASES.names == ("9.0", "10.2.0.0", "10.3.0.0", "12.0.0.0")
    assert all(r.reconstructed and r.basis for r in RELEASES.items)


def test_10_2_removed_ten_names_that_are_seven_suites() -> None:
    release = RELEASES.get("10.2.0.0")
    assert release is not None
    assert list(release.removed_as_written) == SEED_10_2_REMOVED
    assert len(release.removed) == 7
    assert set(release.removed) == {catalog.resolve(n).name for n in SEED_10_2_REMOVED}
    nine = RELEASES.get("9.0")
    assert nine is not None and set(release.removed) <= set(nine.available)
    assert not set(release.removed) & set(release.available)


def test_10_3_moved_the_six_tls_rsa_suites_to_disabled() -> None:
    moved = {catalog.resolve(n).name for n in SEED_10_3_MOVED}
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256" in moved and "TLS_RSA_WITH_AES_128_CBC_SHA256" in moved
    before = rules.reset_to_default(RELEASES, "10.2.0.0")
    after = rules.reset_to_default(RELEASES, "10.3.0.0")
    change = rules.diff(before, after)
    assert {(n, a, b) for n, a, b in change.moved} == {(n, "selected", "disabled") for n in moved}
    assert change.added == () and change.removed == ()


def test_legacy_means_not_shipped_by_the_policys_release() -> None:
    assert RELEASES.is_legacy("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "10.3.0.0")
    assert not RELEASES.is_legacy("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "9.0")
    assert not RELEASES.is_legacy("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "no-such-release")


def test_shipped_policy_is_the_newest_reset_to_default_and_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_policy(ROOT / "policy.yaml") == rules.reset_to_default(RELEASES, RELEASES.newest.name)
    assert main(["policy", "check", str(ROOT / "policy.yaml"), "--strict", "--profile", "pci-dss-3.1"]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out


# --- check: every rule, with its place --------------------------------------------------------------


def check(tmp_path: Path, text: str, *extra: str) -> tuple[int, str]:
    path = write(tmp_path, text)
    code = main(["policy", "check", str(path), *extra])
    return code, str(path)


def test_tls12_disabled_and_missing_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, path = check(
        tmp_path, policy_text(["ECDHE-RSA-AES128-GCM-SHA256"], protocols="{selected: [TLSv1.1], disabled: [TLSv1.2]}")
    )
    out = capsys.readouterr().out
    assert code == 2
    assert f"{path}:2:12: protocols: TLSv1.2 is missing from the Selected protocols (add TLSv1.2)" in out
    assert f"{path}:2:45: protocols.disabled item 1: TLSv1.2 cannot be disabled" in out
    assert "warning: protocols.selected item 1: TLSv1.1 is Selected" in out


def test_every_suite_problem_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = policy_text(
        [
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "ECDHE-RSA-AES256-GCM-SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA348",
            "SSL_RSA_WITH_3DES_EDE_CBC_SHA",
            "TLS_RSA_WITH_AES_128_GCM_SHA128",
        ],
        ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"],
    )
    code, path = check(tmp_path, text)
    out = capsys.readouterr().out
    assert code == 2
    assert (
        f"{path}:5:7: warning: cipher_suites.selected item 1: Selected is not strongest first: "
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 should come before TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
    ) in out
    assert f"{path}:7:7: cipher_suites.selected item 3: ECDHE-RSA-AES256-GCM-SHA384 is listed twice in selected" in out
    assert (
        f"{path}:8:7: cipher_suites.selected item 4: unknown cipher suite 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA348' "
        "(did you mean TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    ) in out
    assert (
        f"{path}:9:7: warning: cipher_suites.selected item 5: SSL_RSA_WITH_3DES_EDE_CBC_SHA is not available in release"
        in out
    )
    assert (
        f"{path}:9:7: warning: cipher_suites.selected item 5: insecure suite Selected (3DES) (move it to Disabled)"
        in out
    )
    assert (
        f"{path}:10:7: warning: cipher_suites.selected item 6: TLS_RSA_WITH_AES_128_GCM_SHA128 does not exist; "
        "read as TLS_RSA_WITH_AES_128_GCM_SHA256"
    ) in out
    assert (
        f"{path}:12:7: cipher_suites.disabled item 1: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 "
        "is both Selected and Disabled" in out
    )
    assert "suggested order: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" in out


def test_a_suite_the_client_lacks_is_said_plainly_not_called_legacy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = policy_text(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"])
    code, path = check(tmp_path, text)
    out = capsys.readouterr().out
    assert code == 0
    assert (
        f"{path}:6:7: warning: cipher_suites.selected item 2: TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256 "
        "is not implemented by OpenJDK 17 (SunJSSE) (jsse-17): the client never offers it, "
        "so no server can ever negotiate it"
    ) in out
    assert "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256 is in no release up to 12.0.0.0" in out
    assert "legacy" not in out


def test_legacy_is_a_suite_an_earlier_release_shipped() -> None:
    assert RELEASES.is_legacy("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "12.0.0.0")  # 9.0 had it
    assert not RELEASES.is_legacy("TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256", "12.0.0.0")  # no release had it


def test_the_client_comes_from_the_policy_or_its_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suites = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    assert load_policy(write(tmp_path, policy_text(suites, release="9.0"))).client == "jsse-8"
    assert load_policy(write(tmp_path, policy_text(suites))).client == "jsse-17"
    assert load_policy(write(tmp_path, "client: jsse-11\n" + policy_text(suites))).client == "jsse-11"
    # ChaCha20 is in no JDK 8: a 9.0 policy that Selects it hears so.
    chacha = ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
    code, _ = check(tmp_path, policy_text(chacha, release="9.0"))
    assert code == 0 and "is not implemented by OpenJDK 8u261+ (SunJSSE) (jsse-8)" in capsys.readouterr().out
    code, path = check(tmp_path, "client: jsse-99\n" + policy_text(suites))
    out = capsys.readouterr().out
    assert code == 2
    assert f"{path}:1:9: client: unknown client 'jsse-99' (known clients: jsse-8, jsse-11, jsse-17, jsse-21)" in out


def test_unknown_release_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, path = check(tmp_path, policy_text(["ECDHE-RSA-AES128-GCM-SHA256"], release="99.1"))
    assert code == 0
    assert f"{path}:1:10: warning: release: release '99.1' is not known" in capsys.readouterr().out


def test_strict_turns_warnings_into_exit_1(tmp_path: Path) -> None:
    text = policy_text(["TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])
    assert check(tmp_path, text)[0] == 0
    assert check(tmp_path, text, "--strict")[0] == 1


def test_pci_dss_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = policy_text(
        ["ECDHE-RSA-AES128-GCM-SHA256", "DES-CBC3-SHA", "RC4-SHA"],
        release="9.0",
        protocols="{selected: [TLSv1.2, TLSv1.0], disabled: []}",
    )
    code, path = check(tmp_path, bad, "--profile", "pci-dss-3.1")
    out = capsys.readouterr().out
    assert code == 2
    assert f"{path}:2:33: protocols.selected item 2: pci-dss-3.1: TLSv1.0 is SSL or early TLS" in out
    assert "cipher_suites.selected item 2: pci-dss-3.1: insecure suite Selected (3DES)" in out
    assert "cipher_suites.selected item 3: pci-dss-3.1: insecure suite Selected (RC4)" in out
    assert "pci-dss-3.1: NOT compliant (3 findings)" in out
    assert check(tmp_path, policy_text(["ECDHE-RSA-AES128-GCM-SHA256"]), "--profile", "pci-dss-3.1")[0] == 0
    assert "pci-dss-3.1: compliant" in capsys.readouterr().out


# --- upgrade, reset, diff: round trips ------------------------------------------------------------


OLD_POLICY = """# Our outgoing TLS policy, as set up on Core 9.0 in 2019.
release: "9.0"
protocols: {selected: [TLSv1.2, TLSv1.1], disabled: [TLSv1.0]}
cipher_suites:
  selected:
    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384   # what APNS uses
    - SSL_RSA_WITH_3DES_EDE_CBC_SHA           # the old SCEP server needs this
    - TLS_RSA_WITH_AES_128_CBC_SHA
  disabled:
    - SSL_RSA_WITH_RC4_128_SHA
    - TLS_DHE_RSA_WITH_AES_128_CBC_SHA
"""


def test_upgrade_keeps_the_lists_drops_removed_suites_and_comments_survive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path, OLD_POLICY, "old.yaml")
    new = tmp_path / "new.yaml"
    assert main(["policy", "upgrade", str(old), "--to", "10.3.0.0", "--output", str(new)]) == 0
    err = capsys.readouterr().err
    assert "Upgrade 9.0 -> 10.2.0.0 -> 10.3.0.0: protocols reset to Selected TLSv1.2" in err
    assert "SSL_RSA_WITH_3DES_EDE_CBC_SHA (was selected; removed in 10.2.0.0)" in err
    assert "SSL_RSA_WITH_RC4_128_SHA (was disabled; removed in 10.2.0.0)" in err
    assert old.read_text() == OLD_POLICY  # the input is never touched without --in-place
    upgraded = load_policy(new)
    assert upgraded.release == "10.3.0.0"
    assert upgraded.protocols_selected == (TlsVersion.TLSV1_2,) and upgraded.protocols_disabled == ()
    assert upgraded.selected == ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA")
    assert upgraded.disabled == ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA",)  # kept: upgrades never apply new defaults
    text = new.read_text()
    assert "# Our outgoing TLS policy, as set up on Core 9.0 in 2019." in text
    assert "# what APNS uses" in text
    assert main(["policy", "check", str(new)]) == 0  # round trip: the upgraded file checks clean of errors


def test_upgrade_in_place_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path, OLD_POLICY, "old.yaml")
    assert main(["policy", "upgrade", str(old), "--to", "10.3.0.0", "--output", str(old)]) == 2
    assert "use --in-place" in capsys.readouterr().err
    assert old.read_text() == OLD_POLICY
    newer = write(tmp_path, OLD_POLICY.replace('"9.0"', '"10.3.0.0"'), "newer.yaml")
    assert main(["policy", "upgrade", str(newer), "--to", "9.0"]) == 2
    assert "cannot upgrade from 10.3.0.0 down to 9.0" in capsys.readouterr().err
    assert main(["policy", "upgrade", str(old), "--to", "10.9"]) == 2
    assert "unknown release '10.9'" in capsys.readouterr().err
    assert main(["policy", "upgrade", str(old), "--to", "12.0.0.0", "--in-place"]) == 0
    assert load_policy(old).release == "12.0.0.0"


def test_reset_then_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current = write(
        tmp_path,
        OLD_POLICY.replace('"9.0"', '"10.3.0.0"')
        .replace("    - SSL_RSA_WITH_3DES_EDE_CBC_SHA           # the old SCEP server needs this\n", "")
        .replace("    - SSL_RSA_WITH_RC4_128_SHA\n", ""),
        "current.yaml",
    )
    reset = tmp_path / "reset.yaml"
    assert main(["policy", "reset-to-default", "--release", "10.3.0.0", "--output", str(reset)]) == 0
    assert load_policy(reset) == rules.reset_to_default(RELEASES, "10.3.0.0")
    assert "reconstructed defaults" in reset.read_text()
    capsys.readouterr()
    assert main(["policy", "diff", str(current), str(reset)]) == 1
    out = capsys.readouterr().out
    assert "~ TLS_RSA_WITH_AES_128_CBC_SHA (moved from selected to disabled)" in out
    assert "~ TLS_DHE_RSA_WITH_AES_128_CBC_SHA (moved from disabled to selected)" in out
    assert "+ TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (added to selected)" in out
    assert main(["policy", "diff", str(reset), str(reset)]) == 0


def test_reordered_suites_are_reported() -> None:
    a = rules.reset_to_default(RELEASES, "12.0.0.0")
    b = type(a)(
        a.release,
        a.protocols_selected,
        a.protocols_disabled,
        (a.selected[1], a.selected[0], *a.selected[2:]),
        a.disabled,
    )
    assert rules.diff(a, b).reordered == ((a.selected[1], 2, 1), (a.selected[0], 1, 2))


def test_show_marks_legacy_suites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, policy_text(["ECDHE-RSA-AES128-GCM-SHA256"], ["SSL_RSA_WITH_3DES_EDE_CBC_SHA"], release="10.3.0.0")
    )
    assert main(["policy", "show", "--policy", str(path)]) == 0
    out = capsys.readouterr().out
    assert "SSL_RSA_WITH_3DES_EDE_CBC_SHA" in out and "LEGACY: not in this release" in out
    assert "1 legacy suite:" in out


# --- apply -----------------------------------------------------------------------------------------


def test_apply_records_the_policy_and_refuses_an_invalid_one(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    good = write(tmp_path, policy_text(["ECDHE-RSA-AES128-GCM-SHA256"]), "good.yaml")
    bad = write(
        tmp_path,
        policy_text(["ECDHE-RSA-AES128-GCM-SHA256"], protocols="{selected: [], disabled: [TLSv1.2]}"),
        "bad.yaml",
    )
    assert main(["policy", "apply", str(bad), "--db", str(db)]) == 2
    with Store(db) as store:
        assert store.current_policy() is None  # nothing changed
    assert main(["policy", "apply", str(good), "--db", str(db)]) == 0
    with Store(db) as store:
        applied = store.current_policy()
    assert applied is not None and applied.policy.selected == ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",)
    assert applied.source == str(good)


# --- user release files -----------------------------------------------------------------------------


def test_users_can_add_their_own_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    releases = tmp_path / "releases"
    releases.mkdir()
    (releases / "13.0.yaml").write_text(
        'release: "13.0"\nreconstructed: false\nbasis: from our vendor contact\n'
        "available: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"
        "default_selected: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n"
        "default_disabled: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\nremoved: []\n"
    )
    assert main(["policy", "releases", "--releases", str(releases)]) == 0
    assert "13.0" in capsys.readouterr().out
    assert main(["policy", "reset-to-default", "--release", "13.0", "--releases", str(releases)]) == 0
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in capsys.readouterr().out
    (releases / "broken.yaml").write_text('release: "14"\navailable: [NOPE]\ndefault_selected: [NOPE]\n')
    assert main(["policy", "releases", "--releases", str(releases)]) == 2
    assert "broken.yaml:2:13: available item 1: unknown cipher suite 'NOPE'" in capsys.readouterr().err


def test_documents_keep_places_for_messages(tmp_path: Path) -> None:
    doc = read_policy_document(write(tmp_path, policy_text(["A", "B"])))
    assert [(e.text, e.line, e.column) for e in doc.selected] == [("A", 5, 7), ("B", 6, 7)]
    problems = rules.check(doc, RELEASES)
    assert [(p.line, p.column, p.field, p.severity) for p in problems] == [
        (5, 7, "cipher_suites.selected.0", Severity.ERROR),
        (6, 7, "cipher_suites.selected.1", Severity.ERROR),
    ]
    assert all(p.hint and p.path.endswith("policy.yaml") for p in problems)


# --- odd input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'release: "9.0"\ncipher_suites: {selected: [AES128-SHA]}\ncipher_suites: {selected: [RC4-SHA]}\n',
            ":3:1: cipher_suites: duplicate key (first at line 2) (keep one of them)",
        ),
        (
            'release: "9.0"\ncipher_suites: {selected: AES128-SHA}\n',
            ":2:27: cipher_suites.selected: Input should be a valid list (write a YAML list",
        ),
        (
            'release: "9.0"\ncipher_suites: {selected: [12]}\n',
            "cipher_suites.selected item 1: Input should be a valid string (write it as text",
        ),
        ('release: "9.0"\ncipher_suites: [AES128-SHA]\n', "cipher_suites: expected a mapping of keys to values here"),
        ('release: "9.0"\n', "cipher_suites: required field is missing (add `cipher_suites:`)"),
        ('release: "9.0"\ncipher_suites: {selected: []}\n', ":2:27: cipher_suites.selected: no Selected cipher suites"),
    ],
)
def test_shape_errors_name_the_place_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    assert main(["policy", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert f"{path}{expected}" in captured.out + captured.err or expected in captured.out + captured.err


def test_a_bare_disabled_key_is_an_empty_list(tmp_path: Path) -> None:
    assert (
        load_policy(
            write(tmp_path, 'release: "12.0.0.0"\ncipher_suites:\n  selected: [AES128-SHA]\n  disabled:\n')
        ).disabled
        == ()
    )


def test_release_numbers_keep_their_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "release: 10.30\ncipher_suites: {selected: [ECDHE-RSA-AES128-GCM-SHA256]}\n")
    assert main(["policy", "check", str(path)]) == 0
    assert "release '10.30' is not known" in capsys.readouterr().out  # not silently read as 10.3


@pytest.mark.parametrize(
    ("name", "why"),
    [("NULL-SHA", "NULL"), ("ADH-AES128-SHA", "anonymous"), ("EXP-RC4-MD5", "EXPORT"), ("DES-CBC-SHA", "DES")],
)
def test_every_weak_kind_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, why: str) -> None:
    assert check(tmp_path, policy_text([name], release="9.0"))[0] == 0
    assert f"insecure suite Selected ({why}" in capsys.readouterr().out


def test_diff_reports_reordering_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(
        tmp_path,
        policy_text(["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]),
        "a.yaml",
    )
    b = write(
        tmp_path,
        policy_text(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]),
        "b.yaml",
    )
    assert main(["policy", "diff", str(a), str(b)]) == 1
    assert "^ TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (Selected rank 2 -> 1" in capsys.readouterr().out


def test_a_user_release_file_replaces_a_shipped_one(tmp_path: Path) -> None:
    mine = tmp_path / "rel"
    mine.mkdir()
    (mine / "x.yaml").write_text(
        'release: "10.3.0.0"\nreconstructed: false\nbasis: vendor export\n'
        "available: [AES128-SHA]\ndefault_selected: [AES128-SHA]\n"
    )
    replaced = load_releases(mine).get("10.3")
    assert replaced is not None and replaced.default_selected == ("TLS_RSA_WITH_AES_128_CBC_SHA",)
    assert not replaced.reconstructed


def test_upgrade_resets_protocols_even_from_an_invalid_setting(tmp_path: Path) -> None:
    old = write(
        tmp_path,
        OLD_POLICY.replace(
            "{selected: [TLSv1.2, TLSv1.1], disabled: [TLSv1.0]}", "{selected: [TLSv1.1], disabled: [TLSv1.2]}"
        ),
        "old.yaml",
    )
    new = tmp_path / "new.yaml"
    assert main(["policy", "upgrade", str(old), "--to", "10.3.0.0", "--output", str(new)]) == 0
    assert load_policy(new).protocols_selected == (TlsVersion.TLSV1_2,)


def test_output_onto_the_input_by_another_path_or_a_symlink_is_refused(tmp_path: Path) -> None:
    old = write(tmp_path, OLD_POLICY, "old.yaml")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.yaml"
    link.symlink_to(old)
    for target in (tmp_path / "sub" / ".." / "old.yaml", link):
        assert main(["policy", "upgrade", str(old), "--to", "10.3.0.0", "--output", str(target)]) == 2
    assert old.read_text() == OLD_POLICY
    assert main(["policy", "upgrade", str(old), "--to", "10.3.0.0", "--output", str(tmp_path)]) == 2


def test_a_comment_written_after_a_dropped_suite_is_kept(tmp_path: Path) -> None:
    comment = "    # --- below: the fallback for old servers\n"
    text = OLD_POLICY.replace("    - TLS_RSA_WITH_AES_128_CBC_SHA\n", comment + "    - TLS_RSA_WITH_AES_128_CBC_SHA\n")
    old = write(tmp_path, text, "old.yaml")
    new = tmp_path / "new.yaml"
    assert main(["policy", "upgrade", str(old), "--to", "10.3.0.0", "--output", str(new)]) == 0
    assert "# --- below: the fallback for old servers" in new.read_text()


def test_counts_are_singular_where_one() -> None:
    from scanner.models import Problem, Severity
    from scanner.report.policy_text import problems

    one_each = [
        Problem("p.yaml", 1, 1, "x", "wrong", severity=Severity.ERROR),
        Problem("p.yaml", 2, 1, "y", "odd", severity=Severity.WARNING),
    ]
    assert problems(one_each, None).splitlines()[-1] == "1 error, 1 warning"


def test_show_calls_insecure_exactly_what_check_warns_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One vocabulary: `policy show` never grades a suite in words `policy check` does not use."""
    names = [s.jsse_name for s in catalog.all_suites() if s.code < 0xFF00][:200]
    path = write(tmp_path, policy_text(names, release="10.3.0.0"))
    main(["policy", "show", str(path)])
    shown = capsys.readouterr().out
    main(["policy", "check", str(path)])
    checked = capsys.readouterr().out
    assert " weak " not in shown
    called_insecure = {
        int(line.split(".")[0]) for line in shown.splitlines() if re.match(r"\s+\d+\. .* insecure", line)
    }
    warned = {int(m[1]) for m in re.finditer(r"selected item (\d+): insecure suite Selected", checked)}
    assert len(called_insecure) > 20 and called_insecure == warned


def test_diff_and_upgrade_spell_suites_as_the_files_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gcm, rsa = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA"
    before = write(tmp_path, policy_text([gcm, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"], [rsa], "10.3.0.0"), "a.yaml")
    after = write(tmp_path, policy_text([gcm], ["TLS_RSA_WITH_3DES_EDE_CBC_SHA", rsa], "10.3.0.0"), "b.yaml")
    assert main(["policy", "diff", str(before), str(after)]) == 1
    out = capsys.readouterr().out
    assert "~ TLS_RSA_WITH_3DES_EDE_CBC_SHA (moved from selected to disabled)" in out  # as written, not SSL_
    java = write(tmp_path, policy_text([gcm], ["SSL_RSA_WITH_3DES_EDE_CBC_SHA", rsa], "10.3.0.0"), "c.yaml")
    assert main(["policy", "diff", str(before), str(java)]) == 1
    assert "~ SSL_RSA_WITH_3DES_EDE_CBC_SHA (moved" in capsys.readouterr().out  # the after file's spelling
    # an upgrade drops the suites a release on the way removed, named as the file names them
    old = write(tmp_path, policy_text([gcm, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"], [rsa], "9.0"), "old.yaml")
    assert main(["policy", "upgrade", str(old), "--release", "10.2.0.0"]) == 0
    err = capsys.readouterr().err
    assert "  TLS_RSA_WITH_3DES_EDE_CBC_SHA (was selected; removed in 10.2.0.0)" in err
