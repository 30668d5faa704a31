"""The page's comparison in a real Chromium at phone width: intervals and verdicts in words."""

from __future__ import annotations

import json

import pytest

from regserve_contracts import layout
from server import launcher
from tests.support import ARTIFACTS
from tests.support.browser import chromium_browser
from tests.support.models import copy_models
from trainer.comparison.report import verdict_words
from trainer.reports import build_reports

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOWN = ["none", "l1_kernel_bias", "l2_activity"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def comparison_server(models_dir, tmp_path_factory):
    """Three of the session's variants with their reports (comparison included), on gunicorn."""
    folder = tmp_path_factory.mktemp("page_comparison")
    models = copy_models(models_dir, folder / "models", SHOWN)
    build_reports(models)
    with launcher.start(folder / "server.log", models_dir=models, timeout=300) as server:
        yield server, json.loads((models / layout.REPORTS_DIR / layout.COMPARISON_FILE)
                                 .read_text())


def test_the_comparison_is_drawn_with_each_variants_verdict_at_phone_width(comparison_server):
    server, document = comparison_server
    with chromium_browser() as browser:
        page = browser.new_page(viewport=PHONE)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # The browser's own favicon probe is not the page's doing (the server has none).
        page.on("console", lambda message: errors.append((message.text, message.location))
                if message.type == "error"
                and not message.location.get("url", "").endswith("/favicon.ico") else None)
        page.goto(server.url + "/")
        page.wait_for_selector("[data-testid=comparison-chart][data-drawn]", timeout=60_000)
        page.wait_for_load_state("networkidle")
        rows = page.locator("[data-testid=comparison-rows] > li")
        assert rows.count() == len(document["variants"]) == len(SHOWN)
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
