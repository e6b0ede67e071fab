"""The policy lifecycle, as pure functions over the suite catalog: releases, check, upgrade, Reset to
Default, diff and compliance profiles. No I/O: files are read by `config`, written by the CLI.

A policy document keeps each entry as written with its place in the file, so that every finding can say
where it is; `check` turns a document into findings, `build` into a Policy once it has no errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from scanner import catalog, clients
from scanner.models import ConfigError, Policy, Problem, Severity, TlsVersion

REQUIRED_PROTOCOL = TlsVersion.TLSV1_2


@dataclass(frozen=True)
class Release:
    """One client release: the suites it has, its Reset to Default lists (IANA names), what it removed."""

    name: str
    available: tuple[str, ...]
    default_selected: tuple[str, ...]
    default_disabled: tuple[str, ...]
    removed: tuple[str, ...] = ()
    removed_as_written: tuple[str, ...] = ()
    moved_to_disabled: tuple[str, ...] = ()
    reconstructed: bool = True
    basis: str = ""
    source: str = ""
    client: str | None = None
    """The TLS client this release runs on (a profile in `scanner.clients`), when the file says."""

    @property
    def key(self) -> tuple[int, ...]:
        return release_key(self.name)


def release_key(name: str) -> tuple[int, ...]:
    """A sortable key for a dotted release number ("10.3.0.0" -> (10, 3, 0, 0)); trailing zeros ignored."""
    parts = [int(p) if p.isdigit() else 0 for p in name.strip().split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


@dataclass(frozen=True)
class Releases:
    """Every known release, oldest first."""

    items: tuple[Release, ...]

    def get(self, name: str) -> Release | None:
        key = release_key(name)
        return next((r for r in self.items if r.key == key), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.items)

    @property
    def newest(self) -> Release:
        return self.items[-1]

    def between(self, old: str, new: str) -> tuple[Release, ...]:
        """The releases an upgrade from `old` to `new` passes through (after `old`, up to `new`)."""
        low, high = release_key(old), release_key(new)
        return tuple(r for r in self.items if low < r.key <= high)

    def is_legacy(self, iana_name: str, release: str) -> bool:
        """A suite of an earlier release on the upgrade path that the policy's release no longer ships (the
        vendor shows it red); False if the release is unknown or no release ever shipped the suite."""
        known = self.get(release)
        if known is None or iana_name in known.available:
            return False
        return any(iana_name in r.available for r in self.items if r.key < known.key)

    def client_of(self, release: str) -> str:
        """The client a release runs on: its file's `client`, else the newest modelled client."""
        known = self.get(release)
        return known.client if known is not None and known.client else clients.DEFAULT_CLIENT


@dataclass(frozen=True)
class Entry:
    """One value of a policy file as written, with its place (1-based line and column) and field path."""

    text: str
    field: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class PolicyDocument:
    """A policy file read for checking: every value as written, with where it is."""

    path: str
    release: Entry
    protocols_selected: tuple[Entry, ...]
    protocols_disabled: tuple[Entry, ...]
    selected: tuple[Entry, ...]
    disabled: tuple[Entry, ...]
    protocols_place: Entry = field(default_factory=lambda: Entry("", "protocols"))
    suites_place: Entry = field(default_factory=lambda: Entry("", "cipher_suites.selected"))
    client: Entry | None = None


def _problem(doc: PolicyDocument, entry: Entry, message: str, hint: str = "", warning: bool = False) -> Problem:
    severity = Severity.WARNING if warning else Severity.ERROR
    return Problem(doc.path, entry.line, entry.column, entry.field, message, hint, severity)


def suggested_order(names: Sequence[str]) -> list[str]:
    """The Selected list strongest first; suites of equal strength keep their relative order."""
    return sorted(names, key=lambda n: catalog.resolve(n).tier)


