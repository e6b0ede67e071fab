"""Terminal text for the policy commands: show, check, upgrade, diff and the list of releases."""

from __future__ import annotations

from collections.abc import Sequence

from scanner import catalog, clients
from scanner.impact import Advice
from scanner.models import Policy, Problem, Severity
from scanner.naming import Spelling, policy_spelling
from scanner.policy import PolicyDiff, Release, Releases, Upgrade
from scanner.report.text import count


def _suite_line(position: str, name: str, legacy: bool, spell: Spelling) -> str:
    """The suite as the file spells it, its code point and grade, and its other name where it has one."""
    suite = catalog.resolve(name)
    shown = spell(name)
    other = next((n for n in (suite.jsse_name, suite.name) if n != shown), None)
    also = f"  ({other})" if other else ""
    mark = "  LEGACY: not in this release" if legacy else ""
    return f"  {position:>3} {shown:<48} {suite.code_hex}  {suite.grade:<30}{also}{mark}".rstrip()


def show(policy: Policy, releases: Releases, source: str) -> str:
    """Both lists in order, as the file spells them, with strength, code point and legacy suites marked."""
    spell = policy_spelling(policy)
    release = releases.get(policy.release)
    lines = [f"Policy {source}: release {policy.release}"]
    if release is None:
        lines.append(
            f"  (release not known to tlsverify: legacy suites cannot be marked; known: {', '.join(releases.names)})"
        )
    elif release.reconstructed:
        lines.append(f"  (release data reconstructed: {release.basis})")
    lines.append(
        f"Protocols: Selected {', '.join(policy.protocols_selected) or '-'}; "
        f"Disabled {', '.join(policy.protocols_disabled) or '-'}"
    )
    legacy = {n for n in (*policy.selected, *policy.disabled) if releases.is_legacy(n, policy.release)}
    lines.append(f"Selected ({len(policy.selected)}, the client's preference order):")
    lines += [_suite_line(f"{i}.", n, n in legacy, spell) for i, n in enumerate(policy.selected, start=1)]
    lines.append(f"Disabled ({len(policy.disabled)}):")
    lines += [_suite_line("-", n, n in legacy, spell) for n in policy.disabled] or ["    none"]
    if legacy:
        lines.append(
            f"{count(len(legacy), 'legacy suite')}: release {policy.release} does not ship "
            f"{'it (the vendor shows it' if len(legacy) == 1 else 'them (the vendor shows them'} red)."
        )
    return "\n".join(lines)


def problems(found: Sequence[Problem], profile: str | None) -> str:
    """Every problem, one a line, then the count (and the profile's verdict)."""
    errors = sum(1 for p in found if p.severity is Severity.ERROR)
    warnings = len(found) - errors
    lines = [str(p) for p in found]
    lines.append(f"{count(errors, 'error')}, {count(warnings, 'warning')}")
    if profile is not None:
        failing = sum(1 for p in found if p.message.startswith(f"{profile}:"))
        verdict = f"NOT compliant ({count(failing, 'finding')})" if failing else "compliant"
        lines.append(f"{profile}: {verdict}")
    return "\n".join(lines)


def upgrade(result: Upgrade, old: Policy) -> str:
    """What an upgrade did, for standard error (the policy itself goes to standard output)."""
    path = " -> ".join((old.release, *result.path)) if result.path else old.release
    lines = [f"Upgrade {path}: protocols reset to Selected TLSv1.2, none Disabled; both lists kept"]
    if result.dropped:
        lines.append(f"Dropped {count(len(result.dropped), 'suite')} removed by a release on the way:")
        spell = policy_spelling(old)
        lines += [f"  {spell(n)} (was {lst}; removed in {rel})" for n, lst, rel in result.dropped]
    else:
        lines.append("No suite was dropped.")
    return "\n".join(lines)


