"""The HTML report in a real browser (Debian's Chromium driven by Playwright): the two lists side by side,
and hovering an asterisk shows the endpoints, as the vendor's page does.

Skipped where Chromium or Playwright is missing, except under CI, where `.ci/run` installs both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner import findings as analysis
from scanner.models import Endpoint, EndpointStatus, Policy, ProbeResult, TlsVersion
from scanner.report import html_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]
PLAYWRIGHT = sync_playwright is not None

MISSING = "Chromium is not installed" if CHROMIUM is None else "playwright is not installed" if not PLAYWRIGHT else None
if MISSING and os.environ.get("CI"):
    raise RuntimeError(f"CI must run the browser test: {MISSING}")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

POLICY = Policy(
    "10.3.0.0",
    (TlsVersion.TLSV1_2,),
    (),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("TLS_RSA_WITH_AES_128_CBC_SHA",),
)


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    endpoints = [
        Endpoint("apns", "APNS", "APNS", "apns.lab.test", 443, ip="127.0.0.1"),
        Endpoint("dep", "DEP", "DEP", "dep.lab.test", 443, ip="127.0.0.2"),
        Endpoint("scep", "<b>SCEP</b>", "SCEP", "scep.lab.test", 8443, ip="127.0.0.3"),
    ]
    gcm128 = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    results = [
        ProbeResult("apns", EndpointStatus.OK, ip="127.0.0.1", accepted_tls12=(gcm128,), negotiated=gcm128),
        ProbeResult("dep", EndpointStatus.OK, ip="127.0.0.2", accepted_tls12=(gcm128,), negotiated=gcm128),
        ProbeResult(
            "scep", EndpointStatus.NO_COMMON_SUITE, ip="127.0.0.3", accepted_tls12=("TLS_RSA_WITH_AES_128_CBC_SHA",)
        ),
    ]
    report = analysis.verify_all_report(endpoints, results, POLICY, datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
    path = tmp_path_factory.mktemp("html") / "verify-all.html"
    path.write_text(html_report.render(report), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser_page(page_file: Path) -> Iterator[Any]:
    assert sync_playwright is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: errors.append(f"request {r.url}") if not r.url.startswith("file:") else None)
        page.goto(page_file.as_uri())
        yield page
        assert errors == []  # self-contained: no console errors, no requests beyond the file itself
        browser.close()


def test_lists_side_by_side(browser_page: Any) -> None:
    disabled = browser_page.locator("#disabled").bounding_box()
    selected = browser_page.locator("#selected").bounding_box()
    assert disabled["x"] + disabled["width"] <= selected["x"]
    assert abs(disabled["y"] - selected["y"]) < 2


def test_hover_on_an_asterisk_lists_the_endpoints(browser_page: Any) -> None:
    row = browser_page.locator('#selected li[data-suite="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]')
    tip = row.locator(".tip")
    assert not tip.is_visible()
    row.locator(".star").hover()
    assert tip.is_visible()
    assert tip.inner_text() == (
        "2 endpoints have negotiated this cipher since 2026-11-26 09:30 UTC · "
        "Endpoints: apns.lab.test/127.0.0.1:443 dep.lab.test/127.0.0.2:443"
    )


def test_required_disabled_suite_is_starred(browser_page: Any) -> None:
    row = browser_page.locator('#disabled li[data-suite="TLS_RSA_WITH_AES_128_CBC_SHA"]')
    row.locator(".star").hover()
    assert "scep.lab.test/127.0.0.3:8443" in row.locator(".tip").inner_text()
    unused = browser_page.locator('#selected li[data-suite="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] .star')
    assert unused.count() == 0


def test_outside_text_is_shown_not_interpreted(browser_page: Any) -> None:
    assert browser_page.locator("#ep-scep").inner_text().count("<b>SCEP</b>") == 1
