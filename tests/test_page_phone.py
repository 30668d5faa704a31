"""The page on a phone (390 px) with a sweep's points and long names loaded, in a real Chromium:
nothing is wider than the screen, what desktop shows is still shown, and a table that scrolls
sideways says so."""

from __future__ import annotations

import shutil
from io import StringIO

import pytest

from server import launcher
from tests.support.browser import ELL, chromium_browser, draw_with_finger
from tests.support.sweep import tiny_npz
from trainer.sweep.__main__ import parse_options
from trainer.sweep.cli import run

pytestmark = [pytest.mark.slow, pytest.mark.browser]
#: Long enough that the picker's option and the baseline's card name outgrow a phone's width.
SWEEP = "a_sweep_name_long_enough_to_push_a_phone_sideways_x"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True,
         "device_scale_factor": 2}


@pytest.fixture(scope="module")
def phone_server(models_dir, tmp_path_factory):
    """The session's registered variants plus a two-point sweep with a long name, on gunicorn."""
    folder = tmp_path_factory.mktemp("page_phone")
    models = folder / "models"
    shutil.copytree(models_dir, models)
    argv = ["--engine", "local", "--penalty", "l1", "--where", "kernel_bias", "--lambdas",
            "1e-5,1e-3", "--name", SWEEP, "--epochs", "1", "--batch-size", "50",
            "--data", str(tiny_npz(folder / "tiny.npz")), "--models-dir", str(models)]
    assert run(parse_options(argv, "sweep"), StringIO(), StringIO()) == 0
    with launcher.start(folder / "server.log", models_dir=models, timeout=300) as server:
        yield server


@pytest.fixture(scope="module")
def phone_page(phone_server):
    """The page at 390 x 844 with touch, sweep loaded, after a finger drew an 'L'."""
    with chromium_browser() as browser:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(phone_server.url + "/")
        page.wait_for_selector("[data-testid=sweeps]:not([hidden])")
        page.wait_for_function("document.querySelectorAll('#cards [data-variant]').length >= 11")
        page.locator("#pad").scroll_into_view_if_needed()
        draw_with_finger(page, ELL)
        page.wait_for_selector("[data-testid=stability-row]")
        page.wait_for_selector("[data-testid=trained-table]")
        yield page
        context.close()
        assert errors == [], errors


def wider_than_the_screen(page) -> list[str]:
    """The elements whose content is wider than their box, outside any sideways scroller."""
    return page.evaluate("""[...document.querySelectorAll('body *')]
        .filter((e) => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0)
        .filter((e) => getComputedStyle(e).overflowX === 'visible')
        .map((e) => `${e.tagName}.${e.className} ${e.scrollWidth} > ${e.clientWidth}`)""")


def test_nothing_is_wider_than_a_phone_with_sweep_points_and_long_names(phone_page):
    """The document does not scroll sideways, and the compare picker fits the screen."""
    widths = phone_page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths == [390, 390], (widths, wider_than_the_screen(phone_page))
    box = phone_page.locator("[data-testid=compare]").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box


def test_the_stability_view_keeps_p_label_on_a_phone(phone_page):
    """Desktop shows p('x') beside each stability bar; the phone shows it too, on a line of its
    own. (The session's models are all at chance and carry no bar, so a row is built here with
    the page's own classes and measured under the page's own style sheet.)"""
    shown = phone_page.evaluate("""() => {
        const row = document.createElement('div');
        row.className = 'stability-row';
        const mean = document.createElement('span');
        mean.className = 'muted stability-mean';
        mean.textContent = "p('L') 83%";
        row.append(mean);
        document.getElementById('stability').append(row);
        const box = mean.getBoundingClientRect();
        const visible = getComputedStyle(mean).display !== 'none' && box.width > 0;
        row.remove();
        return [visible, box.right];
    }""")
    assert shown[0] and shown[1] <= 390, shown


def test_the_training_table_shows_that_it_scrolls_sideways(phone_page):
    """On a phone the training table is wider than its box: a hint says so, and the box is
    marked for its edge shadows; the hint is gone once the table fits (a wide screen)."""
    box = "[data-testid=trained-table] >> xpath=.."
    widths = phone_page.eval_on_selector(box, "b => [b.scrollWidth, b.clientWidth]")
    assert widths[0] > widths[1], widths
    hint = phone_page.locator("[data-testid=scroll-hint]")
    assert hint.is_visible() and "Scroll sideways" in hint.inner_text()
    assert "scrolls" in phone_page.eval_on_selector(box, "b => b.className")
    phone_page.set_viewport_size({"width": 1600, "height": 900})
    phone_page.wait_for_function(
        "document.querySelector('[data-testid=scroll-hint]').hidden === "
        "(document.querySelector('.table-scroll').scrollWidth <= "
        "document.querySelector('.table-scroll').clientWidth + 1)")
    phone_page.set_viewport_size(PHONE["viewport"])


def test_a_report_link_opens_a_readable_page_not_raw_markdown(phone_page):
    """The sweep's report link (a Markdown file) opens in the browser as HTML with its table."""
    phone_page.locator("[data-testid=sweep-chart] a[href$='.md']").first.click()
    phone_page.wait_for_load_state()
    assert phone_page.evaluate("document.contentType") == "text/html"
    assert phone_page.locator("main table").count() >= 1
    assert "| family |" not in phone_page.inner_text("body")
