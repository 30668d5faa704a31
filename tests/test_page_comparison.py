"""The page's comparison in a real Chromium at phone width: every verdict in its words, colour
and interval, as the server serves a report built from fabricated exports."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from analysis.comparison import write_comparison
from regserve_contracts import layout
from server.launcher import LOOPBACK
from tests.support import ARTIFACTS
from tests.support.api import override_settings
from tests.support.browser import chromium_browser
from tests.test_comparison import export, right_on, seeds

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}
NONE_SEEDS = [right_on(100), right_on(104), right_on(96)]
#: Per variant: the verdict, its colour, the words and the interval the page must show,
#: typed here (the numbers: 200 test images, differences of 60, 54, 70 images per seed, ...).
EXPECTED = {
    "none": ("baseline", "#333333", "the baseline", None),
    "good": ("better", "#009E73", "better than none (over 3 seeds)",
             "+30.7 points, 95% CI +13.9 to +47.5 over 3 seed pairs, p = 0.047 (Holm)"),
    "bad": ("worse", "#D55E00", "worse than none (over 3 seeds)",
            "-29.7 points, 95% CI -43.0 to -16.3 over 3 seed pairs, p = 0.043 (Holm)"),
    "twin": ("equivalent", "#0072B2", "equivalent to none within ±1.0 points (over 3 seeds)",
             "0.0 points, 95% CI 0.0 to 0.0 over 3 seed pairs, p = 1.0 (Holm)"),
    "noisy": ("inconclusive", "#6b6b6b", "inconclusive against none: a difference under 28.7 "
              "points could not be seen with 3 seeds",
              "+1.7 points, 95% CI -10.8 to +14.1 over 3 seed pairs, p = 1.0 (Holm)"),
    "lone": ("needs seeds", "#6b6b6b", "needs seeds: 1 seed matched with none; a verdict about "
             "the recipes needs 3 (train with --seeds 3)",
             "+25.0 points over one seed pair, no interval"),
}


@pytest.fixture
def page_server(app, tmp_path, monkeypatch):
    """The session's app on a loopback port, reading the comparison of fabricated exports (one
    per verdict) from ``tmp_path``."""
    models = tmp_path / "models"
    seeds(models, "none", NONE_SEEDS)
    seeds(models, "good", [right_on(160), right_on(158), right_on(166)])
    seeds(models, "bad", [right_on(40), right_on(46), right_on(36)])
    seeds(models, "twin", NONE_SEEDS)
    seeds(models, "noisy", [right_on(110), right_on(96), right_on(104)])
    export(models, "lone", 1, right_on(150))
    write_comparison(models, tmp_path / layout.REPORTS_DIR)
    override_settings(monkeypatch, app, models_dir=tmp_path)
    server = make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_every_verdict_is_drawn_in_its_words_colour_and_interval_at_phone_width(page_server):
    with chromium_browser() as browser:
        page = browser.new_page(viewport=PHONE)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # The browser's own favicon probe is not the page's doing (the server has none).
        page.on("console", lambda message: errors.append((message.text, message.location))
                if message.type == "error"
                and not message.location.get("url", "").endswith("/favicon.ico") else None)
        page.goto(page_server + "/")
        page.wait_for_selector("[data-testid=comparison-chart][data-drawn]", timeout=60_000)
        page.wait_for_load_state("networkidle")
        assert page.locator("[data-testid=comparison-rows] > li").count() == len(EXPECTED)
        for name, (verdict, colour, words, interval) in EXPECTED.items():
            item = page.locator(f"[data-testid=comparison-rows] > li[data-variant='{name}']")
            assert item.get_attribute("data-verdict") == verdict
            assert item.get_attribute("data-colour") == colour
            assert item.get_by_test_id("verdict").inner_text() == words
            shown = item.get_by_test_id("interval")
            assert (shown.inner_text() if shown.count() else None) == interval
        lone = page.locator("li[data-variant='lone']")
        assert "about the trained models lone@1 and none@1 only" in lone.inner_text()
        assert "better than none" not in lone.inner_text()
        assert page.locator("li[data-variant='good'] .ci-interval").bounding_box()["width"] > 0
        assert page.locator("[data-testid=comparison]").is_visible()
        # Readable at 390 px: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("[data-testid=comparison]").screenshot(
            path=str(ARTIFACTS / "page_comparison_390.png"))
        page.close()
    assert errors == [], errors
