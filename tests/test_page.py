"""The drawing page at / in a real headless Chromium, against the real server and models."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from PIL import Image, ImageDraw

from regserve_contracts.labels import LABELS
from tests.support import ARTIFACTS
from tests.support.api import server_message
from tests.support.browser import ELL, SEVEN, draw, draw_with_finger

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def registry(live_server) -> dict:
    """The server's own list of models, which the page must show."""
    return requests.get(f"{live_server.url}/variants", timeout=30).json()


@pytest.fixture
def open_page(browser, live_server):
    """Open the page in a fresh browser context; any script error on it fails the test."""
    contexts, errors = [], []

    def open_(**context_options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900},
                                         **context_options})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(ANSWER_TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(live_server.url + "/")
        page.wait_for_selector("[data-variant]")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"script errors on the page: {errors}"


@pytest.fixture
def page(open_page):
    """The page at desktop size."""
    return open_page()


@pytest.fixture(scope="module")
def upload_png(tmp_path_factory) -> Path:
    """A photo-like upload: a dark 'L' on light paper, larger than the pad."""
    path = tmp_path_factory.mktemp("page") / "letter-L.png"
    image = Image.new("RGB", (400, 300), (236, 232, 220))
    ImageDraw.Draw(image).line([(150, 40), (150, 250), (270, 250)], fill=(30, 30, 60), width=22)
    image.save(path)
    return path


def answered(page, action) -> dict:
    """Run ``action``, wait for the /predict answer it causes and for every card to show it."""
    before = int(page.get_attribute("#cards", "data-answers"))
    with page.expect_response(lambda response: "/predict" in response.url) as info:
        action()
    response = info.value
    body = response.json()
    assert response.status == 200, body
    page.wait_for_function(
        "n => Number(document.getElementById('cards').dataset.answers) > n", arg=before)
    return body


def cards_match(page, body: dict) -> None:
    """Every variant's card shows the character, top 3 and activation layers of ``body``."""
    for name, result in body["variants"].items():
        card = page.locator(f'[data-variant="{name}"]')
        assert card.get_attribute("data-state") == "ready"
        prediction = card.get_by_test_id("prediction").inner_text().strip()
        assert prediction == result["prediction"] and prediction in LABELS
        assert card.locator(".topk li").count() == min(3, len(result["top"]))
        assert card.locator(".act-row").count() == len(result["activation_sparsity"])
        assert "%" in card.get_by_test_id("weight-sparsity").inner_text()


def test_drawing_a_character_answers_on_every_card(page, registry):
    """A '7' drawn with the mouse: every variant's card shows the server's prediction."""
    names = [variant["name"] for variant in registry["variants"]]
    assert page.locator("[data-variant]").count() == len(names) == 8
    for name in names:
        title = page.locator(f'[data-variant="{name}"] h3').inner_text()
        assert title == name
    body = answered(page, lambda: draw(page, SEVEN))
    assert set(body["variants"]) == set(names)
    cards_match(page, body)
    agreement = page.get_by_test_id("agreement").inner_text()
    vote = body["agreement"]
    if vote["majority"] is not None:
        assert f"‘{vote['majority']}’" in agreement and "variants" in agreement
    elif vote["tie"]:
        assert agreement.startswith("No majority")
    else:  # every variant collapsed: nobody votes
        assert f"No vote: all {len(vote['excluded'])} variants are at chance." in agreement
    preview = page.get_by_test_id("input-preview")
    assert preview.is_visible()
    assert preview.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [28, 28]
    assert preview.evaluate("img => getComputedStyle(img).imageRendering") == "pixelated"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-desktop.png"), full_page=True)


def test_uploading_a_file_replaces_the_answers(page, upload_png):
    """After a drawing, a picked file is sent too and every card shows the new answer."""
    answered(page, lambda: draw(page, ELL))
    body = answered(page, lambda: page.get_by_test_id("file-input").set_input_files(upload_png))
    cards_match(page, body)
    assert upload_png.name in page.get_by_test_id("status").inner_text()


def test_a_newer_drawing_wins_over_a_slower_answer(page):
    """While the first drawing's request hangs, a second stroke's answer is the one shown."""
    from playwright.sync_api import Error

    held = []
    page.route("**/predict*", lambda route: held.append(route) if not held else route.continue_())
    draw(page, SEVEN)
    while not held:
        page.wait_for_timeout(50)
    body = answered(page, lambda: draw(page, ELL))
    with contextlib.suppress(Error):  # the page may have aborted it already: that is the point
        held[0].continue_()
    page.wait_for_timeout(1000)
    assert page.get_attribute("#cards", "data-answers") == "1"
    cards_match(page, body)
    assert page.get_by_test_id("error").text_content() == ""


def test_server_errors_are_shown_in_the_alert_area(page, live_server, tmp_path):
    """A text file picked as the image: the server's 400 message appears in role=alert."""
    text = tmp_path / "notes.txt"
    text.write_text("not a picture\n")
    expected = requests.post(f"{live_server.url}/predict", files={"image": text.read_bytes()},
                             timeout=60)
    assert expected.status_code == 400
    page.get_by_test_id("file-input").set_input_files(text)
    alert = page.get_by_role("alert")
    alert.filter(has_text=server_message(expected)).wait_for()
    assert alert.is_visible() and "400" in alert.inner_text()


def test_clear_empties_the_pad_and_the_answers(page):
    """Clear forgets the drawing, the predictions and the preview."""
    answered(page, lambda: draw(page, SEVEN))
    page.get_by_role("button", name="Clear the drawing and the answers").click()
    assert page.locator('[data-variant][data-state="ready"]').count() == 0
    assert not page.get_by_test_id("input-preview").is_visible()
    ink = page.evaluate("""() => {
        const pad = document.getElementById('pad');
        const pixels = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data;
        return pixels.some(value => value < 250);
    }""")
    assert ink is False


def test_offline_data_warning_follows_the_data_source(page, registry):
    """The warning banner shows exactly when the models were trained on the bundled offline set."""
    sources = {variant["data"]["name"]
               for variant in registry["variants"]}
    offline = any(name.lower().startswith("synthetic") for name in sources)
    warning = page.get_by_test_id("data-warning")
    assert warning.is_visible() == offline
    for name in sources:
        assert name in page.get_by_test_id("data-source").inner_text()


def test_the_comparison_shows_only_when_the_trainer_wrote_it(page, live_server, registry):
    """The comparison shows when the server has one, and the training curves are drawn for
    every version from its own history."""
    page.wait_for_load_state("networkidle")
    listed = requests.get(f"{live_server.url}/reports", timeout=30).json()["files"]
    comparison = "comparison.json" in listed
    assert page.get_by_test_id("comparison").is_visible() == comparison
    assert page.locator("#comparison-missing").is_visible() != comparison
    with_history = [v["name"] for v in registry["variants"] if v.get("history")]
    assert page.locator("[data-testid=curves-figure]").count() == len(with_history)


def test_controls_have_accessible_names_and_nothing_is_fetched_elsewhere(open_page, live_server):
    """Buttons, the file input and the pad are named; every request stays on the server."""
    requested: list[str] = []
    page = open_page()
    page.on("request", lambda request: requested.append(request.url))
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("button", name="Clear the drawing and the answers").count() == 1
    assert page.get_by_label("Upload an image of one character").count() == 1
    assert page.get_by_role("img", name="Drawing area").count() == 1
    assert page.locator("#pad").evaluate("pad => getComputedStyle(pad).touchAction") == "none"
    host = urlparse(live_server.url).netloc
    assert requested and all(urlparse(url).netloc == host for url in requested
                             if not url.startswith("data:"))


def test_phone_width_fits_and_a_finger_can_draw(open_page):
    """At 390x844 with touch, the page fits its width and a finger-drawn 'L' gets answers."""
    page = open_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                     device_scale_factor=2)
    page.locator("#pad").scroll_into_view_if_needed()
    body = answered(page, lambda: draw_with_finger(page, ELL))
    cards_match(page, body)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == 390, widths
    assert page.locator("#pad").bounding_box()["width"] <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-phone.png"), full_page=True)
