"""The shapes of tlsverify's files (pydantic models, extra keys forbidden) and pydantic's complaints turned
into problems with their places and a fix.

The models' descriptions and JSON Schema hints are what `scanner/data/schemas/{endpoints,policy,release}.json`
are generated from (`python -m scanner.schemas`); what the schema language cannot say (a host name's labels,
a proxy URL's parts, suite names known to the catalog) is checked here and by the loaders, not there.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.config import JsonDict
from ruamel.yaml.nodes import Node

from scanner.config.source import locate, read_yaml
from scanner.models import ConfigError, Problem, Protocol


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


def _or_number(schema: JsonDict) -> None:
    """A release number YAML reads as a number (`release: 9.0`) is taken as its text."""
    schema["type"] = ["string", "number"]


def _or_empty_key(schema: JsonDict) -> None:
    """A bare `disabled:` (YAML's null) is an empty list."""
    schema["type"] = ["array", "null"]


def _or_none_word(schema: JsonDict) -> None:
    """`proxy: none` (any case) bypasses the file's top-level proxy."""
    choices = schema.get("anyOf")
    if not isinstance(choices, list):
        raise TypeError(f"expected anyOf in the proxy field's schema, got {schema}")
    choices.append({"type": "string", "pattern": "^\\s*[Nn][Oo][Nn][Ee]\\s*$"})


def proxy_address(url: str) -> tuple[str, int]:
    """The host and port of an HTTP proxy URL (`http://host:port`); ValueError saying what is wrong. The
    message never repeats the URL: it may hold a password."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("not a proxy URL; write http://HOST:PORT") from None
    if parts.scheme != "http":
        raise ValueError("a proxy URL starts with http:// (the client speaks HTTP CONNECT to its proxy)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "credentials do not belong in the URL: name the environment variables that hold them in "
            "username_env and password_env"
        )
    if not parts.hostname:
        raise ValueError("the proxy URL has no host; write http://HOST:PORT")
    if port is None:
        raise ValueError("the proxy URL has no port; write http://HOST:PORT, e.g. http://proxy.example:3128")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a proxy URL is http://HOST:PORT, with no path")
    _check_host_name(parts.hostname)
    return parts.hostname, port


class ProxyModel(Strict):
    """An HTTP CONNECT proxy. Basic-auth credentials are named by environment variable, never written here."""

    model_config = ConfigDict(
        json_schema_extra={"dependentRequired": {"username_env": ["password_env"], "password_env": ["username_env"]}}
    )

    url: str = Field(description="http://HOST:PORT, with no path and no credentials")
    username_env: str | None = Field(
        default=None,
        pattern=_ENV_NAME,
        description="the NAME of the environment variable holding the Basic-auth user name (with password_env)",
    )
    password_env: str | None = Field(
        default=None,
        pattern=_ENV_NAME,
        description="the NAME of the environment variable holding the Basic-auth password (with username_env)",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        proxy_address(value)
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> ProxyModel:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("name both username_env and password_env, or neither")
        return self


PROXY_KEYS = list(ProxyModel.model_fields)


class EndpointModel(Strict):
    """One external server the client connects to."""

    model_config = ConfigDict(
        json_schema_extra={  # protocol `tls` has no default port
            "if": {"properties": {"protocol": {"const": "tls"}}, "required": ["protocol"]},
            "then": {"required": ["port"]},
        }
    )

    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="unique in the file; what --only and the reports name"
    )
    name: str | None = Field(default=None, description="a name for people (default: the id)")
    category: str = Field(default="other", description="the kind of server, e.g. APNS, SCEP, LDAP (default: other)")
    host: str = Field(
        min_length=1,
        max_length=253,
        description="the server's DNS name (IDN allowed; sent as SNI unless `sni` says otherwise) or IP address",
    )
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="TCP port; default: the protocol's (https 443, ldaps 636, ldap+starttls 389, smtps 465, "
        "smtp+starttls 587; `tls` has none)",
    )
    protocol: Literal["https", "tls", "ldaps", "ldap+starttls", "smtps", "smtp+starttls"] = Field(
        default="https",
        description="TLS at once (https, tls, ldaps, smtps) or after the protocol's STARTTLS exchange "
        "(ldap+starttls, smtp+starttls)",
    )
    sni: str | None = Field(default=None, description="the name sent as SNI, where it is not `host`")
    ip: str | None = Field(
        default=None,
        description="connect to this IPv4 or IPv6 address instead of looking `host` up (still sent as SNI)",
    )
    enabled: bool = Field(default=True, description="false: listed, but not probed")
    proxy: ProxyModel | None = Field(
        default=None,
        json_schema_extra=_or_none_word,
        description="this endpoint's own proxy, or `none` to connect directly although the file has a proxy",
    )
    """`proxy: none` reads as a ProxyModel with an empty url: this endpoint bypasses the file's proxy."""
    ca_file: str | None = Field(
        default=None,
        min_length=1,
        description="PEM file of CA certificates for this server's chain (relative to this file); wins over the "
        "file's ca_file",
    )

    @field_validator("proxy", mode="before")
    @classmethod
    def _bypass(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().lower() != "none":
                raise ValueError("expected a proxy block (url:, username_env:, password_env:) or `none`")
            return ProxyModel.model_construct(url="")
        return value

    @model_validator(mode="after")
    def _port_or_default(self) -> EndpointModel:
        if self.port is None and Protocol(self.protocol).default_port is None:
            raise ValueError(f"protocol {self.protocol} has no default port: add `port:`")
        return self

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
            _no_zone_id(value)
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
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError("must be a whole number from 1 to 65535")
        return value


def _no_zone_id(value: str) -> None:
    """Refuse an IPv6 zone id (`fe80::1%eth0`: ipaddress takes any text after the %, CR and LF included,
    which would then reach a proxy's CONNECT line) and any control character or space."""
    if "%" in value or any(not ch.isprintable() or ch.isspace() for ch in value):
        raise ValueError("no zone ids (%), spaces or control characters: write a plain name or address")


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _check_host_name(value: str) -> None:
    """A DNS name (IDN allowed) or an IP address literal; raises ValueError saying what is wrong."""
    _no_zone_id(value)
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


class EndpointsFile(Strict):
    """endpoints.yaml: the external servers the client connects to."""

    proxy: ProxyModel | None = Field(
        default=None, description="the proxy every endpoint goes through, unless it has `proxy: none` or its own"
    )
    ca_file: str | None = Field(
        default=None,
        min_length=1,
        description="PEM file of CA certificates server chains are checked against (relative to this file); "
        "default: the system's trust store",
    )
    endpoints: list[EndpointModel] = Field(min_length=1, description="the servers, each with a unique id")


class Lists(Strict):
    """A Selected list (in preference order) and a Disabled list."""

    selected: list[str] = Field(
        default_factory=list, json_schema_extra=_or_empty_key, description="in preference order, first preferred"
    )
    disabled: list[str] = Field(
        default_factory=list, json_schema_extra=_or_empty_key, description="never offered; an empty key is no suite"
    )

    @field_validator("selected", "disabled", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        return [] if value is None else value  # a bare `disabled:` means an empty list


class PolicyFile(Strict):
    """policy.yaml: the client's Outgoing SSL configuration, its Selected and Disabled lists."""

    release: str = Field(
        min_length=1,
        json_schema_extra=_or_number,
        description='the client release the lists are for (`tlsverify policy releases`), e.g. "12.0.0.0"',
    )
    client: str | None = Field(
        default=None,
        description="the TLS client profile: jsse-8, jsse-11, jsse-17 or jsse-21 (`tlsverify policy clients`); "
        "default: the release's",
    )
    protocols: Lists = Field(
        default_factory=lambda: Lists(selected=["TLSv1.2"]),
        description="protocol versions (SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3); default: TLSv1.2 Selected",
    )
    cipher_suites: Lists = Field(description="cipher suites by JSSE, IANA or OpenSSL name, in any case")

    @field_validator("release", mode="before")
    @classmethod
    def _release_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


class ReleaseFile(Strict):
    """A release file (scanner/data/releases/, --release-dir DIR): the suites a client release ships, its
    Reset to Default lists and what it changed. Suites by JSSE, IANA or OpenSSL name."""

    release: str = Field(min_length=1, json_schema_extra=_or_number, description='the release number, e.g. "10.3.0.0"')
    client: str | None = Field(
        default=None, description="the TLS client profile the release runs on (jsse-8, jsse-11, jsse-17, jsse-21)"
    )
    reconstructed: bool = Field(
        default=True, description="the lists are reconstructed, not the vendor's own (`basis` says from what)"
    )
    basis: str = Field(default="", description="where the lists come from")
    available: list[str] = Field(min_length=1, description="every suite the release ships")
    default_selected: list[str] = Field(min_length=1, description="Reset to Default's Selected list, in order")
    default_disabled: list[str] = Field(default_factory=list, description="Reset to Default's Disabled list")
    removed: list[str] = Field(
        default_factory=list, description="suites this release removed: an upgrade to it drops them from both lists"
    )
    moved_to_disabled: list[str] = Field(
        default_factory=list, description="suites an upgrade to this release moves from Selected to Disabled"
    )

    @field_validator("release", mode="before")
    @classmethod
    def _release_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


RELEASE_KEYS = list(ReleaseFile.model_fields)


Model = TypeVar("Model", bound=BaseModel)


def parse(path: Path, model: type[Model], keys: list[str], expected: str) -> tuple[Model, Node | None]:
    """Read a YAML file and validate it against `model`; every problem becomes a ConfigError."""
    data, node = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, 1, "", expected)])
    try:
        return model.model_validate(data), node
    except ValidationError as exc:
        raise ConfigError(_problems(path, node, exc, keys, list(model.model_fields))) from None


def _problems(path: Path, node: Node | None, error: ValidationError, known: list[str], top: list[str]) -> list[Problem]:
    """Pydantic's errors as problems; `known` are the keys of nested entries, `top` those of the file."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        line, column = locate(node, loc, key=item["type"] == "extra_forbidden")
        dotted = ".".join(str(p) for p in loc)
        hint = _HINTS.get(item["type"], "")
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            known = PROXY_KEYS if "proxy" in loc[:-1] else known if len(loc) > 1 else top
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(known)}"
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required field is missing"
            hint = f"add `{loc[-1]}:`"
        elif item["type"] in ("dict_type", "model_type"):
            message = "expected a mapping of keys to values here"
        elif item["type"] == "literal_error" and loc and loc[-1] == "protocol":
            hint = "use https, tls, ldaps, ldap+starttls, smtps or smtp+starttls"
        elif item["type"] == "string_pattern_mismatch" and loc and str(loc[-1]).endswith("_env"):
            hint = "the name of an environment variable (letters, digits and _), never the secret itself"
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

ENDPOINT_KEYS = list(EndpointModel.model_fields)
POLICY_KEYS = [*list(PolicyFile.model_fields), "selected", "disabled"]
