"""Both HTML reports (Verify All and impact) in a real browser (Debian's Chromium driven by Playwright), at a wide
screen, a tablet and a phone width, in dark mode and in print: what to do comes first, nothing scrolls the page
sideways, no badge or suite name breaks inside a word, the endpoints table sorts and filters, the asterisks'
details open on click and from the keyboard, and the page makes no request and logs no error.

The reports are made by the real analysis (scanner.findings, scanner.impact) from probe results of a site with
three endpoints that two suite moves reconnect, one that no move does, one unreachable, long suite names, a suite
whose Java and IANA names differ, and markup in a name. Screenshots go to $TLSVERIFY_SCREENSHOTS (else the test's
temporary folder).

Skipped where Chromium or Playwright is missing, except under CI, where `.ci/run` installs both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scanner import findings as analysis
from scanner.clients import negotiate
from scanner.config import load_releases
from scanner.findings import UNPROBED
from scanner.impact import ImpactReport, ImpactStatus, impact, with_verification
from scanner.models import (
    Certificate,
    Change,
    ChangeKind,
    Drift,
    Endpoint,
    EndpointStatus,
    HistoryPoint,
    Policy,
    ProbeResult,
    TlsVersion,
    VerifyAllReport,
)
from scanner.report import html_report, impact_report

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

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
ECDSA256 = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
CHACHA = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
GCM256, GCM128 = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
DHE256 = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"
RSA256, RSA128 = "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"
ECBC128 = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
ECBC384 = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"
TRIPLE = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"  # Java: SSL_RSA_WITH_3DES_EDE_CBC_SHA
ECDHE_TRIPLE = "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"  # in neither list, and release 10.3.0.0 does not ship it
POLICY = Policy(
    "10.3.0.0",
    (TlsVersion.TLSV1_2,),
    (),
    (ECDSA256, GCM256, CHACHA, GCM128, DHE256),
    (RSA256, RSA128, ECBC128, TRIPLE),
)
WIDTHS = (1400, 800, 390)
RELEASE = load_releases().get("10.3.0.0")
assert RELEASE is not None
SHIPPED = RELEASE.available


def _endpoint(endpoint_id: str, name: str, category: str, host: str, port: int, n: int) -> Endpoint:
    return Endpoint(endpoint_id, name, category, host, port, ip=f"127.0.0.{n}")


ENDPOINTS = [
    _endpoint("apns", "APNS", "Apple", "api.push.apple.lab.test", 443, 1),
    _endpoint("connector", "Connector", "Connector", "connector.corp.lab.test", 443, 2),
    _endpoint("dep", "Apple enrollment", "Apple", "mdmenrollment.apple.lab.test", 443, 3),
    _endpoint("gateway", "Gateway", "Gateway", "appgateway-eu-west-1.mobileiron-cloud.lab.test", 8443, 4),
    _endpoint("ldaps", "LDAPS", "Directory", "ldap.corp.lab.test", 636, 5),
    _endpoint("scep", "<b>SCEP</b>", "Certificates", "scep.corp.lab.test", 8443, 6),
    _endpoint("sentry", "Sentry", "Sentry", "sentry.corp.lab.test", 9090, 7),
    _endpoint("smtps", "SMTPS relay", "Mail", "relay.corp.lab.test", 465, 8),
]


def _ok(
    endpoint_id: str, accepted: tuple[str, ...], server_preference: bool, connections: int, **extra: Any
) -> ProbeResult:
    n = next(i for i, e in enumerate(ENDPOINTS, start=1) if e.id == endpoint_id)
    return ProbeResult(
        endpoint_id,
        EndpointStatus.OK,
        ip=f"127.0.0.{n}",
        tls_versions=(TlsVersion.TLSV1_2, TlsVersion.TLSV1_3),
        accepted_tls12=accepted,
        server_preference=server_preference,
        negotiated=negotiate(POLICY, accepted, server_preference),
        connections=connections,
        duration_s=0.2,
        **extra,
    )


def _failing(endpoint_id: str, accepted: tuple[str, ...], connections: int) -> ProbeResult:
    n = next(i for i, e in enumerate(ENDPOINTS, start=1) if e.id == endpoint_id)
    return ProbeResult(
        endpoint_id,
        EndpointStatus.NO_COMMON_SUITE,
        reason="no suite in common with the policy's Selected list",
        ip=f"127.0.0.{n}",
        tls_versions=(TlsVersion.TLSV1_2,),
        accepted_tls12=accepted,
        server_preference=False,
        connections=connections,
        duration_s=0.3,
    )


def _certificate(host: str, days_left: int) -> Certificate:
    return Certificate(
        f"CN={host}",
        "CN=Lab CA",
        (host,),
        "RSA",
        2048,
        "sha256WithRSAEncryption",
        NOW - timedelta(days=300),
        NOW + timedelta(days=days_left),
        "ab" * 32,
        2,
        "system",
    )


RESULTS = [
    _ok("apns", (GCM256, GCM128), False, 12, certificate=_certificate("api.push.apple.lab.test", 12)),
    _failing("connector", (ECDHE_TRIPLE, TRIPLE), 14),
    _ok("dep", (GCM128, RSA128, GCM256), True, 11),
    _ok("gateway", (CHACHA, ECDSA256), True, 10),
    ProbeResult(
        "ldaps",
        EndpointStatus.NO_TLS12,
        reason="the server speaks TLSv1.0, TLSv1.1 only",
        ip="127.0.0.5",
        tls_versions=(TlsVersion.TLSV1_0, TlsVersion.TLSV1_1),
        connections=4,
    ),
    _failing("scep", (RSA256, RSA128), 9),
    ProbeResult("sentry", EndpointStatus.UNREACHABLE, reason="connection refused", ip="127.0.0.7", connections=1),
    _failing("smtps", (ECBC128, RSA128, ECBC384), 13),
]


def verify_all_report() -> VerifyAllReport:
    """The site's Verify All run, read by the real analysis; with a comparison to an earlier run."""
    report = analysis.verify_all_report(ENDPOINTS, RESULTS, POLICY, NOW, legacy={TRIPLE})
    drift = Drift(3, (Change("smtps", ChangeKind.STATUS, "ok", "no_common_suite"),))
    return replace(report, drift=drift, run_id=4)


