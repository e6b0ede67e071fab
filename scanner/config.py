"""Read endpoints.yaml and policy files into validated models; the only module that parses YAML.

Every problem becomes a ConfigError naming the file, the line and column (where YAML knows it), the field,
what was wrong and how to fix it. Callers turn it into exit code 2.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scanner import catalog
from scanner.models import Endpoint, Policy, Protocol, TlsVersion

MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, with where it is and how to fix it."""

    path: str
    line: int | None
    column: int | None
    field: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.field + ': ' if self.field else ''}{self.message}"
        return text + (f" ({self.hint})" if self.hint else "")


class ConfigError(Exception):
    """One or more problems in an input file; str() lists them all, one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


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
            ipaddress.ip_address(value)
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


class _PolicyFile(_Strict):
    release: str = Field(min_length=1)
    protocols: _Lists = Field(default_factory=lambda: _Lists(selected=["TLSv1.2"]))
    cipher_suites: _Lists

    @field_validator("release", mode="before")
    @classmethod
    def _release_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


def _read(path: Path) -> tuple[Any, yaml.Node | None]:
    shown = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError([Problem(shown, None, None, "", f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")])
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(shown, None, None, "", "file not found", "check the path")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(shown, None, None, "", "is a directory, not a file")]) from None
    except PermissionError:
        raise ConfigError(
            [Problem(shown, None, None, "", "permission denied", "check the file's permissions")]
        ) from None
    if b"\x00" in raw:
        raise ConfigError([Problem(shown, None, None, "", "binary file, not YAML")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(shown, None, None, "", f"not UTF-8 text (byte {exc.start})")]) from None
    if not text.strip():
        raise ConfigError([Problem(shown, None, None, "", "file is empty")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
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
    return data, node


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


def _problems(path: Path, node: yaml.Node | None, error: ValidationError, known: list[str]) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        line, column = _locate(node, loc, key=item["type"] == "extra_forbidden")
        dotted = ".".join(str(p) for p in loc)
        hint = ""
        if item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(known)}"
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required field is missing"
        else:
            message = item["msg"]
            if item["type"] == "literal_error" and loc and loc[-1] == "protocol":
                hint = "STARTTLS kinds (ldap, smtp) are not supported yet"
        problems.append(Problem(str(path), line, column, dotted, message, hint))
    return problems


_ENDPOINT_KEYS = [*list(_EndpointModel.model_fields), "endpoints"]
_POLICY_KEYS = [*list(_PolicyFile.model_fields), "selected", "disabled"]


def load_endpoints(path: Path) -> list[Endpoint]:
    """The endpoints of an endpoints.yaml file, validated; raises ConfigError listing every problem."""
    data, node = _read(path)
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, 1, "", "expected a mapping with an 'endpoints:' list")])
    try:
        parsed = _EndpointsFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(path, node, exc, _ENDPOINT_KEYS)) from None
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


def load_policy(path: Path) -> Policy:
    """The policy in a policy file, every suite resolved to its IANA name; raises ConfigError."""
    data, node = _read(path)
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, 1, "", "expected a mapping with release, protocols, cipher_suites")])
    try:
        parsed = _PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(path, node, exc, _POLICY_KEYS)) from None
    problems: list[Problem] = []

    def versions(key: Literal["selected", "disabled"]) -> tuple[TlsVersion, ...]:
        out = []
        for index, value in enumerate(getattr(parsed.protocols, key)):
            try:
                out.append(TlsVersion(value))
            except ValueError:
                line, column = _locate(node, ("protocols", key, index))
                problems.append(
                    Problem(
                        str(path),
                        line,
                        column,
                        f"protocols.{key}.{index}",
                        f"unknown protocol {value!r}",
                        f"use one of {', '.join(TlsVersion)}",
                    )
                )
        return tuple(out)

    def suites(key: Literal["selected", "disabled"]) -> tuple[str, ...]:
        out: list[str] = []
        for index, value in enumerate(getattr(parsed.cipher_suites, key)):
            line, column = _locate(node, ("cipher_suites", key, index))
            where = f"cipher_suites.{key}.{index}"
            try:
                suite = catalog.resolve(value)
            except catalog.UnknownSuiteError as exc:
                hint = f"did you mean {' or '.join(exc.suggestions)}?" if exc.suggestions else "check the spelling"
                problems.append(Problem(str(path), line, column, where, f"unknown cipher suite {value!r}", hint))
                continue
            if suite.name in out:
                problems.append(Problem(str(path), line, column, where, f"{value} is listed twice"))
                continue
            out.append(suite.name)
        return tuple(out)

    selected_versions, disabled_versions = versions("selected"), versions("disabled")
    if TlsVersion.TLSV1_2 in disabled_versions or TlsVersion.TLSV1_2 not in selected_versions:
        line, column = _locate(node, ("protocols",))
        problems.append(
            Problem(
                str(path),
                line,
                column,
                "protocols",
                "TLSv1.2 must be Selected and cannot be disabled",
                "put TLSv1.2 under selected",
            )
        )
    selected, disabled = suites("selected"), suites("disabled")
    for name in sorted(set(selected) & set(disabled)):
        line, column = _locate(node, ("cipher_suites", "disabled"))
        problems.append(
            Problem(
                str(path),
                line,
                column,
                "cipher_suites",
                f"{name} is both Selected and Disabled",
                "keep it in one list",
            )
        )
    if not selected:
        line, column = _locate(node, ("cipher_suites", "selected"))
        problems.append(
            Problem(
                str(path),
                line,
                column,
                "cipher_suites.selected",
                "no Selected suites",
                "list at least one suite, strongest first",
            )
        )
    if problems:
        raise ConfigError(problems)
    return Policy(
        release=parsed.release,
        protocols_selected=selected_versions,
        protocols_disabled=disabled_versions,
        selected=selected,
        disabled=disabled,
    )


def write_endpoints(entries: list[dict[str, object]], path: Path, comment: str) -> None:
    """Write an endpoints.yaml (used by the demo lab); `comment` becomes its header line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump({"endpoints": entries}, sort_keys=False)
    path.write_text(f"# {comment}\n{body}", encoding="utf-8")
