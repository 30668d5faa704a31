"""The page's insight views in a real headless Chromium against the real server: each drawn from
the JSON in the issue's order, legible at phone width, with screenshots in the test artifacts."""

from __future__ import annotations

import pytest

from tests.support import ARTIFACTS
from tests.support.browser import SEVEN, draw, draw_with_finger

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 60_000
#: The learner's order the issue asks for, as the elements that hold each view.
ORDER = ("pad", "cards", "stability", "activation-maps", "weight-histograms", "filters",
         "pruning", "curves")


@pytest.fixture
def open_page(browser, live_server):
    contexts, errors = [], []

    def open_(**options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(live_server.url + "/")
        page.wait_for_selector("[data-testid=histogram-row] svg")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"script errors on the page: {errors}"


def answer_with_views(page, strokes, finger: bool = False) -> dict:
    """Draw, wait for the /predict answer and for the page to draw its views."""
    with page.expect_response(lambda response: "/predict" in response.url) as info:
        (draw_with_finger if finger else draw)(page, strokes)
    assert "include=activations,stability" in info.value.url
    body = info.value.json()
    page.wait_for_selector("[data-testid=maps-row] img.mosaic")
    page.wait_for_function("() => [...document.querySelectorAll('img')].every(i => i.complete)")
    return body


def check_views(page, body: dict, details: dict) -> None:
    """Every view shows what the JSON says, for every variant."""
    names = list(body["variants"])
    assert set(names) == set(details)
    for name, result in body["variants"].items():
        row = page.locator(f'[data-testid=stability-row][data-view-of="{name}"]')
        if result["collapsed"]:  # at chance: its steadiness means nothing, so it is not ranked
            assert row.inner_text().endswith("not ranked: collapsed")
            assert row.locator(".stability-p").count() == 0
        else:
            shown = row.locator(".stability-p").inner_text()
            assert shown.endswith("%")
            assert abs(float(shown[:-1]) - 100 * result["stability"]["agreement"]) <= 0.5
        maps = page.locator(f'[data-testid=maps-row][data-view-of="{name}"]')
        for layer, view in result["activations"].items():
            figure = maps.locator(f".maps-{layer}")
            height, width, channels = view["shape"]
            columns, gap = view["columns"], view["gap"]
            rows = -(-channels // columns)
            expected = [columns * (width + gap) - gap, rows * (height + gap) - gap]
            assert figure.locator("img").evaluate(
                "i => [i.naturalWidth, i.naturalHeight]") == expected
            assert figure.get_by_test_id("silent").inner_text() == \
                f"{len(view['silent_channels'])} silent"
    # The filter grids are separate requests: wait for every one (a loaded machine answers late).
    page.wait_for_function("() => [...document.querySelectorAll('.filters img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=60_000)
    for name, detail in details.items():
        layers = detail["weight_histogram"].values()
        summed = [sum(counts) for counts in zip(*(layer["counts"] for layer in layers),
                                                strict=True)]
        row = page.locator(f'[data-testid=histogram-row][data-view-of="{name}"]')
        assert row.locator("rect.bin").count() == sum(1 for count in summed if count)
        assert page.locator(f'.filters[data-view-of="{name}"] img').evaluate(
            "i => i.complete && i.naturalWidth") > 0
    assert page.locator("#pruning path.series").count() == len(details)
    order = page.evaluate("""ids => ids.map(id => document.getElementById(id))
        .every((node, i, all) => i === 0 ||
               (all[i - 1].compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING))""",
                          list(ORDER))
    assert order, "the views are not in the issue's order"


def test_every_view_is_drawn_from_the_json_in_the_learners_order(open_page, details):
    page = open_page()
    body = answer_with_views(page, SEVEN)
    check_views(page, body, details)
    page.get_by_role("button", name="conv1", exact=True).click()
    row = page.locator('[data-testid=histogram-row][data-view-of="none"]')
    conv1 = details["none"]["weight_histogram"]["conv1"]["counts"]
    assert row.locator("rect.bin").count() == sum(1 for count in conv1 if count)
    page.get_by_role("button", name="all", exact=True).click()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "insight-desktop.png"), full_page=True)


def test_every_view_fits_a_phone_and_follows_a_finger(open_page, details):
    page = open_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                     device_scale_factor=2)
    page.locator("#pad").scroll_into_view_if_needed()
    body = answer_with_views(page, SEVEN, finger=True)
    check_views(page, body, details)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == 390, widths
    for view in ("stability", "activation-maps", "weight-histograms", "filters", "pruning"):
        box = page.get_by_test_id(view).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, view
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "insight-phone.png"), full_page=True)
