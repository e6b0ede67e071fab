"""The machine-readable report: `reports/verify-all.json`."""

from __future__ import annotations

import json

from scanner.document import encode
from scanner.models import VerifyAllReport


def render(report: VerifyAllReport) -> str:
    """The JSON document for a run, stable key order, UTF-8 friendly."""
    return json.dumps(encode(report), indent=2, ensure_ascii=False) + "\n"
