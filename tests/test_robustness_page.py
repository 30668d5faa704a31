"""The page's beyond-accuracy section in a real headless Chromium against the real server: drawn
from the JSON after a drawing, at desktop and phone widths, with no script errors."""

from __future__ import annotations

import pytest

from regserve_contracts import corruptions
from tests.support import ARTIFACTS, REPO_ROOT
from tests.support.browser import SEVEN, draw, draw_with_finger

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 60_000
#: Where the section sits in the learner's order: after the per-model views, before training.
ORDER = ("pad", "cards", "stability", "pruning", "corruption-grid", "reliability",
         "corruption-heatmap", "generalization-gap", "curves")


def missing_report(message) -> bool:
    """A 404 of a trainer report (the session's models have no reports/ folder, and the page
    says so in its own words) or of the browser's favicon; any other console error fails."""
    url = message.location.get("url") or ""
    return "404" in message.text and ("/reports/" in url or url.endswith("/favicon.ico"))


@pytest.fixture
def open_page(browser, live_server):
    contexts, errors = [], []

    def open_(**options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(
            f"{message.text} ({message.location.get('url')})") if message.type == "error" and
            not missing_report(message) else None)
        page.goto(live_server.url + "/")
        page.wait_for_selector("[data-testid=reliability] svg")
        page.wait_for_selector("[data-testid=heat]")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"script errors on the page: {errors}"


def drawn(page, finger: bool = False) -> dict:
    with page.expect_response(lambda response: "/predict" in response.url) as info:
        (draw_with_finger if finger else draw)(page, SEVEN)
    assert "corruptions" in info.value.url
    body = info.value.json()
    page.wait_for_selector("[data-testid=reading]")
    page.wait_for_function("() => [...document.querySelectorAll('img.corrupted')]"
                           ".every(i => i.complete && i.naturalWidth === 28)")
    return body


def check_section(page, body: dict, details: dict) -> None:
    """Every part shows what the JSON says, for every variant."""
    assert page.locator("img.corrupted").count() == len(corruptions.NAMES)
    for name, result in body["variants"].items():
        cells = page.locator(f'[data-testid=reading][data-view-of="{name}"]')
        readings = result["corruptions"]["readings"]
        assert cells.all_inner_texts() == [reading["prediction"] for reading in readings]
        kept = page.locator(f'[data-testid=kept][data-view-of="{name}"]').inner_text()
        if result["collapsed"]:  # at chance, what it keeps says nothing: not shown
            assert kept == "–"
        else:
            assert abs(float(kept) - 100 * result["corruptions"]["kept"]) <= 0.5
    for name, detail in details.items():
        figure = page.locator(f'[data-testid=reliability][data-view-of="{name}"]')
        filled = sum(1 for b in detail["calibration"]["bins"] if b["count"])
        assert figure.locator("rect.rel-bin").count() == filled
        assert abs(float(figure.get_by_test_id("ece").inner_text().split()[1].rstrip("%"))
                   - 100 * detail["calibration"]["ece"]) <= 0.005
        heat = page.locator(f'[data-testid=heat][data-view-of="{name}"]')
        shown = heat.all_inner_texts()
        accuracies = detail["robustness"]["corruptions"]
        assert len(shown) == len(accuracies) + 2  # clean, every corruption, mean
        for text, value in zip(shown[1:-1], accuracies.values(), strict=True):
            assert abs(float(text.rstrip("%")) - 100 * value) <= 0.5
        gap = page.locator(f'[data-testid=gap-row][data-view-of="{name}"]').get_by_test_id("gap")
        points = float(gap.inner_text().split()[0].replace("−", "-"))
        assert abs(points - 100 * detail["generalization"]["gap"]) <= 0.05
    first = page.locator("[data-testid=heat]").first
    assert first.get_attribute("data-view-of") == "none"  # the baseline's column comes first
    assert page.locator('[data-testid=mce][data-view-of="none"]').inner_text() == "100"
    order = page.evaluate("""ids => ids.map(id => document.getElementById(id))
        .every((node, i, all) => i === 0 ||
               (all[i - 1].compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING))""",
                          list(ORDER))
    assert order, "the section is not in the learner's order"


