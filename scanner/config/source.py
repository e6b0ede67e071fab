"""Reading a YAML file for tlsverify: size and encoding limits, every node with its line and column, anchors
and duplicate keys refused. The only YAML reader: ruamel.yaml (YAML 1.2), the library the writer uses too,
so a value is read and written by the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scanner.models import ConfigError, Problem

MAX_FILE_BYTES = 5 * 1024 * 1024


def _reader() -> YAML:
    return YAML(typ="safe", pure=True)


def read_yaml(path: Path) -> tuple[Any, Node | None]:
    """The data of a YAML file and its node tree (for places), or ConfigError saying what is wrong."""
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
        reader = _reader()
        node = reader.compose(text)
        aliased = first_alias(node)
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
        duplicates = list(duplicate_keys(shown, node))
        if duplicates:
            raise ConfigError(duplicates)
        data = reader.constructor.construct_document(node) if node is not None else None  # parsed once, not twice
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise ConfigError(
            [Problem(shown, line, column, "", f"invalid YAML: {exc.problem}", "check indentation and quoting")]
        ) from None
    except YAMLError as exc:
        raise ConfigError([Problem(shown, None, None, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ConfigError([Problem(shown, None, None, "", "invalid YAML: nested too deeply")]) from None
    return data, node


def first_alias(root: Node | None) -> Node | None:
    """A node reached twice (an alias, maybe recursive, maybe a 'billion laughs' bomb), or None."""
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return node
        seen.add(id(node))
        if isinstance(node, MappingNode):
            stack += [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            stack += list(node.value)
    return None


def duplicate_keys(path: str, node: Node | None) -> Iterator[Problem]:
    """A key given twice in one mapping: YAML readers silently keep the last one; we refuse."""
    if isinstance(node, MappingNode):
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
            yield from duplicate_keys(path, value)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from duplicate_keys(path, item)


def scalar_text(node: Node | None, key: str, fallback: str) -> str:
    """A top-level scalar exactly as written (`release: 10.30` stays "10.30", not the float 10.3)."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key and isinstance(v, ScalarNode):
                return str(v.value)
    return fallback


def locate(node: Node | None, loc: tuple[str | int, ...], key: bool = False) -> tuple[int | None, int | None]:
    """Line and column (1-based) of the deepest node along `loc` that exists (the key itself if `key`)."""
    found = node
    for index, part in enumerate(loc):
        if isinstance(found, MappingNode):
            want_key = key and index == len(loc) - 1
            nxt = next((k if want_key else v for k, v in found.value if getattr(k, "value", None) == part), None)
        elif isinstance(found, SequenceNode) and isinstance(part, int) and part < len(found.value):
            nxt = found.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        found = nxt
    if found is None:
        return None, None
    return found.start_mark.line + 1, found.start_mark.column + 1