def diff(result: PolicyDiff, a: str, b: str, spell: Spelling | None = None) -> str:
    """Suites added, removed, moved and reordered, from BEFORE (`a`) to AFTER (`b`), spelled by `spell`
    (default: Java's names)."""
    if result.empty:
        return f"{a} and {b} hold the same policy."
    lines = [f"From {a} to {b}:"]
    if result.release:
        lines.append(f"  release: {result.release[0]} -> {result.release[1]}")
    if result.protocols:
        lines.append(f"  protocols Selected: {', '.join(result.protocols[0])} -> {', '.join(result.protocols[1])}")
    names = [str(t[0]) for t in (*result.added, *result.removed, *result.moved, *result.reordered)]
    jsse = {n: spell(n) if spell is not None else catalog.resolve(n).jsse_name for n in names}
    lines += [f"  + {jsse[n]} (added to {lst})" for n, lst in result.added]
    lines += [f"  - {jsse[n]} (removed from {lst})" for n, lst in result.removed]
    lines += [f"  ~ {jsse[n]} (moved from {old} to {new})" for n, old, new in result.moved]
    lines += [
        f"  ^ {jsse[n]} (Selected rank {old} -> {new} among the suites Selected in both)"
        for n, old, new in result.reordered
    ]
    return "\n".join(lines)


def clients_table(releases: Sequence[Release]) -> str:
    """The modelled TLS clients, what their hello carries, which releases run on them, and the sources."""
    lines = []
    for profile in clients.PROFILES.values():
        on = [r.name for r in releases if (r.client or clients.DEFAULT_CLIENT) == profile.name]
        groups = ", ".join(g.name.lower() for g in profile.groups)
        lines += [
            f"{profile.name:<8} {profile.title}: {len(profile.codes)} TLS 1.2 suites, {len(profile.extensions)} "
            f"hello extensions; groups {groups}" + (f"; releases {', '.join(on)}" if on else ""),
            f"         source: {profile.source}",
        ]
    return "\n".join(lines)


def releases_table(releases: Sequence[Release]) -> str:
    """The known releases, oldest first, with where their data came from."""
    lines = []
    for r in releases:
        kind = "reconstructed" if r.reconstructed else "vendor data"
        removed = f"; removed {len(r.removed_as_written)} names ({len(r.removed)} suites)" if r.removed else ""
        lines.append(
            f"{r.name:<10} {len(r.available):>3} available, {len(r.default_selected):>3} Selected by default, "
            f"{len(r.default_disabled):>3} Disabled{removed} [{kind}; {r.source}]"
        )
    return "\n".join(lines)


def advice_lines(advice: Advice, current: Policy, scan_time: str) -> list[str]:
    """Why the advised policy looks as it does: its file's header comment (the first two lines) and, after
    them, what each weaker or legacy suite is kept for and which endpoints were left out."""
    lines = [
        f"Advised by tlsverify policy advise from the scan of {scan_time}: the fewest and strongest",
        "Selected suites that keep every endpoint working today working, strongest first.",
    ]
    for suite, endpoints in advice.kept_for:
        info = catalog.resolve(suite)
        if info.strength is not catalog.Strength.SECURE:
            lines.append(f"{info.jsse_name} ({info.grade}): kept for {', '.join(endpoints) or 'no endpoint'}")
    for suite in advice.legacy:
        lines.append(
            f"{catalog.resolve(suite).jsse_name} is not in release {current.release} (legacy): "
            "kept because an endpoint accepts nothing stronger that the release ships"
        )
    for endpoint_id, gets, best in advice.weaker_by_server_order:
        lines.append(
            f"{endpoint_id} imposes its own order and will negotiate {catalog.resolve(gets).jsse_name}, "
            f"though it accepts the stronger {catalog.resolve(best).jsse_name}"
        )
    if advice.dropped:
        lines.append(f"Endpoints given up (--drop): {', '.join(advice.dropped)}")
    if advice.not_working_today:
        lines.append(f"Not working today, so not kept: {', '.join(advice.not_working_today)}")
    return lines


def drop_gain(dropped: Sequence[str], without: Sequence[str], with_drop: Sequence[str]) -> list[str]:
    """What giving up endpoints gains: the Selected suites that can go, and any that come in instead."""

    def names(suites: list[str]) -> str:
        return ", ".join(f"{catalog.resolve(s).jsse_name} ({catalog.resolve(s).grade})" for s in suites)

    gone = [s for s in without if s not in with_drop]
    added = [s for s in with_drop if s not in without]
    lines = [f"Giving up {', '.join(dropped)} lets you disable: {names(gone) or 'nothing more'}"]
    if added:
        lines.append(f"... and the smallest set then selects instead: {names(added)}")
    return lines
