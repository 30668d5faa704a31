"""Two versions of one variant side by side (REGSERVE_VERSION_POLICY=all) from a real server."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import requests

from benchmarks.drawing import draw as draw_character
from benchmarks.drawing import encode
from regserve_contracts import layout
from regserve_contracts.signature import SERVING_INPUT, SERVING_PROBABILITIES, to_model_input
from regserve_contracts.variants import get_variant
from server.launcher import start
from tests.support.browser import SEVEN, chromium_browser, draw

pytestmark = pytest.mark.slow
VARIANT = "l2_activity"
BOTH = f"{VARIANT}@1,{VARIANT}@2"


@pytest.fixture(scope="module")
def two_versions(models_dir, tmp_path_factory):
    """``none`` and ``l2_activity`` version 1 from the session models, and a second
    ``l2_activity`` trained here with another seed, so its weights and metadata differ."""
    from trainer.data.synthetic import load_synthetic
    from trainer.train import TrainConfig, train_variants

    target = tmp_path_factory.mktemp("versions")
    for name in ("none", VARIANT):
        shutil.copytree(layout.newest_version(models_dir / name), target / name / "1")
    dataset = load_synthetic(train_size=235, test_size=47, seed=7)
    train_variants([get_variant(VARIANT)], dataset,
                   TrainConfig(epochs=1, batch_size=47, seed=7, verbose=0), target,
                   log=lambda line: None)
    assert layout.versions(target / VARIANT) == [1, 2]
    return target


@pytest.fixture(scope="module")
def server(two_versions, tmp_path_factory):
    with start(tmp_path_factory.mktemp("all") / "server.log", models_dir=two_versions,
               env={"REGSERVE_VERSION_POLICY": "all"}) as live:
        yield live


def direct_probabilities(version_dir, pixels) -> np.ndarray:
    """The version's SavedModel called directly, without the server."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    images = tf.constant(to_model_input(np.asarray(pixels, dtype=np.uint8)))
    return signature(**{SERVING_INPUT: images})[SERVING_PROBABILITIES].numpy()[0]


def test_both_versions_answer_side_by_side_with_their_own_models(server, two_versions):
    png = encode(draw_character("A"))
    answer = requests.post(f"{server.url}/predict?variant={BOTH}&top=47", data=png, timeout=60,
                           headers={"Content-Type": "image/png"}).json()
    assert list(answer["variants"]) == [f"{VARIANT}@1", f"{VARIANT}@2"]
    pixels = answer["input"]["pixels"]
    for version in (1, 2):
        result = answer["variants"][f"{VARIANT}@{version}"]
        assert result["version"] == version
        got = np.zeros(47)
        for entry in result["top"]:
            got[entry["index"]] = entry["probability"]
        expected = direct_probabilities(two_versions / VARIANT / str(version), pixels)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    newest = requests.post(f"{server.url}/predict?variant={VARIANT}&top=47", data=png,
                           headers={"Content-Type": "image/png"}, timeout=60).json()
    assert newest["variants"][VARIANT] == answer["variants"][f"{VARIANT}@2"]


def test_each_version_shows_its_own_metadata(server, two_versions):
    listing = requests.get(f"{server.url}/variants", timeout=30).json()
    entry = next(item for item in listing["variants"] if item["name"] == VARIANT)
    assert entry["versions"] == {"loaded": [1, 2], "on_disk": [1, 2]}
    assert listing["version_policy"] == "all"
    assert [item["key"] for item in listing["older_versions"]] == [f"{VARIANT}@1"]
    for version in (1, 2):
        own = layout.read_metadata(two_versions / VARIANT / str(version))
        shown = requests.get(f"{server.url}/variants/{VARIANT}@{version}", timeout=30).json()
        assert shown["version"] == version
        assert (shown["created"], shown["test"], shown["history"]) == (
            own["created"], own["test"], own["history"])
    v2 = requests.get(f"{server.url}/v2/models/{VARIANT}", timeout=30).json()
    assert v2["versions"] == ["1", "2"]


def test_the_views_of_each_version_come_from_that_version(server):
    """include=activations,stability and filters.png answer name@version with that version's
    own model: the two versions' feature maps and filters differ (their weights do)."""
    answer = requests.post(f"{server.url}/predict?variant={BOTH}&include=activations,stability",
                           data=encode(draw_character("A")), timeout=60,
                           headers={"Content-Type": "image/png"})
    assert answer.status_code == 200, answer.text
    views = answer.json()["variants"]
    for key in (f"{VARIANT}@1", f"{VARIANT}@2"):
        assert 0.0 <= views[key]["stability"]["agreement"] <= 1.0
        assert views[key]["activations"]["conv1"]["shape"][2] == 32
    assert (views[f"{VARIANT}@1"]["activations"]["conv1"]["png_base64"]
            != views[f"{VARIANT}@2"]["activations"]["conv1"]["png_base64"])
    filters = [requests.get(f"{server.url}/variants/{VARIANT}@{v}/filters.png", timeout=30)
               for v in (1, 2)]
    assert [f.status_code for f in filters] == [200, 200]
    assert filters[0].content != filters[1].content


def test_an_unloaded_version_is_a_404_naming_the_loaded_ones(server):
    answer = requests.post(f"{server.url}/predict?variant={VARIANT}@3", timeout=30,
                           data=encode(draw_character("A")), headers={"Content-Type": "image/png"})
    assert answer.status_code == 404
    assert f"{VARIANT}@1" in answer.json()["valid_variants"]


def test_the_page_shows_both_versions_side_by_side(server):
    with chromium_browser() as browser:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url + "/")
        page.wait_for_selector(f'[data-variant="{VARIANT}@1"]')
        with page.expect_response(lambda response: "/predict" in response.url) as info:
            draw(page, SEVEN)
        body = info.value.json()
        assert {f"{VARIANT}@1", VARIANT} <= set(body["variants"])
        page.wait_for_function("() => Number(document.getElementById('cards').dataset.answers) > 0")
        for name, version in ((f"{VARIANT}@1", 1), (VARIANT, 2)):
            card = page.locator(f'[data-variant="{name}"]')
            assert card.get_attribute("data-state") == "ready"
            assert card.get_by_test_id("prediction").inner_text().strip() == (
                body["variants"][name]["prediction"])
            assert f"version {version}" in card.get_by_test_id("meta").inner_text()
        assert errors == []
