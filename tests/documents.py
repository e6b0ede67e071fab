"""The check every test's documents pass: each JSON file a test leaves behind whose `schema` tag is one of
tlsverify's (verify-all.json, impact.json) must match the shipped JSON Schema for that tag, and name every
suite it holds in `suite_codes` with the catalog's code point. `tests/conftest.py` runs it after every test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from scanner import catalog, schemas

TAG_PREFIX = "tlsverify/"


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for the shipped schema `name`, itself checked against the draft 2020-12 metaschema."""
    schema = schemas.find(name)
    assert schema is not None, name
    body = schemas.load(schema)
    Draft202012Validator.check_schema(body)
    return Draft202012Validator(body, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(document: object, name: str) -> list[str]:
    """What in `document` does not match the schema `name`, one line each with where; [] when it matches. An
    error inside a choice (a value or null) is said as its most relevant cause, not as "not valid under any"."""
    causes = [best_match([e]) or e for e in validator(name).iter_errors(document)]
    lines = [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in causes]
    return sorted(lines)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def code_errors(document: dict[str, Any]) -> list[str]:
    """Suites a document names without their code point, or with a wrong one: every string anywhere in it that
    is exactly a suite's IANA name must be in `suite_codes`, and every code there must be the catalog's."""
    codes = document.get("suite_codes")
    if not isinstance(codes, dict):
        return []  # the schema says so
    names = {s for s in _strings({k: v for k, v in document.items() if k != "suite_codes"}) if _is_suite(s)}
    wrong = [f"suite_codes: {name} is missing" for name in sorted(names - set(codes))]
    for name, code in codes.items():
        suite = catalog.find(name)
        if suite is None or suite.code_hex != code:
            wrong.append(
                f"suite_codes: {name}: {code}, the catalog says {suite.code_hex if suite else 'no such suite'}"
            )
    return wrong


def _is_suite(text: str) -> bool:
    suite = catalog.find(text) if text.startswith("TLS_") else None
    return suite is not None and suite.name == text


def problems(document: object) -> list[str]:
    """What is wrong with a document by its own `schema` tag; [] for a valid one and for JSON that is not a
    tlsverify document. An unknown tlsverify tag is itself a problem."""
    if not isinstance(document, dict):
        return []
    tag = document.get("schema")
    if not isinstance(tag, str) or not tag.startswith(TAG_PREFIX):
        return []
    schema = schemas.by_tag(tag)
    if schema is None:
        return [f"schema: no shipped schema for the tag {tag!r}"]
    return schema_errors(document, schema.name) + code_errors(document)


def assert_valid(document: object, name: str) -> None:
    """Fail, saying every problem, unless `document` matches the schema `name` and names its suites' codes."""
    wrong = schema_errors(document, name)
    if not wrong and isinstance(document, dict):
        wrong = code_errors(document)
    assert not wrong, f"not a valid {name} document:\n" + "\n".join(wrong)


class Checked:
    """The JSON files found under some folders, each checked once until it changes (by size, time, inode)."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[int, int, int]] = {}
        self.documents = 0
        """tlsverify documents checked so far."""

    def check(self, roots: Iterable[Path]) -> list[str]:
        """Every problem of the tlsverify documents under `roots` not checked before, as `path: problem`."""
        wrong: list[str] = []
        for root in roots:
            for folder, _, files in os.walk(root):
                for name in files:
                    if name.endswith(".json"):
                        wrong += self._check_file(Path(folder) / name)
        return wrong

    def _check_file(self, path: Path) -> list[str]:
        try:
            stat = path.stat()
            key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            if self._seen.get(path) == key:
                return []
            self._seen[path] = key
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return []  # gone, unreadable or not JSON: not a document tlsverify wrote (its writes are atomic)
        found = problems(document)
        if isinstance(document, dict) and str(document.get("schema", "")).startswith(TAG_PREFIX):
            self.documents += 1
        return [f"{path}: {p}" for p in found]