HISTORY = [
    HistoryPoint(
        run, NOW - timedelta(days=4 - run), "10.3.0.0", 6 if run < 4 else 4, 2 if run < 4 else 4, run - 1, True, False
    )
    for run in range(1, 5)
]


def impact_of_dropping_tls_rsa() -> ImpactReport:
    """What moving the TLS_RSA_* suites from Selected to Disabled does to the same site, as `impact` predicts it,
    with a real handshake's answer attached for two endpoints."""
    before = Policy("10.3.0.0", (TlsVersion.TLSV1_2,), (), (ECDSA256, GCM256, GCM128, RSA256, RSA128), (ECBC128,))
    after = Policy("10.3.0.0", (TlsVersion.TLSV1_2,), (), (ECDSA256, GCM256, CHACHA, GCM128), (RSA256, RSA128, ECBC128))
    by_id = {r.endpoint_id: r for r in RESULTS}
    scanned = [(e, by_id[e.id]) for e in ENDPOINTS]
    report = impact(scanned, before, after, load_releases(), "moving TLS_RSA_* to Disabled", "2026-11-26 09:30 UTC")
    checked = {
        "scep": ProbeResult("scep", EndpointStatus.NO_COMMON_SUITE),
        "dep": ProbeResult("dep", EndpointStatus.OK, negotiated=GCM128),
    }
    rows = tuple(
        with_verification(r, checked[r.endpoint.id]) if r.endpoint.id in checked else r for r in report.endpoints
    )
    return replace(report, endpoints=rows)


# --- the browser ------------------------------------------------------------------------------------------


