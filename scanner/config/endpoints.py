"""endpoints.yaml: read into validated endpoints, and written (for the demo lab)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ruamel.yaml import YAML

from scanner.config.source import locate
from scanner.files import private_folders
from scanner.models import ConfigError, Endpoint, Problem, Protocol, Proxy

if TYPE_CHECKING:
    from scanner.config.schemas import ProxyModel

_PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def load_endpoints(path: Path, proxy: Proxy | None = None, ca_file: Path | None = None) -> list[Endpoint]:
    """The endpoints of an endpoints.yaml file, validated; raises ConfigError listing every problem.

    An endpoint's own `proxy` and `ca_file` win; then `proxy` and `ca_file` given here (the command line's);
    then the file's top-level ones. `ca_file` paths in the file are relative to the file's folder."""
    from scanner.config.schemas import ENDPOINT_KEYS, EndpointsFile, parse  # pydantic: 0.1 s, only when reading

    parsed, node = parse(path, EndpointsFile, ENDPOINT_KEYS, "expected a mapping with an 'endpoints:' list")
    problems: list[Problem] = []

    def ca_path(value: str | None, loc: tuple[str | int, ...]) -> str | None:
        if value is None:
            return None
        found = _ca_file_problem(path.parent / value)
        if found is not None:
            line, column = locate(node, loc)
            dotted = ".".join(str(p) for p in loc)
            problems.append(Problem(str(path), line, column, dotted, found, "name a PEM file of CA certificates"))
        return str((path.parent / value).resolve())

    default_proxy = proxy if proxy is not None else _proxy(parsed.proxy)
    default_ca = str(ca_file.resolve()) if ca_file is not None else ca_path(parsed.ca_file, ("ca_file",))
    endpoints: list[Endpoint] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(parsed.endpoints):
        if item.id in seen:
            line, column = locate(node, ("endpoints", index, "id"))
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
        protocol = Protocol(item.protocol)
        port = item.port if item.port is not None else protocol.default_port
        assert port is not None  # the schema requires a port where the protocol has no default
        own_ca = ca_path(item.ca_file, ("endpoints", index, "ca_file"))
        endpoints.append(
            Endpoint(
                id=item.id,
                name=item.name or item.id,
                category=item.category,
                host=item.host,
                port=port,
                protocol=protocol,
                sni=item.sni,
                ip=item.ip,
                enabled=item.enabled,
                proxy=default_proxy if item.proxy is None else _proxy(item.proxy),
                ca_file=own_ca or default_ca,
            )
        )
    if problems:
        raise ConfigError(problems)
    return endpoints


def _proxy(model: ProxyModel | None) -> Proxy | None:
    """The proxy a block names; None for none (`proxy: none` reads as a block with an empty url)."""
    if model is None or not model.url:
        return None
    from scanner.config.schemas import proxy_address

    host, port = proxy_address(model.url)
    return Proxy(host, port, model.username_env, model.password_env)


def _ca_file_problem(path: Path) -> str | None:
    """What is wrong with a ca_file, or None: it must be a readable PEM file holding a certificate."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if _PEM_CERTIFICATE.encode() not in head:
        return f"{path} holds no PEM certificate ({_PEM_CERTIFICATE} ...)"
    return None


def parse_proxy_url(url: str) -> Proxy:
    """The command line's `--proxy URL`, its credentials (if the environment has them) named by the two
    TLSVERIFY_PROXY_* variables; ValueError saying what is wrong, never repeating the URL."""
    from scanner.config.schemas import proxy_address

    host, port = proxy_address(url)
    named = all(os.environ.get(name) is not None for name in PROXY_CREDENTIAL_VARIABLES)
    user, password = PROXY_CREDENTIAL_VARIABLES if named else (None, None)
    return Proxy(host, port, user, password)


PROXY_CREDENTIAL_VARIABLES = ("TLSVERIFY_PROXY_USER", "TLSVERIFY_PROXY_PASSWORD")
"""Where `--proxy` takes Basic-auth credentials from, when both are set."""


def write_endpoints(entries: list[dict[str, object]], path: Path, comment: str, ca_file: Path | None = None) -> None:
    """Write an endpoints.yaml (used by the demo lab); `comment` becomes its header line, `ca_file` its
    top-level trust anchors."""
    private_folders(path.parent)
    out = io.StringIO()
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = False
    writer.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    document: dict[str, object] = {"ca_file": str(ca_file)} if ca_file is not None else {}
    writer.dump({**document, "endpoints": entries}, out)
    path.write_text(f"# {comment}\n{out.getvalue()}", encoding="utf-8")
