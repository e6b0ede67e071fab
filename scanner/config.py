"""Read endpoints.yaml, policy and release files into validated models, and write policy files; the only
module that touches YAML (PyYAML to read with line numbers, ruamel.yaml to rewrite keeping comments).

Every problem becomes a ConfigError naming the file, the line and column (where YAML knows it), the field,
what was wrong and how to fix it. Callers turn it into exit code 2.
"""

from __future__ import annotations

import difflib
import io
import ipaddress
import os
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from scanner import catalog, clients
from scanner import policy as policy_rules
from scanner.models import ConfigError as ConfigError  # re-exported: the error of every input file
from scanner.models import Endpoint, Policy, Problem, Protocol, Severity
from scanner.policy import Entry, PolicyDocument, Release, Releases

MAX_FILE_BYTES = 5 * 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class _EndpointModel(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str | None = None
    category: str = "other"
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)
    protocol: Literal["https", "tls"] = "https"
    sni: str | None = None
    ip: str | None = None
    enabled: bool = True

    @field_validator("host", "sni")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None:
            _check_host_name(value)
        return value

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an IP address; write IPv4 (192.0.2.10) or IPv6 (2001:db8::1)"
                ) from None
        return value

    @field_validator("port", mode="before")
    @classmethod
    def _port_is_int(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number from 1 to 65535")
        return value


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _check_host_name(value: str) -> None:
    """A DNS name (IDN allowed) or an IP address literal; raises ValueError saying what is wrong."""
    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    try:
        ascii_name = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("not a valid host name (empty or over-long label?)") from None
    labels = ascii_name.rstrip(".").split(".")
    bad = next((label for label in labels if not _LABEL.match(label)), None)
    if bad is not None or len(ascii_name) > 253:
        raise ValueError(f"not a valid host name (label {bad!r}); use letters, digits and hyphens")


class _EndpointsFile(_Strict):
    endpoints: list[_EndpointModel] = Field(min_length=1)


class _Lists(_Strict):
    selected: list[str] = Field(default_factory=list)
    disabled: list[str] = Field(default_factory=list)

    @field_validator("selected", "disabled", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        return [] if value is None else value  # a bare `disabled:` means an empty list


class _PolicyFile(_Strict):
    release: str = Field(min_length=1)
    client: str | None = None
    protocols: _Lists = Field(default_factory=lambda: _Lists(selected=["TLSv1.2"]))
    cipher_suites: _Lists

    @field_validator("release", mode="before")
    @classmethod
    def _release_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


def _read(path: Path) -> tuple[Any, yaml.Node | None]:
    shown = str(path)
    try:
        with path.open("rb") as handle:  # read at most the limit: stat() says 0 for /dev/zero and pipes
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            message = f"file is larger than the limit of {MAX_FILE_BYTES} bytes"
            raise ConfigError([Problem(shown, None, None, "", message, "remove what is not needed")])
    except FileNotFoundError:
        raise ConfigError([Problem(shown, None, None, "", "file not found", "check the path")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(shown, None, None, "", "is a directory, not a file")]) from None
    except PermissionError:
        raise ConfigError(
            [Problem(shown, None, None, "", "permission denied", "check the file's permissions")]
        ) from None
    if b"\x00" in raw:
        raise ConfigError([Problem(shown, None, None, "", "binary file, not YAML", "is this the right file?")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [Problem(shown, None, None, "", f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8")]
        ) from None
    if not text.strip():
        raise ConfigError([Problem(shown, None, None, "", "file is empty", "see the shipped file for the format")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        aliased = _first_alias(node)
        if aliased is not None:
            raise ConfigError(
                [
                    Problem(
                        shown,
                        aliased.start_mark.line + 1,
                        aliased.start_mark.column + 1,
                        "",
                        "YAML anchors and aliases (&name, *name) are not supported here",
                        "write the values out",
                    )
                ]
            )
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise ConfigError(
            [Problem(shown, line, column, "", f"invalid YAML: {exc.problem}", "check indentation and quoting")]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(shown, None, None, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ConfigError([Problem(shown, None, None, "", "invalid YAML: nested too deeply")]) from None
    duplicates = list(_duplicate_keys(shown, node))
    if duplicates:
        raise ConfigError(duplicates)
    return data, node


Model = TypeVar("Model", bound=BaseModel)


def _parse(path: Path, model: type[Model], keys: list[str], expected: str) -> tuple[Model, yaml.Node | None]:
    """Read a YAML file and validate it against `model`; every problem becomes a ConfigError."""
    data, node = _read(path)
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, 1, "", expected)])
    try:
        return model.model_validate(data), node
    except ValidationError as exc:
        raise ConfigError(_problems(path, node, exc, keys, list(model.model_fields))) from None


def _first_alias(root: yaml.Node | None) -> yaml.Node | None:
    """A node reached twice (an alias, maybe recursive, maybe a 'billion laughs' bomb), or None."""
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return node
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack += [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += list(node.value)
    return None


def _duplicate_keys(path: str, node: yaml.Node | None) -> Iterator[Problem]:
    """A key given twice in one mapping: YAML readers silently keep the last one; we refuse."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key, value in node.value:
            name = getattr(key, "value", None)
            if isinstance(name, str) and name in seen:
                yield Problem(
                    path,
                    key.start_mark.line + 1,
                    key.start_mark.column + 1,
                    name,
                    f"duplicate key (first at line {seen[name]})",
                    "keep one of them",
                )
            elif isinstance(name, str):
                seen[name] = key.start_mark.line + 1
            yield from _duplicate_keys(path, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(path, item)


def _scalar_text(node: yaml.Node | None, key: str, fallback: str) -> str:
    """A top-level scalar exactly as written (`release: 10.30` stays "10.30", not the float 10.3)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key and isinstance(v, yaml.ScalarNode):
                return str(v.value)
    return fallback


def _locate(node: yaml.Node | None, loc: tuple[str | int, ...], key: bool = False) -> tuple[int | None, int | None]:
    """Line and column (1-based) of the deepest node along `loc` that exists (the key itself if `key`)."""
    found = node
    for index, part in enumerate(loc):
        if isinstance(found, yaml.MappingNode):
            want_key = key and index == len(loc) - 1
            nxt = next((k if want_key else v for k, v in found.value if getattr(k, "value", None) == part), None)
        elif isinstance(found, yaml.SequenceNode) and isinstance(part, int) and part < len(found.value):
            nxt = found.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        found = nxt
    if found is None:
        return None, None
    return found.start_mark.line + 1, found.start_mark.column + 1


def _problems(
    path: Path, node: yaml.Node | None, error: ValidationError, known: list[str], top: list[str]
) -> list[Problem]:
    """Pydantic's errors as problems; `known` are the keys of nested entries, `top` those of the file."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        line, column = _locate(node, loc, key=item["type"] == "extra_forbidden")
        dotted = ".".join(str(p) for p in loc)
        hint = _HINTS.get(item["type"], "")
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            known = known if len(loc) > 1 else top
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(known)}"
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required field is missing"
            hint = f"add `{loc[-1]}:`"
        elif item["type"] in ("dict_type", "model_type"):
            message = "expected a mapping of keys to values here"
        elif item["type"] == "literal_error" and loc and loc[-1] == "protocol":
            hint = "use https or tls; STARTTLS kinds (ldap, smtp) are not supported yet"
        problems.append(Problem(str(path), line, column, dotted, message, hint))
    return problems


_HINTS = {
    "list_type": "write a YAML list: [A, B], or one `- A` per line",
    "string_type": "write it as text; quote it if YAML reads it as a number or a boolean",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "string_too_short": "it must not be empty",
    "too_short": "list at least one",
    "string_pattern_mismatch": "use letters, digits, '.', '_' and '-', starting with a letter or digit",
    "less_than_equal": "use a port from 1 to 65535",
    "greater_than_equal": "use a port from 1 to 65535",
}

_ENDPOINT_KEYS = list(_EndpointModel.model_fields)
_POLICY_KEYS = [*list(_PolicyFile.model_fields), "selected", "disabled"]


def load_endpoints(path: Path) -> list[Endpoint]:
    """The endpoints of an endpoints.yaml file, validated; raises ConfigError listing every problem."""
    parsed, node = _parse(path, _EndpointsFile, _ENDPOINT_KEYS, "expected a mapping with an 'endpoints:' list")
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(parsed.endpoints):
        if item.id in seen:
            line, column = _locate(node, ("endpoints", index, "id"))
            problems.append(
                Problem(
                    str(path),
                    line,
                    column,
                    f"endpoints.{index}.id",
                    f"duplicate id {item.id!r}",
                    f"already used by entry {seen[item.id]}; ids must be unique",
                )
            )
        seen.setdefault(item.id, index)
    if problems:
        raise ConfigError(problems)
    return [
        Endpoint(
            id=e.id,
            name=e.name or e.id,
            category=e.category,
            host=e.host,
            port=e.port,
            protocol=Protocol(e.protocol),
            sni=e.sni,
            ip=e.ip,
            enabled=e.enabled,
        )
        for e in parsed.endpoints
    ]


def read_policy_document(path: Path) -> PolicyDocument:
    """A policy file as written, every value with its place; raises ConfigError only for its shape."""
    parsed, node = _parse(path, _PolicyFile, _POLICY_KEYS, "expected a mapping with release, protocols, cipher_suites")

    def entries(section: str, key: str, values: list[str]) -> tuple[Entry, ...]:
        out = []
        for index, value in enumerate(values):
            line, column = _locate(node, (section, key, index))
            out.append(Entry(str(value), f"{section}.{key}.{index}", line, column))
        return tuple(out)

    release_line, release_column = _locate(node, ("release",))
    client_line, client_column = _locate(node, ("client",))
    client = None if parsed.client is None else Entry(parsed.client, "client", client_line, client_column)
    suites_line, suites_column = _locate(node, ("cipher_suites", "selected"))
    protocols_line, protocols_column = _locate(node, ("protocols",))
    return PolicyDocument(
        path=str(path),
        release=Entry(_scalar_text(node, "release", parsed.release), "release", release_line, release_column),
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


class _ReleaseFile(_Strict):
    release: str = Field(min_length=1)
    client: str | None = None
    reconstructed: bool = True
    basis: str = ""
    available: list[str] = Field(min_length=1)
    default_selected: list[str] = Field(min_length=1)
    default_disabled: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    moved_to_disabled: list[str] = Field(default_factory=list)

    @field_validator("release", mode="before")
    @classmethod
    def _release_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


_RELEASE_KEYS = list(_ReleaseFile.model_fields)


def read_release(path: Path) -> Release:
    """One release data file, validated: names resolve, defaults are available, the lists do not overlap."""
    parsed, node = _parse(path, _ReleaseFile, _RELEASE_KEYS, "expected a mapping: release, available, default_selected")
    problems: list[Problem] = []

    def names(key: str) -> tuple[str, ...]:
        out: list[str] = []
        for index, value in enumerate(getattr(parsed, key)):
            suite = catalog.find(value)
            if suite is None:
                line, column = _locate(node, (key, index))
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
            line, column = _locate(node, ("moved_to_disabled",))
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
                line, column = _locate(node, (key,))
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
        line, column = _locate(node, ("default_disabled",))
        problems.append(Problem(str(path), line, column, "default_disabled", f"{name} is in both default lists"))
    if parsed.client is not None and parsed.client not in clients.PROFILES:
        line, column = _locate(node, ("client",))
        known = ", ".join(clients.PROFILES)
        problems.append(
            Problem(str(path), line, column, "client", f"unknown client {parsed.client!r}", f"known: {known}")
        )
    if problems:
        raise ConfigError(problems)
    return Release(
        name=_scalar_text(node, "release", parsed.release),
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


def load_releases(extra_dir: Path | None = None) -> Releases:
    """The releases shipped with tlsverify, plus the *.yaml files of `extra_dir` (or $TLSVERIFY_RELEASES),
    which add releases or replace shipped ones of the same name."""
    shipped = resources.files("scanner") / "data" / "releases"
    found: dict[tuple[int, ...], Release] = {}
    for item in sorted(shipped.iterdir(), key=lambda t: t.name):
        if item.name.endswith(".yaml"):
            with resources.as_file(item) as path:
                release = read_release(path)
            found[release.key] = release
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
                        "point --releases or $TLSVERIFY_RELEASES at a folder of release files",
                    )
                ]
            )
        for path in sorted(directory.glob("*.yaml")):
            release = read_release(path)
            found[release.key] = release
    return Releases(tuple(found[k] for k in sorted(found)))


def write_endpoints(entries: list[dict[str, object]], path: Path, comment: str) -> None:
    """Write an endpoints.yaml (used by the demo lab); `comment` becomes its header line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump({"endpoints": entries}, sort_keys=False)
    path.write_text(f"# {comment}\n{body}", encoding="utf-8")


def _yaml_round_trip() -> YAML:
    rt = YAML()
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 120
    return rt


def policy_yaml(policy: Policy, comment: str, source: Path | None = None) -> str:
    """`policy` as a policy file. With `source`, edit that file's document instead, so its comments, order
    and spellings survive where the lists still hold the same suites; otherwise write JSSE names."""
    rt = _yaml_round_trip()
    if source is not None:
        try:
            document = rt.load(source.read_text(encoding="utf-8"))
        except (OSError, YAMLError) as exc:
            raise ConfigError([Problem(str(source), None, None, "", f"cannot rewrite this file: {exc}")]) from None
    else:
        document = CommentedMap()
        document.yaml_set_start_comment(comment)
    document["release"] = DoubleQuotedScalarString(policy.release)
    if "client" in document:  # otherwise the release's client applies, as it did
        document["client"] = policy.client
    protocols = document.setdefault("protocols", CommentedMap())
    for key, versions in (("selected", policy.protocols_selected), ("disabled", policy.protocols_disabled)):
        _replace_items(protocols, key, [v.value for v in versions], CommentedSeq)
    suites = document.setdefault("cipher_suites", CommentedMap())
    for key, names in (("selected", policy.selected), ("disabled", policy.disabled)):
        _replace_items(suites, key, list(names), CommentedSeq, suite_names=True)
    out = io.StringIO()
    rt.dump(document, out)
    return out.getvalue()


def _replace_items(mapping: Any, key: str, wanted: list[str], seq_type: Any, suite_names: bool = False) -> None:
    """Make mapping[key] hold `wanted`, editing the existing sequence in place where the order allows."""

    def same(written: object) -> str:
        text = str(written)
        if not suite_names:
            return text
        suite = catalog.find(text)
        return suite.name if suite else text

    seq = mapping.get(key)
    if seq is None or not isinstance(seq, list):
        seq = seq_type()
        mapping[key] = seq
    current = [same(item) for item in seq]
    kept = [c for c in current if c in wanted]
    if kept == [w for w in wanted if w in current]:
        for index in reversed(range(len(current))):
            if current[index] not in wanted:
                _delete_keeping_comment(seq, index)
        present = set(kept)
        seq.extend(_written(w, suite_names) for w in wanted if w not in present)
    else:  # reordered: rebuild the list (its comments cannot follow the items)
        seq.clear()
        seq.extend(_written(w, suite_names) for w in wanted)


def _delete_keeping_comment(seq: CommentedSeq, index: int) -> None:
    """Delete an item. ruamel stores the comment lines written after an item with that item's end-of-line
    comment: the item's own end-of-line comment goes with it, the lines after it move to the item before."""
    entry = seq.ca.items.get(index)
    del seq[index]
    token = entry[0] if entry else None
    if token is None or index == 0:
        return
    _, _, after = str(token.value).partition("\n")  # drop the deleted item's own end-of-line comment
    if not after.strip():
        return
    previous = seq.ca.items.setdefault(index - 1, [None, None, None, None])
    if previous[0] is None:
        token.value = "\n" + after
        previous[0] = token
    else:
        previous[0].value = str(previous[0].value) + after


def _written(name: str, suite_names: bool) -> str:
    return catalog.resolve(name).jsse_name if suite_names else name
