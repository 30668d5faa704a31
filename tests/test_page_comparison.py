"""The page's comparison in a real Chromium at phone width: intervals and verdicts in words."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server

from analysis.comparison.report import verdict_words
from analysis.reports import build_reports
from regserve_contracts import layout
from server.launcher import LOOPBACK
from tests.support import ARTIFACTS
from tests.support.api import override_settings
from tests.support.browser import chromium_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page_server(app, models_dir, tmp_path, monkeypatch):
    """The session's app (its models already loaded) on a loopback port, reading reports built
    from the session's models (comparison included) from ``tmp_path``."""
    build_reports(models_dir, tmp_path / layout.REPORTS_DIR)
    override_settings(monkeypatch, app, models_dir=tmp_path)
    server = make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        document = json.loads((tmp_path / layout.REPORTS_DIR / layout.COMPARISON_FILE)
                              .read_text())
        yield f"http://{LOOPBACK}:{server.server_port}", document
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_the_comparison_is_drawn_with_each_variants_verdict_at_phone_width(page_server):
    url, document = page_server
    with chromium_browser() as browser:
        page = browser.new_page(viewport=PHONE)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # The browser's own favicon probe is not the page's doing (the server has none).
        page.on("console", lambda message: errors.append((message.text, message.location))
                if message.type == "error"
                and not message.location.get("url", "").endswith("/favicon.ico") else None)
        page.goto(url + "/")
        page.wait_for_selector("[data-testid=comparison-chart][data-drawn]", timeout=60_000)
        page.wait_for_load_state("networkidle")
        rows = page.locator("[data-testid=comparison-rows] > li")
        assert rows.count() == len(document["variants"]) > 1
        for name, row in document["variants"].items():
            item = page.locator(f"[data-testid=comparison-rows] > li[data-variant='{name}']")
            verdict = item.get_by_test_id("verdict").inner_text()
            assert verdict.startswith(verdict_words(name, row, "none")), verdict
            assert f"{100 * row['accuracy']:.1f}%" in item.inner_text()
            assert item.locator(".ci-interval").bounding_box()["width"] > 0
        assert page.locator("[data-testid=comparison]").is_visible()
        assert not page.locator("#comparison-missing").is_visible()
        # Readable at 390 px: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("[data-testid=comparison]").screenshot(
            path=str(ARTIFACTS / "page_comparison_390.png"))
        page.close()
    assert errors == [], errors