def check(doc: PolicyDocument, releases: Releases, profile: str | None = None) -> list[Problem]:
    """Every problem in a policy document at once, errors and warnings, in file order."""
    problems: list[Problem] = []
    release = releases.get(doc.release.text)
    if release is None:
        hint = f"known releases: {', '.join(releases.names)}; or add a release file"
        problems.append(_problem(doc, doc.release, f"release {doc.release.text!r} is not known", hint, True))
    problems += _check_protocols(doc)
    client = _client(doc, releases, problems)
    resolved: dict[str, list[tuple[Entry, str]]] = {"selected": [], "disabled": []}
    unknown = 0
    for list_name, entries in (("selected", doc.selected), ("disabled", doc.disabled)):
        seen: dict[str, Entry] = {}
        for entry in entries:
            suite = catalog.find(entry.text)
            if suite is None:
                unknown += 1
                problems.append(_unknown_suite(doc, entry, suggest=unknown <= MAX_SUGGESTIONS))
                continue
            typo = catalog.typo_warning(entry.text)
            if typo:
                problems.append(_problem(doc, entry, typo, f"write {suite.name}", warning=True))
            if suite.name in seen:
                first = seen[suite.name]
                hint = f"first listed at line {first.line}; remove one" if first.line else "remove one"
                problems.append(_problem(doc, entry, f"{entry.text} is listed twice in {list_name}", hint))
                continue
            seen[suite.name] = entry
            resolved[list_name].append((entry, suite.name))
            if release is not None and suite.name not in release.available:
                if releases.is_legacy(suite.name, release.name):
                    message = (
                        f"{entry.text} is not available in release {release.name} "
                        "(legacy: kept from an older release, shown red)"
                    )
                    hint = "remove it once no server needs it, or check the release"
                else:
                    message = f"{entry.text} is in no release up to {release.name} that tlsverify knows"
                    hint = "the vendor's page does not list it: remove it, or check the release"
                problems.append(_problem(doc, entry, message, hint, warning=True))
            if client is not None and list_name == "selected" and not client.implements(suite.code):
                problems.append(
                    _problem(
                        doc,
                        entry,
                        f"{entry.text} is not implemented by {client.title} ({client.name}): the client never "
                        "offers it, so no server can ever negotiate it",
                        "remove it from Selected, or set `client:` to a client that implements it",
                        warning=True,
                    )
                )
    selected_names = {name for _, name in resolved["selected"]}
    for entry, name in resolved["disabled"]:
        if name in selected_names:
            problems.append(_problem(doc, entry, f"{entry.text} is both Selected and Disabled", "keep it in one list"))
    if not doc.selected:
        problems.append(
            _problem(doc, doc.suites_place, "no Selected cipher suites", "list at least one, strongest first")
        )
    problems += _check_selected_strength(doc, resolved["selected"], profile is not None)
    if profile is not None:
        problems += compliance(doc, profile)
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


def _check_protocols(doc: PolicyDocument) -> list[Problem]:
    problems = []
    selected: list[tuple[Entry, TlsVersion]] = []
    disabled: list[tuple[Entry, TlsVersion]] = []
    seen: set[TlsVersion] = set()
    for entries, out in ((doc.protocols_selected, selected), (doc.protocols_disabled, disabled)):
        for entry in entries:
            try:
                version = TlsVersion(entry.text)
                if version in seen:
                    problems.append(_problem(doc, entry, f"{version} is listed twice", "keep it in one place"))
                    continue
                seen.add(version)
                out.append((entry, version))
            except ValueError:
                hint = f"use one of {', '.join(TlsVersion)}"
                problems.append(_problem(doc, entry, f"unknown protocol {entry.text!r}", hint))
    for entry, version in disabled:
        if version is REQUIRED_PROTOCOL:
            hint = "move TLSv1.2 to selected: Apply refuses to disable it"
            problems.append(_problem(doc, entry, "TLSv1.2 cannot be disabled", hint))
    if not any(v is REQUIRED_PROTOCOL for _, v in selected):
        problems.append(
            _problem(doc, doc.protocols_place, "TLSv1.2 is missing from the Selected protocols", "add TLSv1.2")
        )
    for entry, version in selected:
        if version is not REQUIRED_PROTOCOL:
            hint = "the client speaks TLS 1.2 only; move it to disabled"
            problems.append(_problem(doc, entry, f"{version} is Selected", hint, warning=True))
    return problems


def _check_selected_strength(doc: PolicyDocument, selected: list[tuple[Entry, str]], strict: bool) -> list[Problem]:
    problems = []
    for entry, name in selected:
        suite = catalog.resolve(name)
        if suite.insecure and not strict:  # under a compliance profile the profile reports them as errors
            message = suite.grade.replace("insecure", "insecure suite Selected", 1)  # `policy show`'s words
            problems.append(_problem(doc, entry, message, "move it to Disabled", True))
    names = [name for _, name in selected]
    better = suggested_order(names)
    if better != names:
        first_wrong = next(i for i, (a, b) in enumerate(zip(names, better, strict=True)) if a != b)
        entry = selected[first_wrong][0]
        written = {name: e.text for e, name in selected}  # every name as the file spells it
        hint = "suggested order: " + ", ".join(written[n] for n in better)
        message = (
            f"Selected is not strongest first: {written[better[first_wrong]]} should come before "
            f"{written[names[first_wrong]]}"
        )
        problems.append(_problem(doc, entry, message, hint, warning=True))
    return problems


