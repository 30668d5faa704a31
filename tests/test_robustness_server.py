"""Beyond accuracy in the API: /variants/<name> carries the three blocks (or says an older
export lacks them), and ?include=corruptions shows the drawing under every corruption with each
variant's reading, checked against the suite and a direct call of each SavedModel."""

from __future__ import annotations

import base64
import io
import shutil

import jsonschema
import numpy as np
import pytest
from PIL import Image

from benchmarks.drawing import draw, encode
from regserve_contracts import corruptions, layout
from regserve_contracts.signature import (
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    to_model_input,
)
from server.routes.openapi import DOCUMENT
from server.views import robustness
from tests.support.api import TEST_SETTINGS
from tests.support.models import copy_models

PNG = encode(draw("A"))
BLOCKS = ("calibration", "generalization", "robustness")


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def schema_of(path: str, method: str) -> dict:
    return DOCUMENT["paths"][path][method]["responses"]["200"]["content"]["application/json"][
        "schema"]


def ask(app, include: str):
    return app.test_client().post(f"/predict?include={include}", data=PNG,
                                  content_type="image/png")


@pytest.fixture(scope="module")
def legacy_app(models_dir, tmp_path_factory):
    """An app serving ``none`` as exported before the three blocks existed."""
    from server import create_app

    target = copy_models(models_dir, tmp_path_factory.mktemp("legacy-models"), ["none"])
    metadata = layout.read_metadata(target / "none" / "1")
    for key in BLOCKS:
        metadata.pop(key)
    layout.write_json_atomic(target / "none" / "1" / layout.METADATA_FILE, metadata)
    return create_app(**TEST_SETTINGS, models_dir=str(target))


@pytest.mark.parametrize("name", ["none", "l1_kernel_bias"])
def test_variant_detail_carries_the_three_blocks_as_exported(app, models_dir, name):
    detail = app.test_client().get(f"/variants/{name}").get_json()
    metadata = layout.read_metadata(layout.newest_version(models_dir / name))
    for key in BLOCKS:
        assert detail[key] == metadata[key]
    validator(schema_of("/variants/{name}", "get")).validate(detail)


def test_an_older_export_still_serves_and_says_what_it_lacks(legacy_app):
    client = legacy_app.test_client()
    assert client.post("/predict", data=PNG, content_type="image/png").status_code == 200
    detail = client.get("/variants/none").get_json()
    for key in BLOCKS:
        assert detail[key]["available"] is False
        assert key in detail[key]["detail"] and "--evaluate" in detail[key]["detail"]
    validator(schema_of("/variants/{name}", "get")).validate(detail)


def test_variant_detail_gives_mean_and_sd_over_the_seeds_of_its_repeat_group(models_dir,
                                                                             tmp_path):
    """Three seeds of ``none`` with ECE 0.02, 0.04, 0.09 and corrupted accuracy 0.3, 0.5, 0.4
    (mean 0.05, sd 0.036; mean 0.4, sd 0.1); a version of another group counts nowhere."""
    from server import create_app

    target = copy_models(models_dir, tmp_path, ["none"])
    for version, seed, ece, corrupted, group in ((1, 0, 0.5, 0.9, "other"), (2, 0, 0.02, 0.3, "g"),
                                                 (3, 1, 0.04, 0.5, "g"), (4, 2, 0.09, 0.4, "g")):
        folder = target / "none" / str(version)
        if version > 1:
            shutil.copytree(target / "none" / "1", folder)
        metadata = layout.read_metadata(folder)
        metadata["repeat"] = {"group": group, "seed": seed, "index": seed + 1, "of": 3}
        metadata["calibration"]["ece"] = ece
        metadata["robustness"]["mean_accuracy"] = corrupted
        layout.write_json_atomic(folder / layout.METADATA_FILE, metadata)
    detail = create_app(**TEST_SETTINGS, models_dir=str(target)).test_client() \
        .get("/variants/none").get_json()
    spread = detail[robustness.OVER_SEEDS]
    assert spread["seeds"] == 3 and spread["versions"] == [2, 3, 4]
    assert spread["ece"]["mean"] == pytest.approx(0.05)
    assert spread["ece"]["sd"] == pytest.approx(np.std([0.02, 0.04, 0.09], ddof=1))
    assert spread["corrupted_accuracy"]["mean"] == pytest.approx(0.4)
    assert spread["corrupted_accuracy"]["sd"] == pytest.approx(0.1)
    validator(schema_of("/variants/{name}", "get")).validate(detail)


def test_a_model_trained_once_has_no_spread_over_seeds(app):
    assert app.test_client().get("/variants/none").get_json()[robustness.OVER_SEEDS] is None


def decode(png_base64: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(png_base64))) as image:
        return np.asarray(image)


def test_corruptions_show_the_input_under_every_corruption_identity_first(app):
    body = ask(app, "corruptions&variant=none").get_json()
    pixels = np.asarray(body["input"]["pixels"], dtype=np.uint8)
    shown = body["corruptions"]["images"]
    assert [image["name"] for image in shown] == list(corruptions.NAMES)
    assert body["corruptions"]["seed"] == corruptions.SEED
    for image in shown:
        assert np.array_equal(decode(image["png_base64"]),
                              corruptions.corrupt(pixels, image["name"]))
    assert np.array_equal(decode(shown[0]["png_base64"]), pixels)


@pytest.mark.parametrize("name", ["none", "l2_activity"])
def test_each_reading_equals_a_direct_call_of_the_saved_model(app, models_dir, name):
    import tensorflow as tf

    body = ask(app, "corruptions").get_json()
    pixels = np.asarray(body["input"]["pixels"], dtype=np.uint8)
    images = np.stack([corruptions.corrupt(pixels, n) for n in corruptions.NAMES])
    module = tf.saved_model.load(str(layout.newest_version(models_dir / name)))
    probabilities = module.signatures[SIGNATURE_KEY](
        **{SERVING_INPUT: tf.constant(to_model_input(images))})[SERVING_PROBABILITIES].numpy()
    view = body["variants"][name]["corruptions"]
    readings = view["readings"]
    assert [r["name"] for r in readings] == list(corruptions.NAMES)
    for reading, row in zip(readings, probabilities, strict=True):
        assert reading["index"] == int(np.argmax(row))
        assert reading["probability"] == pytest.approx(float(row.max()), abs=1e-5)
    original = body["variants"][name]["top"][0]["index"]
    assert readings[0]["index"] == original and readings[0]["same"] is True
    same = [r["index"] == original for r in readings[1:]]
    assert [r["same"] for r in readings[1:]] == same
    assert view["kept"] == pytest.approx(sum(same) / len(same))


def test_the_answer_with_every_view_matches_the_openapi_document(app):
    answer = ask(app, "activations,stability,corruptions")
    assert answer.status_code == 200
    validator(schema_of("/predict", "post")).validate(answer.get_json())


def test_no_corruption_work_unless_asked(app, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("corruptions made without ?include=corruptions")

    monkeypatch.setattr(robustness, "corruption_images", forbidden)
    answer = ask(app, "stability")
    assert answer.status_code == 200 and "corruptions" not in answer.get_json()
    assert ask(app, "corruptions").status_code == 500  # the patch is on the path it guards