@dataclass
class Opened:
    """A page in its own browser context, with what it logged and requested."""

    page: Any
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def js(self, code: str, arg: object = None) -> Any:
        return self.page.evaluate(code, arg)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("html")
    pages = {
        "verify-all": html_report.render(verify_all_report(), HISTORY, SHIPPED),
        "impact": impact_report.render_html(impact_of_dropping_tls_rsa(), NOW),
    }
    for name, text in pages.items():
        (folder / f"{name}.html").write_text(text, encoding="utf-8")
    return {name: folder / f"{name}.html" for name in pages}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert sync_playwright is not None
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Any, files: dict[str, Path]) -> Iterator[Callable[..., Opened]]:
    """Opens a report at a width (and colour scheme); at the end, every page opened must have logged no error
    and requested nothing but its own file."""
    opened: list[tuple[Any, Opened]] = []

    def go(name: str | Path, width: int, color_scheme: str = "light") -> Opened:
        context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=color_scheme)
        page = context.new_page()
        view = Opened(page, (files[name] if isinstance(name, str) else name).as_uri())
        page.on("console", lambda m: view.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: view.errors.append(f"page error: {e}"))
        page.on("request", lambda r: view.requests.append(r.url))
        page.goto(view.url)
        opened.append((context, view))
        return view

    yield go
    for context, view in opened:
        context.close()
        assert view.errors == []
        assert view.requests == [view.url]  # self-contained: the file itself, nothing else


def visible_ids(view: Opened, table: str) -> list[str]:
    return list(
        view.js(f"[...document.querySelectorAll('#{table} tbody tr')].filter(r => !r.hidden).map(r => r.id.slice(3))")
    )


# --- what comes first ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1400, 390])
def test_verify_all_leads_with_the_fewest_moves(open_page: Callable[..., Opened], width: int) -> None:
    view = open_page("verify-all", width)
    first = view.js("document.querySelector('main').firstElementChild.id")
    assert first == "moves"
    sections = view.js("[...document.querySelectorAll('main > section')].map(s => s.id)")
    assert sections[:5] == ["moves", "failing", "lists", "required", "unused"]
    assert sections[-2:] == ["endpoints", "grid"]
    text = " ".join(view.page.locator("#moves").inner_text().split())
    assert "4 of 8 endpoints fail under the policy, and 1 could not be probed." in text
    assert "Move these 2 suites to Selected — reconnects connector, scep, smtps:" in text
    moved = view.js("[...document.querySelectorAll('#move-list > li')].map(li => li.dataset.suite)")
    assert moved == [RSA128, TRIPLE]  # two suites reconnect three endpoints; strongest first
    assert "SSL_RSA_WITH_3DES_EDE_CBC_SHA" in text and "IANA TLS_RSA_WITH_3DES_EDE_CBC_SHA" in text  # both spellings
    assert "Moving suites does not reconnect ldaps:" in text and "does not speak TLS 1.2" in text
    assert "Could not probe: sentry — a network problem, not the policy." in text
    assert "Disabled suites required" not in view.page.locator("main").inner_text()  # the overstated headline
    # above everything else on the page, too
    tops = view.js("[...document.querySelectorAll('main > section')].map(s => s.getBoundingClientRect().top)")
    assert tops[0] == min(tops)


@pytest.mark.parametrize("width", [1400, 390])
def test_impact_leads_with_its_verdict_and_the_fix(open_page: Callable[..., Opened], width: int) -> None:
    view = open_page("impact", width)
    assert view.js("document.querySelector('main').firstElementChild.id") == "moves"
    text = " ".join(view.page.locator("#moves").inner_text().split())
    assert "The change breaks 2 endpoints: scep, smtps." in text
    assert "Move this suite to the proposed Selected list — reconnects scep, smtps:" in text
    assert view.js("[...document.querySelectorAll('#move-list > li')].map(li => li.dataset.suite)") == [RSA128]
    assert "Moving suites does not reconnect connector, ldaps:" in text
    assert "does not ship (TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, SSL_RSA_WITH_3DES_EDE_CBC_SHA)" in text
    assert "Not known: sentry" in text


def test_nothing_to_move_when_everything_connects(open_page: Callable[..., Opened], tmp_path: Path) -> None:
    fine = [e for e in ENDPOINTS if e.id in ("apns", "dep", "gateway")]
    report = analysis.verify_all_report(fine, RESULTS, POLICY, NOW)
    path = tmp_path / "fine.html"
    path.write_text(html_report.render(report), encoding="utf-8")
    view = open_page(path, 1400)
    assert " ".join(view.page.locator("#moves").inner_text().split()).startswith(
        "What to do Every endpoint connects; nothing to move."
    )