PROFILES = ("pci-dss-3.1",)


def compliance(doc: PolicyDocument, profile: str) -> list[Problem]:
    """Errors for everything the profile forbids. pci-dss-3.1: TLS 1.2 only, no SSL or early TLS, no weak
    suites (NULL, anonymous, EXPORT, RC4, DES, 3DES, MD5) among the Selected ones."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    problems = []
    early = {TlsVersion.SSLV3.value, TlsVersion.TLSV1_0.value, TlsVersion.TLSV1_1.value}
    for entry in doc.protocols_selected:
        if entry.text in early:
            problems.append(_problem(doc, entry, f"{profile}: {entry.text} is SSL or early TLS", "disable it"))
        elif entry.text == TlsVersion.TLSV1_3.value:
            problems.append(_problem(doc, entry, f"{profile}: this profile allows TLS 1.2 only", "disable TLSv1.3"))
    for entry in doc.selected:
        suite = catalog.find(entry.text)
        if suite is not None and suite.insecure:
            message = f"{profile}: {suite.grade.replace('insecure', 'insecure suite Selected', 1)}"
            problems.append(_problem(doc, entry, message, "move it to Disabled"))
    return problems


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)


MAX_SUGGESTIONS = 20
"""Unknown names that get a "did you mean" (each is a search of the catalog); past them, a plain hint, so a
file of thousands of wrong names is checked in moments."""

TLS13_SUITES = frozenset(
    {
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_AES_128_CCM_SHA256",
        "TLS_AES_128_CCM_8_SHA256",
    }
)


def _unknown_suite(doc: PolicyDocument, entry: Entry, suggest: bool) -> Problem:
    if entry.text.strip().upper() in TLS13_SUITES:
        message = f"{entry.text} is a TLS 1.3 suite; these lists hold TLS 1.2 suites (the client uses TLS 1.2 only)"
        return _problem(doc, entry, message, "remove it")
    close = catalog.suggest(entry.text) if suggest else ()
    if close:
        hint = f"did you mean {' or '.join(close)}?"
    elif suggest:
        hint = "check the spelling"
    else:
        hint = f"check the spelling (no suggestions past the first {MAX_SUGGESTIONS} unknown names)"
    return _problem(doc, entry, f"unknown cipher suite {entry.text!r}", hint)


def _client(doc: PolicyDocument, releases: Releases, problems: list[Problem]) -> clients.ClientProfile | None:
    """The client profile the policy is for: its `client:`, else its release's; None if unknown."""
    if doc.client is None:
        return clients.get(releases.client_of(doc.release.text))
    if doc.client.text in clients.PROFILES:
        return clients.get(doc.client.text)
    hint = f"known clients: {', '.join(clients.PROFILES)}"
    problems.append(_problem(doc, doc.client, f"unknown client {doc.client.text!r}", hint))
    return None


def build(doc: PolicyDocument, releases: Releases) -> Policy:
    """The Policy a document describes; call only when `check` found no errors."""

    def names(entries: Sequence[Entry]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(catalog.resolve(e.text).name for e in entries))

    return Policy(
        release=doc.release.text,
        protocols_selected=tuple(TlsVersion(e.text) for e in doc.protocols_selected),
        protocols_disabled=tuple(TlsVersion(e.text) for e in doc.protocols_disabled),
        selected=names(doc.selected),
        disabled=names(doc.disabled),
        client=doc.client.text if doc.client else releases.client_of(doc.release.text),
        spellings=tuple({n: s for n, s in map(_spelling, (*doc.selected, *doc.disabled))}.items()),
    )


def _spelling(entry: Entry) -> tuple[str, str]:
    """The suite's IANA name and the file's spelling of it: its JSSE or IANA name as written (upper case);
    an OpenSSL name or a known misspelling is shown by its JSSE name."""
    suite = catalog.resolve(entry.text)
    written = entry.text.upper()
    return suite.name, written if written in (suite.name, suite.jsse_name) else suite.jsse_name


@dataclass(frozen=True)
class Upgrade:
    """What an upgrade did: the new policy and the suites dropped because a release on the path removed them."""

    policy: Policy
    dropped: tuple[tuple[str, str, str], ...]  # (suite, list it was in, release that removed it)
    path: tuple[str, ...]


