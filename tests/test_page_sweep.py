"""A sweep beside the registered variants: it leaves them as they were, and the page's sweep view
(in a real Chromium) draws the path with error bars and both picks, and narrows the cards; a
sweep without validation images shows why it picks nothing, its points at chance hollow."""

from __future__ import annotations

import json
import shutil
import urllib.request
from io import StringIO

import pytest

from regserve_contracts import layout
from regserve_contracts.variants import VARIANT_NAMES
from server import launcher
from tests.support.browser import chromium_browser
from tests.support.sweep import tiny_npz
from trainer.sweep.__main__ import parse_options
from trainer.sweep.cli import run

pytestmark = pytest.mark.slow
POINTS = ["l2_activity_1e-04", "l2_activity_1e-02"]
BASELINE = "none.pagesweep"


@pytest.fixture(scope="module")
def sweep_server(models_dir, tmp_path_factory):
    """The session's eight registered variants plus a local two-point sweep with its baseline,
    trained on other data (two classes, so above chance) with other settings, and a one-point
    sweep without validation images on 47-class noise (at chance), served by gunicorn."""
    folder = tmp_path_factory.mktemp("page_sweep")
    models = folder / "models"
    shutil.copytree(models_dir, models)
    argv = ["--engine", "local", "--penalty", "l2", "--where", "activity", "--lambdas",
            "1e-4,1e-2", "--name", "pagesweep", "--epochs", "1",
            "--batch-size", "50", "--data", str(tiny_npz(folder / "tiny.npz", two_classes=True)),
            "--models-dir", str(models)]
    out = StringIO()
    assert run(parse_options(argv, "sweep"), out, StringIO()) == 0
    refused = ["--engine", "local", "--penalty", "l1", "--where", "kernel_bias", "--lambdas",
               "1e-3", "--name", "noval", "--epochs", "1", "--batch-size", "50",
               "--validation-split", "0", "--no-baseline", "--models-dir", str(models),
               "--data", str(tiny_npz(folder / "noise.npz"))]
    assert run(parse_options(refused, "sweep"), StringIO(), StringIO()) == 0
    with launcher.start(folder / "server.log", models_dir=models, timeout=300) as server:
        yield server, models, out.getvalue()


def test_a_sweep_leaves_every_registered_variant_serving_as_before(sweep_server, client):
    """The sweep's baseline is its own variant; each registered variant keeps its versions on
    disk and serves the same version with the same /variants data as the untouched folder."""
    server, models, out = sweep_server
    with urllib.request.urlopen(server.url + "/variants", timeout=30) as response:
        after = {v["name"]: v for v in json.load(response)["variants"]}
    before = {v["name"]: v for v in client.get("/variants").get_json()["variants"]}
    for name in VARIANT_NAMES:
        assert after[name] == before[name], name
        assert layout.versions(models / name) == [1]
    assert after[BASELINE]["penalty"]["penalty"] == "none"
    assert f"{models / BASELINE}/ version" in out and "other variants are untouched" in out


def visible_cards(page) -> list[str]:
    script = "cards => cards.filter(c => !c.hidden).map(c => c.dataset.variant)"
    return sorted(page.eval_on_selector_all("#cards [data-variant]", script))


@pytest.mark.browser
def test_the_sweep_path_is_drawn_with_both_picks_and_the_picker_narrows_the_cards(sweep_server):
    server, _, _ = sweep_server
    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors, failed = [], []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("response", lambda r: failed.append(r.url)
                if r.status >= 400 and "/reports/sweep_" in r.url else None)
        page.goto(server.url + "/")
        page.wait_for_selector("[data-testid=sweeps]:not([hidden])", timeout=60_000)
        page.wait_for_function("document.querySelectorAll('#cards [data-variant]').length >= 11")
        chart = "[data-testid=sweep-chart] svg[data-family=l2_activity]"
        assert page.locator(f"{chart} .error-bar").count() == 2 * len(POINTS)  # val and test
        assert page.locator(f"{chart} .pick[data-pick=best]").count() == 1
        assert page.locator(f"{chart} .pick[data-pick=one_se]").count() == 1
        assert page.locator(f"{chart} .baseline").count() == 1
        assert page.locator("[data-testid=sweep-chart] img").count() == 0  # no PNG any more
        table = "\n".join(page.locator("[data-testid=sweep-table]").all_inner_texts())
        assert "l2_activity" in table and "best" in table and "1 SE" in table
        assert page.locator(f"{chart} circle.point[data-collapsed=false]").count() == 4
        refused = page.locator("[data-testid=sweep-refusal]")
        assert refused.count() == 1 and "no validation images" in refused.inner_text()
        assert "never on test accuracy" in refused.inner_text()
        noval = "[data-testid=sweep-chart] svg[data-family=l1_kernel_bias]"
        assert page.locator(f"{noval} .pick").count() == 0
        assert page.locator(f"{noval} circle.collapsed[data-collapsed=true]").count() == 1
        note = page.locator("[data-testid=sweep-note][data-family=l2_activity]").inner_text()
        assert "binomial standard error of one validation split" in note
        assert len(visible_cards(page)) == len(VARIANT_NAMES) + len(POINTS) + 2
        page.select_option("[data-testid=compare]", "pagesweep/l2_activity")
        assert visible_cards(page) == sorted([*POINTS, BASELINE])
        page.select_option("[data-testid=compare]", "registered")
        assert visible_cards(page) == sorted(VARIANT_NAMES)
        page.set_viewport_size({"width": 390, "height": 844})
        box = page.locator(chart).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        ticks = page.eval_on_selector_all(f"{chart} text", "ts => ts.map(t => "
                                          "t.getBoundingClientRect().height)")
        assert min(ticks) >= 9  # labels stay readable at phone width (px)
        page.close()
        assert errors == [], errors
        assert failed == [], failed