# --- layout: no sideways scroll, no word broken -------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["verify-all", "impact"])
def test_the_page_never_scrolls_sideways(open_page: Callable[..., Opened], name: str, width: int) -> None:
    view = open_page(name, width)
    assert view.js("document.scrollingElement.scrollWidth") <= view.js("window.innerWidth")
    assert view.js("document.scrollingElement.scrollWidth") == view.js("document.scrollingElement.clientWidth")


# Every badge's text on one line; every suite name broken only where a <wbr> follows an underscore: the name is
# split into text nodes there, and no text node may run over two lines. Returns what it measured.
BREAKS = """() => {
  const lines = node => { const r = document.createRange(); r.selectNodeContents(node);
                          return [...r.getClientRects()].filter(q => q.width > 0 && q.height > 0).length; };
  const shown = el => el.getClientRects().length > 0;
  const badges = [...document.querySelectorAll('.badge')].filter(shown);
  const names = [...document.querySelectorAll('.sn')].filter(shown);
  const brokenBadges = badges.filter(b => lines(b) !== 1).map(b => b.textContent);
  const brokenNames = [], wrapped = [], unsplit = [];
  for (const n of names) {
    const parts = [...n.childNodes].filter(c => c.nodeType === Node.TEXT_NODE);
    if (parts.slice(0, -1).some(p => !p.textContent.endsWith('_'))) unsplit.push(n.textContent);
    if (parts.some(p => lines(p) > 1)) brokenNames.push(n.textContent);
    const tops = new Set(parts.map(p => { const r = document.createRange(); r.selectNodeContents(p);
                                          return Math.round(r.getBoundingClientRect().top); }));
    if (tops.size > 1) wrapped.push(n.textContent);
  }
  return {badges: badges.length, names: names.length, brokenBadges, brokenNames, wrapped, unsplit};
}"""


@pytest.mark.parametrize("width", [1400, 390])
@pytest.mark.parametrize("name", ["verify-all", "impact"])
def test_no_badge_or_suite_name_breaks_inside_a_word(open_page: Callable[..., Opened], name: str, width: int) -> None:
    view = open_page(name, width)
    found = view.js(BREAKS)
    assert found["badges"] >= 8 and found["names"] >= 10  # measured, not vacuous
    assert found["brokenBadges"] == []
    assert found["brokenNames"] == []
    assert found["unsplit"] == []
    if width == 390:
        assert found["wrapped"]  # long names do wrap on a phone, at underscores only


def test_the_lists_stack_where_there_is_no_room_for_both(open_page: Callable[..., Opened]) -> None:
    wide = open_page("verify-all", 1400)
    disabled, selected = (wide.page.locator(f"#{i}").bounding_box() for i in ("disabled", "selected"))
    assert disabled["x"] + disabled["width"] <= selected["x"] and abs(disabled["y"] - selected["y"]) < 2
    tablet = open_page("verify-all", 800)
    disabled, selected = (tablet.page.locator(f"#{i}").bounding_box() for i in ("disabled", "selected"))
    assert selected["y"] >= disabled["y"] + disabled["height"]  # stacked, Selected whole below Disabled
    assert selected["x"] >= 0 and selected["x"] + selected["width"] <= tablet.js("window.innerWidth")
    assert tablet.js(
        "(() => { const s = document.getElementById('selected'); return s.scrollWidth <= s.clientWidth; })()"
    )


