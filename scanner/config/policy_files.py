"""Policy files and release files: read with every value's place, checked, and built into models."""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path

from scanner import catalog, clients
from scanner import policy as policy_rules
from scanner.config.source import locate, scalar_text
from scanner.models import ConfigError, Policy, Problem, Severity
from scanner.policy import Entry, PolicyDocument, Release, Releases


def read_policy_document(path: Path) -> PolicyDocument:
    """A policy file as written, every value with its place; raises ConfigError only for its shape."""
    from scanner.config.schemas import POLICY_KEYS, PolicyFile, parse  # pydantic: 0.1 s, only when reading

    parsed, node = parse(path, PolicyFile, POLICY_KEYS, "expected a mapping with release, protocols, cipher_suites")

    def entries(section: str, key: str, values: list[str]) -> tuple[Entry, ...]:
        out = []
        for index, value in enumerate(values):
            line, column = locate(node, (section, key, index))
            out.append(Entry(str(value), f"{section}.{key}.{index}", line, column))
        return tuple(out)

    release_line, release_column = locate(node, ("release",))
    client_line, client_column = locate(node, ("client",))
    client = None if parsed.client is None else Entry(parsed.client, "client", client_line, client_column)
    suites_line, suites_column = locate(node, ("cipher_suites", "selected"))
    protocols_line, protocols_column = locate(node, ("protocols",))
    return PolicyDocument(
        path=str(path),
        release=Entry(scalar_text(node, "release", parsed.release), "release", release_line, release_column),
        protocols_selected=entries("protocols", "selected", parsed.protocols.selected),
        protocols_disabled=entries("protocols", "disabled", parsed.protocols.disabled),
        selected=entries("cipher_suites", "selected", parsed.cipher_suites.selected),
        disabled=entries("cipher_suites", "disabled", parsed.cipher_suites.disabled),
        protocols_place=Entry("", "protocols", protocols_line, protocols_column),
        client=client,
        suites_place=Entry("", "cipher_suites.selected", suites_line, suites_column),
    )


def check_policy_file(
    path: Path, releases: Releases, profile: str | None = None
) -> tuple[PolicyDocument, list[Problem]]:
    """The document and every problem in it (errors and warnings); ConfigError if it is not a policy at all."""
    doc = read_policy_document(path)
    return doc, policy_rules.check(doc, releases, profile)


def load_policy(path: Path, releases: Releases | None = None) -> Policy:
    """The policy in a policy file, every suite as its IANA name; raises ConfigError listing every error."""
    releases = releases or load_releases()
    doc, problems = check_policy_file(path, releases)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise ConfigError(errors)
    return policy_rules.build(doc, releases)


def read_release(path: Path) -> Release:
    """One release data file, validated: names resolve, defaults are available, the lists do not overlap."""
    from scanner.config.schemas import RELEASE_KEYS, ReleaseFile, parse

    parsed, node = parse(path, ReleaseFile, RELEASE_KEYS, "expected a mapping: release, available, default_selected")
    problems: list[Problem] = []

    def names(key: str) -> tuple[str, ...]:
        out: list[str] = []
        for index, value in enumerate(getattr(parsed, key)):
            suite = catalog.find(value)
            if suite is None:
                line, column = locate(node, (key, index))
                close = " or ".join(catalog.suggest(value))
                problems.append(
                    Problem(
                        str(path),
                        line,
                        column,
                        f"{key}.{index}",
                        f"unknown cipher suite {value!r}",
                        f"did you mean {close}?" if close else "check the spelling",
                    )
                )
            elif suite.name not in out:
                out.append(suite.name)
        return tuple(out)

    available = names("available")
    selected, disabled = names("default_selected"), names("default_disabled")
    removed = names("removed")
    moved = names("moved_to_disabled")
    for name in moved:
        if name not in disabled:
            line, column = locate(node, ("moved_to_disabled",))
            problems.append(
                Problem(
                    str(path),
                    line,
                    column,
                    "moved_to_disabled",
                    f"{name} is not in default_disabled",
                    "a suite moved to Disabled must be in the default Disabled list",
                )
            )
    for key, listed in (("default_selected", selected), ("default_disabled", disabled)):
        for name in listed:
            if name not in available:
                line, column = locate(node, (key,))
                problems.append(
                    Problem(
                        str(path),
                        line,
                        column,
                        key,
                        f"{name} is not in available",
                        "add it to available or remove it here",
                    )
                )
    for name in set(selected) & set(disabled):
        line, column = locate(node, ("default_disabled",))
        problems.append(Problem(str(path), line, column, "default_disabled", f"{name} is in both default lists"))
    if parsed.client is not None and parsed.client not in clients.PROFILES:
        line, column = locate(node, ("client",))
        known = ", ".join(clients.PROFILES)
        problems.append(
            Problem(str(path), line, column, "client", f"unknown client {parsed.client!r}", f"known: {known}")
        )
    if problems:
        raise ConfigError(problems)
    return Release(
        name=scalar_text(node, "release", parsed.release),
        client=parsed.client,
        available=available,
        default_selected=selected,
        default_disabled=disabled,
        removed=removed,
        removed_as_written=tuple(parsed.removed),
        moved_to_disabled=moved,
        reconstructed=parsed.reconstructed,
        basis=" ".join(parsed.basis.split()),
        source=str(path),
    )


RELEASES_ENV = "TLSVERIFY_RELEASES"


@cache
def _shipped_releases() -> tuple[tuple[tuple[int, ...], Release], ...]:
    """The package's own release files, read once a process (they do not change while it runs)."""
    shipped = resources.files("scanner") / "data" / "releases"
    found: list[tuple[tuple[int, ...], Release]] = []
    for item in sorted(shipped.iterdir(), key=lambda t: t.name):
        if item.name.endswith(".yaml"):
            with resources.as_file(item) as path:
                release = read_release(path)
            found.append((release.key, release))
    return tuple(found)


def load_releases(extra_dir: Path | None = None) -> Releases:
    """The releases shipped with tlsverify, plus the *.yaml files of `extra_dir` (or $TLSVERIFY_RELEASES),
    which add releases or replace shipped ones of the same name."""
    found = dict(_shipped_releases())
    directory = extra_dir or (Path(os.environ[RELEASES_ENV]) if os.environ.get(RELEASES_ENV) else None)
    if directory is not None:
        if not directory.is_dir():
            raise ConfigError(
                [
                    Problem(
                        str(directory),
                        None,
                        None,
                        "",
                        "release directory not found",
                        "point --release-dir or $TLSVERIFY_RELEASES at a folder of release files",
                    )
                ]
            )
        for path in sorted(directory.glob("*.yaml")):
            release = read_release(path)
            found[release.key] = release
    return Releases(tuple(found[k] for k in sorted(found)))
