"""Run only by tests/test_schemas.py, in a pytest of its own (the file name keeps the suite from collecting it):
a test that passes but leaves a verify-all.json its schema refuses, which the check after every test in
tests/conftest.py must turn into an error."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_schemas import full_document


def test_leaves_a_verify_all_document_the_schema_refuses(tmp_path: Path) -> None:
    broken = full_document()
    del broken["tool"]
    broken["endpoints"][0]["status"] = "fine"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "verify-all.json").write_text(json.dumps(broken))