def test_the_grid_scrolls_in_its_own_box_and_says_what_each_cell_is(open_page: Callable[..., Opened]) -> None:
    view = open_page("verify-all", 390)
    box = view.js(
        "(() => { const b = document.getElementById('grid-table').parentElement;"
        " return [getComputedStyle(b).overflowX, b.scrollWidth > b.clientWidth]; })()"
    )
    assert box == ["auto", True]
    cells = view.js(
        """(() => { const heads = [...document.querySelectorAll('#grid-table thead tr:last-child th.col')]
                                 .map(th => th.querySelector('.suite').dataset.suite);
             const out = {};
             for (const row of document.querySelectorAll('#grid-table tbody tr')) {
               const id = row.querySelector('th').firstChild.textContent.trim();
               out[id] = Object.fromEntries([...row.querySelectorAll('td')].map((td, i) =>
                                             [heads[i], td.textContent.trim()]));
             }
             return out; })()"""
    )
    assert cells["apns"][GCM256] == "negnegotiated" and cells["apns"][GCM128] == "accaccepted"
    assert cells["dep"][GCM128].startswith("neg") and cells["dep"][RSA128] == "accaccepted"  # the server's order
    assert cells["scep"][RSA128].startswith("req") and cells["scep"][RSA256].startswith("req")
    assert cells["connector"][TRIPLE].startswith("req") and cells["connector"][GCM128] == ""
    assert cells["connector"][ECDHE_TRIPLE] == "accaccepted"  # not in the release: no move can make it Selected
    groups = view.js("[...document.querySelectorAll('#grid-table thead th[scope=colgroup]')].map(th => th.textContent)")
    assert groups == ["Selected", "Disabled", "In neither list", "Not in release 10.3.0.0"]
    assert cells["sentry"] == {ECDSA256: "connection refused"}  # one cell across the row: nothing known
    moved = view.js("[...document.querySelectorAll('#grid-table th.mv-col .suite')].map(s => s.dataset.suite)")
    assert moved == [RSA128, TRIPLE]
    assert view.page.locator("#grid dl.legend").inner_text().count("\n") >= 5


# --- interaction ----------------------------------------------------------------------------------------------


def _sort(view: Opened, label: str) -> list[str | None]:
    """Clicks a column's header; the aria-sort of every header after it."""
    view.page.locator("#endpoints-table thead button.sort", has_text=label).click()
    states = view.js(
        "[...document.querySelectorAll('#endpoints-table thead th')].map(th => th.getAttribute('aria-sort'))"
    )
    return [None if s is None else str(s) for s in states]


@pytest.mark.parametrize("width", [1400, 390])
def test_verify_all_endpoints_sort_and_filter(open_page: Callable[..., Opened], width: int) -> None:
    view = open_page("verify-all", width)
    ids = sorted(e.id for e in ENDPOINTS)
    assert visible_ids(view, "endpoints-table") == ids
    connections = {r.endpoint_id: r.connections for r in RESULTS}
    states = _sort(view, "Connections")
    assert states == [None] * 8 + ["ascending"]
    assert visible_ids(view, "endpoints-table") == sorted(ids, key=lambda i: (connections[i], i))
    assert _sort(view, "Connections")[8] == "descending"
    assert visible_ids(view, "endpoints-table") == sorted(ids, key=lambda i: (-connections[i], i))
    assert _sort(view, "Endpoint")[0] == "ascending" and visible_ids(view, "endpoints-table") == ids

    report = verify_all_report()
    failing = [f.endpoint.id for f in report.findings if not f.connects and f.probe.status not in UNPROBED]
    filters = view.page.locator("[data-filters=endpoints-table]")
    filters.locator("select").select_option("fail")
    assert visible_ids(view, "endpoints-table") == failing == ["connector", "ldaps", "scep", "smtps"]
    assert filters.locator(".count").inner_text() == "4 of 8 shown"
    filters.locator("select").select_option("unprobed")
    assert visible_ids(view, "endpoints-table") == ["sentry"]
    filters.locator("select").select_option("")
    filters.locator("input").fill("apple")  # host names
    assert visible_ids(view, "endpoints-table") == ["apns", "dep"]
    filters.locator("input").fill("3des")  # a suite an endpoint accepts, by either spelling
    assert visible_ids(view, "endpoints-table") == ["connector"]
    filters.locator("select").select_option("ok")
    assert visible_ids(view, "endpoints-table") == []
    assert filters.locator(".count").inner_text() == "0 of 8 shown"
    filters.locator("input").fill("")
    filters.locator("select").select_option("")
    assert visible_ids(view, "endpoints-table") == ids