def test_the_section_is_drawn_from_the_json_after_a_drawing(open_page, details):
    page = open_page()
    body = drawn(page)
    check_section(page, body, details)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "robustness-desktop.png"), full_page=True)
    section = page.locator("#view-beyond")
    section.screenshot(path=str(ARTIFACTS / "robustness-section.png"))
    if (REPO_ROOT / "docs").is_dir() and __import__("os").environ.get("REGSERVE_UPDATE_DOCS"):
        section.screenshot(path=str(REPO_ROOT / "docs" / "robustness.png"))


def test_the_section_fits_a_phone(open_page, details):
    page = open_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                     device_scale_factor=2)
    page.locator("#pad").scroll_into_view_if_needed()
    body = drawn(page, finger=True)
    check_section(page, body, details)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == 390, widths
    for part in ("corruption-grid", "reliability-diagrams", "corruption-heatmap",
                 "generalization-gap"):
        box = page.get_by_test_id(part).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, part
    for table in ("corruption-grid", "corruption-heatmap"):  # no sideways scrolling inside
        overflow = page.get_by_test_id(table).evaluate("n => n.scrollWidth - n.clientWidth")
        assert overflow <= 0, (table, overflow)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#view-beyond").screenshot(path=str(ARTIFACTS / "robustness-phone.png"))


#: Shown as not collapsed by rewriting its answers in the browser, so a view that marks every
#: variant (the fixture's models are all at chance) fails as surely as one that marks none.
UNMARKED = "none"


def unmark(route) -> None:
    """Pass the server's answer on with ``UNMARKED`` not collapsed (/predict or /variants/x)."""
    response = route.fetch()
    body = response.json()
    target = body["variants"][UNMARKED] if isinstance(body.get("variants"), dict) else body
    target["collapsed"] = False
    route.fulfill(response=response, json=body)


def test_every_view_marks_each_collapsed_variant_as_the_cards_do(browser, live_server, details):
    """Per variant, the reliability diagram, the corruption grid and the heatmap say collapsed
    exactly where /variants does; a collapsed model is never coloured as robust."""
    assert all(detail["collapsed"] is True for detail in details.values())  # the fixture
    expected = {name: name != UNMARKED for name in details}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.route(f"**/variants/{UNMARKED}", unmark)
    page.route("**/predict?**", unmark)
    page.goto(live_server.url + "/")
    page.wait_for_selector("[data-testid=reliability] svg")
    page.wait_for_selector("[data-testid=heat]")
    body = drawn(page)
    assert body["variants"][UNMARKED]["collapsed"] is False
    for name, collapsed in expected.items():
        view = f'[data-view-of="{name}"]'
        figure = page.locator(f"[data-testid=reliability]{view}")
        assert figure.get_attribute("data-collapsed") == str(collapsed).lower(), name
        assert figure.get_by_test_id("collapsed-mark").count() == int(collapsed), name
        readings = page.locator(f"[data-testid=reading]{view}")
        classes = set(readings.evaluate_all("cells => cells.map(c => c.className)"))
        assert (classes == {"collapsed"}) == collapsed and classes, (name, classes)
        kept = page.locator(f"[data-testid=kept]{view}").inner_text()
        assert (kept == "–") == collapsed, (name, kept)
        heat = page.locator(f"[data-testid=heat]{view}")
        painted = heat.evaluate_all("cells => cells.map(c => c.style.background !== '')")
        assert painted == [not collapsed] * len(painted), name
        heads = page.locator(f"th.variant-head{view}")
        assert heads.count() == 2  # the grid's and the heatmap's
        assert heads.evaluate_all("hs => hs.map(h => h.dataset.collapsed)") == \
            [str(collapsed).lower()] * 2, name
    interval = details[UNMARKED]["calibration"]["ece_interval"]
    shown = page.locator(f'[data-testid=reliability][data-view-of="{UNMARKED}"]') \
        .get_by_test_id("ece-interval").inner_text()
    assert f"[{100 * interval['low']:.1f}, {100 * interval['high']:.1f}]" in shown
    context.close()
