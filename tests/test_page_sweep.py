"""The page's sweep view in a real Chromium: the sweep chart, and picking what to compare."""

from __future__ import annotations

import shutil
from io import StringIO

import pytest

from regserve_contracts.variants import VARIANT_NAMES
from server import launcher
from tests.support.browser import chromium_browser
from tests.support.sweep import tiny_npz
from trainer.sweep.__main__ import parse_options
from trainer.sweep.cli import run

pytestmark = [pytest.mark.browser, pytest.mark.slow]
POINTS = ["l2_activity_1e-04", "l2_activity_1e-02"]


@pytest.fixture(scope="module")
def sweep_server(models_dir, tmp_path_factory):
    """The session's eight seed variants plus a local two-point sweep, served by gunicorn."""
    folder = tmp_path_factory.mktemp("page_sweep")
    models = folder / "models"
    shutil.copytree(models_dir, models)
    argv = ["--engine", "local", "--penalty", "l2", "--where", "activity", "--lambdas",
            "1e-4,1e-2", "--no-baseline", "--name", "pagesweep", "--epochs", "1",
            "--batch-size", "50", "--data", str(tiny_npz(folder / "tiny.npz")),
            "--models-dir", str(models), "--quiet"]
    assert run(parse_options(argv, "sweep"), StringIO(), StringIO()) == 0
    with launcher.start(folder / "server.log", models_dir=models, timeout=300) as server:
        yield server


def visible_cards(page) -> list[str]:
    script = "cards => cards.filter(c => !c.hidden).map(c => c.dataset.variant)"
    return sorted(page.eval_on_selector_all("#cards [data-variant]", script))


def test_the_sweep_chart_shows_and_the_picker_narrows_the_cards(sweep_server):
    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(sweep_server.url + "/")
        page.wait_for_selector("[data-testid=sweeps]:not([hidden])", timeout=60_000)
        page.wait_for_function("document.querySelectorAll('#cards [data-variant]').length >= 10")
        # The chart is a separate request: wait for it (a loaded machine answers it late), and
        # fail if it never decodes.
        page.wait_for_function("(() => { const img = document.querySelector("
                               "'[data-testid=sweep-chart] img');"
                               " return img && img.complete && img.naturalWidth > 0; })()",
                               timeout=60_000)
        assert "l2_activity" in page.inner_text("[data-testid=sweep-table]")
        assert len(visible_cards(page)) == len(VARIANT_NAMES) + len(POINTS)
        page.select_option("[data-testid=compare]", "pagesweep/l2_activity")
        assert visible_cards(page) == sorted(POINTS)
        page.select_option("[data-testid=compare]", "seed")
        assert visible_cards(page) == sorted(VARIANT_NAMES)
        page.select_option("[data-testid=compare]", "all")
        assert len(visible_cards(page)) == len(VARIANT_NAMES) + len(POINTS)
        page.close()
        assert errors == [], errors