@pytest.mark.parametrize("width", [1400, 390])
def test_impact_endpoints_sort_and_filter(open_page: Callable[..., Opened], width: int) -> None:
    view = open_page("impact", width)
    rows = {r.endpoint.id: r for r in impact_of_dropping_tls_rsa().endpoints}
    assert visible_ids(view, "impact-table") == sorted(rows)
    filters = view.page.locator("[data-filters=impact-table]")
    filters.locator("select").select_option("breaks")
    assert visible_ids(view, "impact-table") == [i for i, r in sorted(rows.items()) if r.status is ImpactStatus.BREAKS]
    filters.locator("select").select_option("fails-after")
    assert visible_ids(view, "impact-table") == ["connector", "ldaps", "scep", "smtps"]
    filters.locator("select").select_option("")
    filters.locator("input").fill("enrollment")
    assert visible_ids(view, "impact-table") == ["dep"]
    filters.locator("input").fill("")
    view.page.locator("#impact-table thead button.sort", has_text="Endpoint").click()
    assert view.js("document.querySelector('#impact-table thead th').getAttribute('aria-sort')") == "descending"
    assert visible_ids(view, "impact-table") == sorted(rows, reverse=True)


def test_hover_on_an_asterisk_lists_the_endpoints(open_page: Callable[..., Opened]) -> None:
    view = open_page("verify-all", 1400)
    row = view.page.locator(f'#selected li[data-suite="{GCM256}"]')
    tip = row.locator(".tip")
    assert not tip.is_visible()
    row.locator(".star").hover()
    assert tip.is_visible()
    assert tip.inner_text() == (
        "1 endpoints have negotiated this cipher since 2026-11-26 09:30 UTC · "
        "Endpoints: api.push.apple.lab.test/127.0.0.1:443"
    )
    needed = view.page.locator(f'#disabled li[data-suite="{RSA128}"]')
    needed.locator(".star").hover()
    assert "scep.corp.lab.test/127.0.0.6:8443" in needed.locator(".tip").inner_text()
    assert view.page.locator(f'#selected li[data-suite="{DHE256}"] .star').count() == 0  # nobody used it


@pytest.mark.parametrize("name", ["verify-all", "impact"])
@pytest.mark.parametrize("width", [1400, 390])
def test_asterisk_details_open_on_click(open_page: Callable[..., Opened], name: str, width: int) -> None:
    view = open_page(name, width)
    star = view.page.locator("#selected button.star").first
    tip = view.page.locator("#" + star.get_attribute("aria-controls"))
    assert star.get_attribute("aria-expanded") == "false" and not tip.is_visible()
    star.click()
    view.page.mouse.move(1, 1)  # away: no hover
    assert star.get_attribute("aria-expanded") == "true" and tip.is_visible() and tip.inner_text().strip()
    assert view.js("document.scrollingElement.scrollWidth") <= width  # an open tip stays on the page
    star.click()
    view.page.mouse.move(1, 1)
    view.page.locator("h1").click()  # and no focus left on it
    assert star.get_attribute("aria-expanded") == "false" and not tip.is_visible()


@pytest.mark.parametrize("name", ["verify-all", "impact"])
@pytest.mark.parametrize("width", [1400, 390])
def test_asterisk_details_open_from_the_keyboard(open_page: Callable[..., Opened], name: str, width: int) -> None:
    view = open_page(name, width)
    for _ in range(200):  # Tab through the page to the first asterisk
        view.page.keyboard.press("Tab")
        if view.js("document.activeElement.classList.contains('star')"):
            break
    else:
        pytest.fail("no asterisk reachable with Tab")
    tip_id = view.js("document.activeElement.getAttribute('aria-controls')")
    tip = view.page.locator("#" + tip_id)
    assert tip.is_visible() and tip.inner_text().strip()  # shown on keyboard focus
    view.page.keyboard.press("Enter")
    assert view.js("document.activeElement.getAttribute('aria-expanded')") == "true"
    view.page.keyboard.press("Tab")  # focus moves on; the opened details stay
    assert tip.is_visible()
    view.page.keyboard.press("Shift+Tab")
    view.page.keyboard.press("Escape")
    assert view.js(f"document.querySelector('[aria-controls={tip_id}]').getAttribute('aria-expanded')") == "false"