def upgrade_document(doc: PolicyDocument, releases: Releases, to: str) -> tuple[Policy, Upgrade]:
    """Upgrade a policy file as written: its protocols are reset whatever they were, so only its suites
    must be valid. Returns the policy before and the upgrade; raises ConfigError or ValueError."""
    tls12 = Entry(REQUIRED_PROTOCOL.value, "protocols.selected.0")
    doc = replace(doc, protocols_selected=(tls12,), protocols_disabled=())
    errors = [p for p in check(doc, releases) if p.severity is Severity.ERROR]
    if errors:
        raise ConfigError(errors)
    old = build(doc, releases)
    return old, upgrade(old, releases, to)


def upgrade(policy: Policy, releases: Releases, to: str) -> Upgrade:
    """What the vendor says an upgrade does: protocols reset to Selected TLSv1.2 (none Disabled), the
    admin's lists kept, except suites a release on the upgrade path removed."""
    target = releases.get(to)
    if target is None:
        raise ValueError(f"unknown release {to!r}; known: {', '.join(releases.names)}")
    if release_key(to) < release_key(policy.release):
        raise ValueError(
            f"cannot upgrade from {policy.release} down to {to}: upgrades only go forward "
            f"(for an older release's lists, use reset-to-default --release {to})"
        )
    path = releases.between(policy.release, to)
    removed_by = {name: r.name for r in path for name in r.removed}
    dropped = tuple(
        (name, list_name, removed_by[name])
        for list_name, names in (("selected", policy.selected), ("disabled", policy.disabled))
        for name in names
        if name in removed_by
    )
    gone = {d[0] for d in dropped}
    upgraded = Policy(
        release=target.name,
        protocols_selected=(REQUIRED_PROTOCOL,),
        protocols_disabled=(),
        selected=tuple(n for n in policy.selected if n not in gone),
        disabled=tuple(n for n in policy.disabled if n not in gone),
        client=releases.client_of(target.name),
    )
    return Upgrade(upgraded, dropped, tuple(r.name for r in path))


def reset_to_default(releases: Releases, release: str) -> Policy:
    """The release's Reset to Default lists."""
    known = releases.get(release)
    if known is None:
        raise ValueError(f"unknown release {release!r}; known: {', '.join(releases.names)}")
    client = releases.client_of(known.name)
    return Policy(known.name, (REQUIRED_PROTOCOL,), (), known.default_selected, known.default_disabled, client)


@dataclass(frozen=True)
class PolicyDiff:
    """How policy B differs from policy A."""

    release: tuple[str, str] | None
    protocols: tuple[tuple[str, ...], tuple[str, ...]] | None
    added: tuple[tuple[str, str], ...]  # (suite, list in B)
    removed: tuple[tuple[str, str], ...]  # (suite, list in A)
    moved: tuple[tuple[str, str, str], ...]  # (suite, list in A, list in B)
    reordered: tuple[tuple[str, int, int], ...]  # (suite, rank in A, rank in B) among Selected in both

    @property
    def empty(self) -> bool:
        return not (self.release or self.protocols or self.added or self.removed or self.moved or self.reordered)


def diff(a: Policy, b: Policy) -> PolicyDiff:
    """Suites added, removed, moved between lists, and reordered within Selected."""

    def lists(p: Policy) -> dict[str, str]:
        return {**{n: "disabled" for n in p.disabled}, **{n: "selected" for n in p.selected}}

    la, lb = lists(a), lists(b)
    added = tuple((n, lb[n]) for n in [*b.selected, *b.disabled] if n not in la)
    removed = tuple((n, la[n]) for n in [*a.selected, *a.disabled] if n not in lb)
    moved = tuple((n, la[n], lb[n]) for n in [*a.selected, *a.disabled] if n in lb and la[n] != lb[n])
    common_b = [n for n in b.selected if n in set(a.selected)]
    common_a = [n for n in a.selected if n in set(b.selected)]
    reordered = tuple(
        (n, common_a.index(n) + 1, common_b.index(n) + 1) for n in common_b if common_a.index(n) != common_b.index(n)
    )
    release = (a.release, b.release) if a.release != b.release else None
    pa = tuple(v.value for v in a.protocols_selected)
    pb = tuple(v.value for v in b.protocols_selected)
    return PolicyDiff(release, (pa, pb) if pa != pb else None, added, removed, moved, reordered)
