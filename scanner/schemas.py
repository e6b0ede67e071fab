"""The JSON Schemas (draft 2020-12) of the documents tlsverify writes and the files it reads, shipped in
`data/schemas/` for other tools (`tlsverify schema NAME` prints one).

The documents' schemas (verify-all, impact) are written by hand beside the codec that writes them; the input
files' schemas are generated from their pydantic models (`scanner/config/schemas.py`): `python -m
scanner.schemas` writes them again, and a test checks that the shipped files are exactly what the installed
pydantic generates. Reading a schema needs neither pydantic nor jsonschema.
"""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE = "https://tlsverify.invalid/schemas/"
"""The schemas' `$id`s live under this; `.invalid` never resolves, so nothing is ever fetched from it."""

_FOLDER = "data/schemas"


@dataclass(frozen=True)
class Schema:
    """One shipped schema."""

    name: str
    """What `tlsverify schema NAME` takes."""
    file: str
    """Its file under `data/schemas/`."""
    describes: str
    """The file it describes, for the list."""
    title: str
    tag: str | None = None
    """The `schema` value of the document it describes (outputs only)."""
    model: str | None = None
    """The pydantic model in `scanner.config.schemas` it is generated from (inputs only); None: by hand."""

    @property
    def id(self) -> str:
        return BASE + self.file


SCHEMAS: tuple[Schema, ...] = (
    Schema(
        "verify-all",
        "verify-all-1.json",
        "reports/verify-all.json, verify-all --format json",
        "tlsverify Verify All document (tlsverify/verify-all/1)",
        tag="tlsverify/verify-all/1",
    ),
    Schema(
        "impact",
        "impact-1.json",
        "reports/impact.json",
        "tlsverify impact document (tlsverify/impact/1)",
        tag="tlsverify/impact/1",
    ),
    Schema("endpoints", "endpoints.json", "endpoints.yaml", "tlsverify endpoints file", model="EndpointsFile"),
    Schema("policy", "policy.json", "policy.yaml", "tlsverify policy file", model="PolicyFile"),
    Schema(
        "release",
        "release.json",
        "release files (scanner/data/releases/*.yaml, --release-dir DIR)",
        "tlsverify release file",
        model="ReleaseFile",
    ),
)


def names() -> list[str]:
    return [s.name for s in SCHEMAS]


def find(name: str) -> Schema | None:
    return next((s for s in SCHEMAS if s.name == name), None)


def by_tag(tag: str) -> Schema | None:
    """The schema of documents whose `schema` value is `tag`."""
    return next((s for s in SCHEMAS if s.tag is not None and s.tag == tag), None)


def suggest(name: str) -> list[str]:
    """The schema names closest to a misspelled one."""
    return difflib.get_close_matches(name.strip().lower(), names(), n=2, cutoff=0.5)


def text(schema: Schema) -> str:
    """The shipped schema file's text."""
    return resources.files("scanner").joinpath(f"{_FOLDER}/{schema.file}").read_text(encoding="utf-8")


def load(schema: Schema) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(text(schema))
    return loaded


def generated(schema: Schema) -> str:
    """The text of an input file's schema as its pydantic model gives it today (imports pydantic)."""
    if schema.model is None:
        raise ValueError(f"the {schema.name} schema is written by hand, not generated")
    from scanner.config import schemas as models

    body = getattr(models, schema.model).model_json_schema()
    body.pop("title", None)
    head = {"$schema": DIALECT, "$id": schema.id, "title": schema.title, "description": body.pop("description")}
    return as_text({**head, **body})


def as_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    """Write the input files' schemas again from their models (after changing a model or upgrading pydantic)."""
    folder = Path(__file__).with_name("data") / "schemas"
    for schema in SCHEMAS:
        if schema.model is None:
            continue
        path = folder / schema.file
        new = generated(schema)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        path.write_text(new, encoding="utf-8")
        print(f"{path}: {'unchanged' if new == old else 'written'} (from {schema.model})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
