"""The insight views the server answers with, each against an independent computation:
feature maps, silent channels, stability, conv1's filter grid, the histogram in /variants/<name>."""

from __future__ import annotations

import base64
import io
import json
import shutil

import jsonschema
import numpy as np
import pytest
from PIL import Image

from benchmarks.drawing import draw, encode
from regserve_contracts import layout
from regserve_contracts.signature import (
    FEATURE_MAP_LAYERS,
    FILTER_LAYER,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    kernel_variable,
    to_model_input,
)
from regserve_contracts.variants import VARIANTS
from server.routes.openapi import DOCUMENT
from server.views import insight, perturb
from tests.support.api import TEST_SETTINGS

SHAPES = ("A", "L", "T", "O")
PNGS = {shape: encode(draw(shape)) for shape in SHAPES}


def ask(app, include: str, shape: str = "A", variant: str | None = None):
    query = f"include={include}" + (f"&variant={variant}" if variant else "")
    return app.test_client().post(f"/predict?{query}", data=PNGS[shape],
                                  content_type="image/png")


def export(models_dir, trained_dir, name: str, change, with_maps: bool = True) -> None:
    """Export the ``none`` CNN with ``change(model)`` applied as variant ``name``, version 1."""
    import keras

    import trainer.model as model_module

    model = model_module.build_model(VARIANTS[0])
    change(model)
    target = models_dir / name / "1"
    target.parent.mkdir(parents=True)
    if with_maps:
        model_module.export_saved_model(model, target)
    else:  # as versions exported before the activations signature existed
        original = model_module.add_feature_map_endpoint
        model_module.add_feature_map_endpoint = lambda archive, outputs: None
        try:
            model_module.export_saved_model(model, target)
        finally:
            model_module.add_feature_map_endpoint = original
    metadata = layout.read_metadata(layout.newest_version(trained_dir / "none"))
    metadata["variant"] = {**metadata["variant"], "name": name, "label": name}
    if not with_maps:
        for key in insight.METADATA_VIEWS:
            metadata.pop(key, None)
    (target / layout.METADATA_FILE).write_text(json.dumps(metadata))
    keras.backend.clear_session()


def set_weights(model, layer: str, kernel: float | None = None, bias=None) -> None:
    current_kernel, current_bias = model.get_layer(layer).get_weights()
    model.get_layer(layer).set_weights([
        current_kernel if kernel is None else np.full_like(current_kernel, kernel),
        current_bias if bias is None else np.broadcast_to(bias, current_bias.shape)])


CONSTANT_BIAS = np.random.default_rng(7).normal(0, 2, 47).astype(np.float32)


@pytest.fixture(scope="module")
def built_app(models_dir, tmp_path_factory):
    """An app serving three models built here: one that ignores its input, one whose
    activations are all zero, and one exported the old way, without the activations signature."""
    from server import create_app

    target = tmp_path_factory.mktemp("insight-models")

    def constant(model):  # the output layer ignores what comes before it
        set_weights(model, "output", kernel=0.0, bias=CONSTANT_BIAS)

    def silent(model):  # no conv unit can ever fire
        set_weights(model, "conv1", kernel=0.0, bias=-1.0)
        set_weights(model, "conv2", kernel=0.0, bias=-1.0)

    export(target, models_dir, "constant", constant)
    export(target, models_dir, "silent", silent)
    export(target, models_dir, "legacy", lambda model: None, with_maps=False)
    yield create_app(**TEST_SETTINGS, models_dir=str(target))
    shutil.rmtree(target, ignore_errors=True)


def decode(png_base64: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(png_base64))) as image:
        return np.asarray(image)


def direct_feature_maps(version_dir, pixels) -> dict[str, np.ndarray]:
    """conv1 and conv2 by hand, with tf.nn on the SavedModel's own variables (dropout is off
    at inference): relu(conv(x) + b), 2x2 max pool, relu(conv(.) + b)."""
    import tensorflow as tf

    module = tf.saved_model.load(str(version_dir))
    weights = {v.name.split(":")[0]: v for v in module.variables}
    x = tf.constant(to_model_input(pixels))
    maps = {}
    for layer in FEATURE_MAP_LAYERS:
        x = tf.nn.relu(tf.nn.conv2d(x, weights[kernel_variable(layer)], 1, "VALID")
                       + weights[f"{layer}/bias"])
        maps[layer] = x.numpy()[0]
        x = tf.nn.max_pool2d(x, 2, 2, "VALID")
    return maps


@pytest.mark.parametrize("bad", ["everything", "activations,weights", "ACTIVATIONS",
                                 ",".join(f"x{i}" * 50 for i in range(20))])
def test_include_with_anything_else_is_a_400_naming_the_valid_values(app, bad):
    answer = ask(app, bad)
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["error"] == "invalid_parameter"
    assert "activations" in body["detail"] and "stability" in body["detail"]
    assert len(body["detail"]) < 400


