"""endpoints.yaml: read into validated endpoints, and written (for the demo lab)."""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML

from scanner.config.schemas import ENDPOINT_KEYS, EndpointsFile, parse
from scanner.config.source import locate
from scanner.files import private_folders
from scanner.models import ConfigError, Endpoint, Problem, Protocol


def load_endpoints(path: Path) -> list[Endpoint]:
    """The endpoints of an endpoints.yaml file, validated; raises ConfigError listing every problem."""
    parsed, node = parse(path, EndpointsFile, ENDPOINT_KEYS, "expected a mapping with an 'endpoints:' list")
    problems: list[Problem] = []
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


def write_endpoints(entries: list[dict[str, object]], path: Path, comment: str) -> None:
    """Write an endpoints.yaml (used by the demo lab); `comment` becomes its header line."""
    private_folders(path.parent)
    out = io.StringIO()
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = False
    writer.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    writer.dump({"endpoints": entries}, out)
    path.write_text(f"# {comment}\n{out.getvalue()}", encoding="utf-8")
