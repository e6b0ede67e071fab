"""Verify All as CSV, one row an endpoint, for a spreadsheet: `tlsverify verify-all --format csv`."""

from __future__ import annotations

import csv
import io

from scanner.models import VerifyAllReport

COLUMNS = (
    "endpoint",
    "name",
    "category",
    "host",
    "port",
    "protocol",
    "status",
    "connects",
    "negotiated",
    "tls_versions",
    "required_disabled",
    "rescue",
    "reason",
)


def render(report: VerifyAllReport) -> str:
    """The latest run's endpoints (IANA suite names; lists separated by spaces), a header row first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for f in report.findings:
        e, p = f.endpoint, f.probe
        writer.writerow(
            (
                e.id,
                e.name,
                e.category,
                e.host,
                e.port,
                e.protocol,
                p.status,
                "yes" if f.connects else "no",
                p.negotiated or "",
                " ".join(p.tls_versions),
                " ".join(f.required_disabled),
                f.rescue or "",
                p.reason or "",
            )
        )
    return out.getvalue()