# --- print and dark mode -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["verify-all", "impact"])
def test_print_shows_every_detail_and_no_controls(open_page: Callable[..., Opened], name: str) -> None:
    view = open_page(name, 1400)
    tips = view.page.locator(".tip")
    assert tips.count() >= 2 and not any(tips.nth(i).is_visible() for i in range(tips.count()))
    view.page.emulate_media(media="print")
    assert all(tips.nth(i).is_visible() for i in range(tips.count()))
    inside = view.page.locator("details:not([open]) > :not(summary)")
    if name == "verify-all":
        assert inside.count() >= 5
    assert all(inside.nth(i).is_visible() for i in range(inside.count()))
    assert not view.page.locator(".controls").first.is_visible()
    assert view.js("getComputedStyle(document.querySelector('header.page')).backgroundColor") == "rgba(0, 0, 0, 0)"


def _luminance(css: str) -> float:
    red, green, blue = (int(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


@pytest.mark.parametrize("name", ["verify-all", "impact"])
def test_dark_mode_is_dark_and_light_mode_light(open_page: Callable[..., Opened], name: str) -> None:
    style = "(() => { const s = getComputedStyle(document.body); return [s.backgroundColor, s.color]; })()"
    dark = open_page(name, 1400, color_scheme="dark")
    background, text = dark.js(style)
    assert _luminance(background) < 0.15 and _luminance(text) > 0.8
    table = dark.js("getComputedStyle(document.querySelector('th')).backgroundColor")
    assert _luminance(table) < 0.2
    light = open_page(name, 1400)
    background, text = light.js(style)
    assert _luminance(background) > 0.9 and _luminance(text) < 0.2


# --- content ----------------------------------------------------------------------------------------------------


def test_outside_text_is_shown_not_interpreted(open_page: Callable[..., Opened]) -> None:
    view = open_page("verify-all", 1400)
    assert view.page.locator("#ep-scep").inner_text().count("<b>SCEP</b>") == 1
    assert view.page.locator("#ep-scep b b").count() == 0


@pytest.mark.parametrize("name", ["verify-all", "impact"])
def test_the_page_may_load_nothing_and_run_only_its_own_script(browser: Any, files: dict[str, Path], name: str) -> None:
    """The Content-Security-Policy holds: its own script runs (the tables sort), while anything else a page might
    be made to load or run (an image from a server, a second inline script) is refused by the browser."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(files[name].as_uri())
    with page.expect_event("requestfailed") as failed:
        refused = page.evaluate(
            """() => new Promise(done => {
                const seen = [];
                document.addEventListener("securitypolicyviolation", e => {
                    seen.push(e.violatedDirective);
                    if (seen.length === 2) done(seen.sort());
                });
                const image = document.createElement("img");
                image.src = "http://127.0.0.1:9/leak.png";
                document.body.appendChild(image);
                const script = document.createElement("script");
                script.textContent = "window.injected = true";
                document.body.appendChild(script);
            })"""
        )
    assert refused == ["img-src", "script-src-elem"]
    assert page.evaluate("window.injected") is None
    assert page.locator("th[aria-sort], th button").count() > 0  # the page's own script ran and set up sorting
    assert (failed.value.url, failed.value.failure) == ("http://127.0.0.1:9/leak.png", "csp")  # never sent
    context.close()


def test_screenshots(open_page: Callable[..., Opened], tmp_path: Path) -> None:
    """The pictures in README.md (docs/screenshots/): the top of each page (what to do, and what follows) at a
    wide screen and at a phone's width, each under 400 KB."""
    folder = Path(os.environ.get("TLSVERIFY_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("verify-all", "impact"):
        for width in (1400, 390):
            view = open_page(name, width)
            height = min(1200, int(view.js("document.scrollingElement.scrollHeight")))
            path = folder / f"{name}-{width}.png"
            view.page.screenshot(
                path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}
            )
            assert 10_000 < path.stat().st_size < 400_000