def test_include_takes_a_comma_list_or_repeated_values(app):
    answer = app.test_client().post("/predict?include=stability&include=activations&variant=none",
                                    data=PNGS["A"], content_type="image/png")
    assert answer.status_code == 200
    result = answer.get_json()["variants"]["none"]
    assert {"activations", "stability"} <= set(result)


def test_the_plain_path_does_no_insight_work(app, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("insight work on the plain path")

    monkeypatch.setattr(insight, "add_views", forbidden)
    plain = app.test_client().post("/predict", data=PNGS["A"], content_type="image/png")
    assert plain.status_code == 200
    assert not {"activations", "stability"} & set(plain.get_json()["variants"]["none"])
    assert ask(app, "stability").status_code == 500  # the patch is on the path it guards


@pytest.mark.parametrize("name", ["none", "l2_activity"])
def test_activation_maps_equal_a_direct_call_of_the_models_layers(runtime_app, models_dir, name):
    body = ask(runtime_app, "activations", "A", name).get_json()
    pixels = np.asarray(body["input"]["pixels"], dtype=np.uint8)
    expected = direct_feature_maps(layout.newest_version(models_dir / name), pixels)
    views = body["variants"][name]["activations"]
    assert list(views) == list(FEATURE_MAP_LAYERS)
    for layer, maps in expected.items():
        view = views[layer]
        height, width, channels = maps.shape
        assert view["shape"] == [height, width, channels]
        assert view["max"] == pytest.approx(maps.max(), rel=1e-5, abs=1e-6)
        assert view["silent_channels"] == [c for c in range(channels) if not maps[..., c].any()]
        mosaic = decode(view["png_base64"]).astype(int)
        step_y, step_x = height + view["gap"], width + view["gap"]
        scale = 255.0 / maps.max() if maps.max() > 0 else 0.0
        for channel in range(channels):
            row, column = divmod(channel, view["columns"])
            top, left = row * step_y, column * step_x
            tile = mosaic[top:top + height, left:left + width]
            assert np.abs(tile - np.rint(maps[..., channel] * scale)).max() <= 1, (layer, channel)


def test_a_variant_whose_activations_are_all_zero_reports_every_channel_silent(built_app):
    answer = built_app.test_client().post("/predict?include=activations&variant=silent",
                                          data=PNGS["L"], content_type="image/png")
    views = answer.get_json()["variants"]["silent"]["activations"]
    for layer in FEATURE_MAP_LAYERS:
        channels = views[layer]["shape"][2]
        assert views[layer]["silent_channels"] == list(range(channels))
        assert views[layer]["max"] == 0.0
        shown = set(np.unique(decode(views[layer]["png_base64"])).tolist())
        assert shown == {0, insight.MOSAIC_GAP_VALUE}  # black tiles, grey gaps
    constant = built_app.test_client().post("/predict?include=activations&variant=constant",
                                            data=PNGS["L"], content_type="image/png")
    assert len(constant.get_json()["variants"]["constant"]["activations"]["conv1"][
        "silent_channels"]) < 32  # the constant model's convolutions do fire


def test_stability_is_one_for_a_model_that_ignores_its_input(built_app):
    probabilities = np.exp(CONSTANT_BIAS) / np.exp(CONSTANT_BIAS).sum()
    for shape in SHAPES:
        answer = built_app.test_client().post("/predict?include=stability&variant=constant",
                                              data=PNGS[shape], content_type="image/png")
        stability = answer.get_json()["variants"]["constant"]["stability"]
        assert stability["agreement"] == 1.0
        assert stability["perturbations"] == perturb.COUNT
        assert stability["mean_probability"] == pytest.approx(probabilities.max(), rel=1e-4)


def test_stability_is_lower_for_the_real_models_and_matches_a_direct_count(runtime_app,
                                                                             models_dir):
    import tensorflow as tf

    agreements = []
    for shape in SHAPES:
        body = ask(runtime_app, "stability", shape).get_json()
        agreements += [result["stability"]["agreement"] for result in body["variants"].values()]
        pixels = np.asarray(body["input"]["pixels"], dtype=np.uint8)
        module = tf.saved_model.load(str(layout.newest_version(models_dir / "none")))
        signature = module.signatures[SIGNATURE_KEY]
        original = int(np.argmax(signature(**{SERVING_INPUT: tf.constant(
            to_model_input(pixels))})[SERVING_PROBABILITIES].numpy()[0]))
        perturbed = signature(**{SERVING_INPUT: tf.constant(to_model_input(
            perturb.perturbations(pixels)))})[SERVING_PROBABILITIES].numpy()
        stability = body["variants"]["none"]["stability"]
        assert stability["agreement"] == pytest.approx(
            np.mean(np.argmax(perturbed, axis=1) == original))
        assert stability["mean_probability"] == pytest.approx(
            perturbed[:, original].mean(), rel=1e-4)
    assert min(agreements) < 1.0 and np.mean(agreements) < 1.0


def test_perturbations_are_a_fixed_set_of_about_32_different_images():
    pixels = np.asarray(Image.open(io.BytesIO(PNGS["A"])).convert("L").resize((28, 28)))
    pixels = 255 - pixels  # white ink on black, as EMNIST
    first, second = perturb.perturbations(pixels), perturb.perturbations(pixels)
    assert first.shape == (perturb.COUNT, 28, 28) and first.dtype == np.uint8
    assert 28 <= perturb.COUNT <= 36 and len(perturb.kinds()) == perturb.COUNT
    assert np.array_equal(first, second)
    assert all(not np.array_equal(image, pixels) for image in first)
    assert set(perturb.kinds()) == {"noise", "rotation", "shift", "thicker", "thinner",
                                    "occlusion"}


def test_versions_exported_before_the_change_still_serve_and_say_so(built_app):
    client = built_app.test_client()
    assert client.post("/predict?variant=legacy", data=PNGS["T"],
                       content_type="image/png").status_code == 200
    answer = client.post("/predict?variant=legacy,constant&include=activations,stability",
                         data=PNGS["T"], content_type="image/png").get_json()["variants"]
    assert answer["legacy"]["activations"]["available"] is False
    assert "version 1" in answer["legacy"]["activations"]["detail"]
    assert 0 <= answer["legacy"]["stability"]["agreement"] <= 1
    assert set(answer["constant"]["activations"]) == set(FEATURE_MAP_LAYERS)
    detail = client.get("/variants/legacy").get_json()
    assert detail["weight_histogram"] is None and detail["feature_maps"] is False
    assert client.get("/variants/legacy/filters.png").status_code == 200


def tiles(png: bytes) -> list[np.ndarray]:
    """The tiles of a filter grid, found by the gap colour alone (no layout constants)."""
    with Image.open(io.BytesIO(png)) as image:
        grid = np.asarray(image.convert("RGB")).astype(int)
    gap = (grid == insight.FILTER_GAP_RGB).all(axis=2)
    rows = [i for i in range(grid.shape[0]) if not gap[i].all()]
    columns = [j for j in range(grid.shape[1]) if not gap[:, j].all()]

    def runs(indices):
        groups, start = [], indices[0]
        for previous, current in zip(indices, indices[1:] + [None], strict=True):
            if current != previous + 1:
                groups.append((start, previous + 1))
                start = current
        return groups

    found = []
    for top, bottom in runs(rows):
        for left, right in runs(columns):
            tile = grid[top:bottom, left:right]
            if not (tile == insight.FILTER_GAP_RGB).all(axis=2).all():
                found.append(tile)
    return found


@pytest.mark.parametrize("name", ["none", "l1_kernel_bias"])
def test_the_filter_grid_has_32_tiles_showing_conv1s_saved_kernel(runtime_app, models_dir,
                                                                    name):
    import tensorflow as tf

    answer = runtime_app.test_client().get(f"/variants/{name}/filters.png")
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    found = tiles(answer.data)
    assert len(found) == 32
    module = tf.saved_model.load(str(layout.newest_version(models_dir / name)))
    kernel = next(v.numpy() for v in module.variables
                  if v.name.startswith(kernel_variable(FILTER_LAYER) + ":"))[:, :, 0, :]
    share = kernel / np.abs(kernel).max()
    for index, tile in enumerate(found):
        cell = tile.shape[0] // 3
        centres = tile[cell // 2::cell, cell // 2::cell]  # one pixel per kernel cell, 3x3
        red, blue = centres[..., 0], centres[..., 2]
        # Positive weights keep red at 255 and lose blue; negative ones the other way round.
        shown = np.where(red >= blue, (255 - blue) / 225.0, -(255 - red) / 225.0)
        assert np.abs(shown - share[:, :, index]).max() <= 0.01, index


def test_variant_detail_carries_the_histogram_and_the_pruning_curve(app, models_dir):
    detail = app.test_client().get("/variants/l1_kernel_bias").get_json()
    metadata = layout.read_metadata(layout.newest_version(models_dir / "l1_kernel_bias"))
    assert detail["weight_histogram"] == metadata["weight_histogram"]
    assert detail["pruning"] == metadata["pruning"]
    assert detail["feature_maps"] is True
    assert detail["filters"] == "/variants/l1_kernel_bias/filters.png"


def test_the_answer_with_every_view_matches_the_openapi_document(app, built_app):
    schema = DOCUMENT["paths"]["/predict"]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]})
    validator.validate(ask(app, "activations,stability").get_json())
    validator.validate(built_app.test_client().post(
        "/predict?include=activations,stability", data=PNGS["O"],
        content_type="image/png").get_json())
