"""The page tells the truth, in Chromium: every chart drawn from the served versions' JSON, no
failed request and no console error, text inside its chart at phone width, collapsed variants,
ties and a dot shown for what they are."""

from __future__ import annotations

import json

import pytest

from tests.support import ARTIFACTS
from tests.support.browser import SEVEN, draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 60_000
#: Every <text> of every chart whose box leaves its <svg>'s box (clipped or overflowing).
OVERFLOWING_TEXT = """() => [...document.querySelectorAll('svg')].flatMap(chart => {
  const box = chart.getBoundingClientRect();
  return [...chart.querySelectorAll('text')].filter(t => {
    const r = t.getBoundingClientRect();
    return r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
           r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
  }).map(t => t.textContent);
})"""


@pytest.fixture
def open_page(browser, live_server):
    """A fresh page; it records failed requests and console errors for the test to check."""
    contexts = []

    def open_(**options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.problems = []
        page.on("console", lambda message: message.type == "error" and page.problems.append(
            f"console: {message.text}"))
        page.on("pageerror", lambda error: page.problems.append(f"script: {error}"))
        page.on("response", lambda response: response.status >= 400 and page.problems.append(
            f"{response.status} {response.url}"))
        page.on("requestfailed", lambda request: page.problems.append(f"failed {request.url}"))
        page.goto(live_server.url + "/")
        page.wait_for_selector("[data-testid=curves-figure] svg")
        return page

    yield open_
    for context in contexts:
        context.close()


def drawn(page, strokes) -> dict:
    """Draw, and wait for the answer and every view drawn from it."""
    with page.expect_response(lambda response: "/predict" in response.url) as info:
        draw(page, strokes)
    body = info.value.json()
    page.wait_for_selector("[data-testid=maps-row] img.mosaic")
    page.wait_for_selector("#pruning svg")
    page.wait_for_load_state("networkidle")
    return body


@pytest.mark.parametrize("width", [1280, 390])
def test_every_chart_is_drawn_in_the_browser_and_nothing_fails(open_page, width):
    page = open_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
    body = drawn(page, SEVEN)
    names = list(body["variants"])
    assert page.locator("[data-testid=histogram-row] svg").count() == len(names)
    assert page.locator("#pruning svg path.series").count() == len(names)
    assert page.locator("[data-testid=curves-figure]").count() == len(names)
    assert page.locator("[data-testid=curves-figure] svg path.series").count() == 4 * len(names)
    assert page.locator("[data-testid=trained-table] tbody tr").count() == len(names)
    # Nothing asks for a report file the trainer may not have written.
    sources = page.eval_on_selector_all("img", "images => images.map(i => i.src)")
    assert not [src for src in sources if "/reports/" in src]
    assert page.problems == []
    assert page.evaluate(OVERFLOWING_TEXT) == []
    axis = page.locator("[data-testid=histogram-row] svg").last.locator("text").all_text_contents()
    assert axis == ["0", "10⁻⁶", "10⁻⁴", "0.01", "1", "|w|, log scale (left bar: exactly 0)"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-truth-{width}.png"), full_page=True)


def test_collapsed_variants_say_so_and_the_vote_leaves_them_out(open_page):
    """The session's models are all at chance: every card says so with its lambda, none is
    counted, and the legend explains every stripe and badge colour."""
    page = open_page()
    body = drawn(page, SEVEN)
    assert all(result["collapsed"] for result in body["variants"].values())
    for name in body["variants"]:
        card = page.locator(f'[data-variant="{name}"]')
        note = card.get_by_test_id("collapsed-note")
        assert note.is_visible() and "no better than chance" in note.inner_text()
        if name != "none":
            assert "Collapsed at lambda " in note.inner_text()
        assert card.get_by_test_id("vote-badge").inner_text() == "not counted: at chance"
    assert page.get_by_test_id("agreement").inner_text().endswith(
        f"No vote: all {len(body['variants'])} variants are at chance.")
    legend = page.get_by_test_id("colour-legend")
    assert legend.is_visible()
    assert legend.locator("[data-testid=family-legend] li").count() == 7
    assert "not counted: at chance" in legend.inner_text()
    assert page.problems == []


def test_a_tie_is_shown_as_a_tie(open_page):
    """Given an answer whose vote is {A: 3, L: 3, D: 2}, the page names no majority."""
    page = open_page()

    def tied(route):
        answer = route.fetch().json()
        for index, result in enumerate(answer["variants"].values()):
            result.update(prediction="AAALLLDD"[index % 8], collapsed=False)
        answer["agreement"] = {"votes": {"A": 3, "L": 3, "D": 2}, "majority": None, "tie": True,
                               "unanimous": False, "counted": 8, "excluded": []}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

    page.route("**/predict*", tied)
    drawn(page, SEVEN)
    text = page.get_by_test_id("agreement").inner_text()
    assert "No majority: ‘A’ and ‘L’ tie with 3 of 8 votes each." in text
    assert "Also: ‘D’ × 2." in text
    badges = page.eval_on_selector_all("[data-variant] [data-testid=vote-badge]",
                                       "badges => badges.map(b => b.textContent)")
    assert sorted(badges) == sorted(["one of the tied answers"] * 6 + ["no majority"] * 2)


def test_a_dot_is_warned_about(open_page):
    page = open_page()
    body = drawn(page, [[(0.5, 0.5), (0.51, 0.51)]])
    assert body["input"]["warning"]["code"] == "too_little_ink"
    warning = page.get_by_test_id("ink-warning")
    assert warning.is_visible() and warning.inner_text().startswith("Too little ink:")
    drawn(page, SEVEN)  # more ink on the same pad: the warning goes
    assert not warning.is_visible()


def test_colours_stay_distinct_for_a_big_sweep(open_page):
    """Seven families, six with seven lambdas each: 43 variants, 43 colours."""
    page = open_page()
    colours = page.evaluate("""async () => {
        const charts = await import('/static/charts.js');
        const entries = [{ name: 'none', penalty: { penalty: 'none', where: 'none', lam: 0 } }];
        for (const penalty of ['l1', 'l2', 'elasticnet'])
          for (const where of ['kernel_bias', 'activity'])
            for (const lam of [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1])
              entries.push({ name: `${penalty}_${where}_${lam}`,
                             penalty: { penalty, where, lam } });
        charts.setPalette(entries);
        return entries.map(e => charts.colourOf(e.name));
    }""")
    assert len(colours) == 43 == len(set(colours))
