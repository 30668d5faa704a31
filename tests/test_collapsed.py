"""Models at chance are marked and not counted; a tie is a tie; the small edges of /predict."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy.stats import binomtest

from benchmarks.drawing import draw, encode
from regserve_contracts.chance import is_collapsed, wilson_interval
from server.answers import BLOB_DEPTH, agreement, blob_depth
from tests.support.api import assert_agreement, override_settings, post_png
from tests.support.models import copy_models, set_test_score

#: (accuracy, test-set size) the doctored folder gives each copied variant: two that learned,
#: one at exactly chance on the demo's 1,880 test images.
SCORES = {"none": (0.5622, 1880), "l2_activity": (0.5319, 1880),
          "l1_kernel_bias": (40 / 1880, 1880)}


@pytest.mark.parametrize("successes, n", [(2, 94), (0, 94), (94, 94), (40, 1880), (850, 1880),
                                          (1, 3)])
def test_the_wilson_interval_is_scipys(successes, n):
    expected = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(successes, n)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


@pytest.mark.parametrize("accuracy, n, collapsed", [
    (2 / 94, 94, True),          # the test fixture's models: chance on 94 images
    (1 / 94, 94, True),
    (5 / 94, 94, False),         # interval 2.3%-11.8%: above chance
    (0.5, 94, False),
    (40 / 1880, 1880, True),     # the demo's L1 models: one class always
    (0.4941, 1880, False),
    (0.03, 18800, True),         # above chance on EMNIST's test set, yet surely under 2/47
    (0.05, 18800, False),
    (None, 94, None), (0.5, None, None), (float("nan"), 94, None), (0.5, 0, None),
])
def test_the_chance_rule(accuracy, n, collapsed):
    assert is_collapsed(accuracy, n, 47) is collapsed


def answer(prediction: str, collapsed: bool | None = False, p: float = 0.5) -> dict:
    return {"prediction": prediction, "collapsed": collapsed,
            "top": [{"label": prediction, "index": 0, "probability": p}]}


def test_a_tie_has_no_majority():
    """{A: 3, L: 3, D: 2} is a tie between A and L, whatever their probabilities."""
    answers = {f"v{i}": answer(label, p=0.9 if label == "A" else 0.4)
               for i, label in enumerate("AAALLLDD")}
    result = agreement(answers)
    assert result["votes"] == {"A": 3, "L": 3, "D": 2}
    assert (result["majority"], result["tie"], result["unanimous"]) == (None, True, False)
    answers["v8"] = answer("L")
    assert agreement(answers)["majority"] == "L" and agreement(answers)["tie"] is False


def test_collapsed_variants_are_left_out_of_the_vote():
    answers = {"none": answer("7"), "l2": answer("7"), "l1": answer("L", collapsed=True),
               "en": answer("L", collapsed=True), "old": answer("1", collapsed=None)}
    result = agreement(answers)
    assert result["votes"] == {"7": 2, "1": 1} and result["majority"] == "7"
    assert (result["counted"], result["excluded"]) == (3, ["l1", "en"])
    nobody = agreement({"l1": answer("L", collapsed=True)})
    assert (nobody["votes"], nobody["majority"], nobody["tie"], nobody["unanimous"]) == (
        {}, None, False, False)


@pytest.fixture(scope="module")
def doctored_app(models_dir, tmp_path_factory):
    """Three of the session's variants whose metadata says two learned and one did not."""
    from server import create_app
    from tests.support.api import TEST_SETTINGS

    folder = copy_models(models_dir, tmp_path_factory.mktemp("doctored"), list(SCORES))
    for name, (accuracy, size) in SCORES.items():
        set_test_score(folder / name / "1", accuracy, size)
    return create_app(**TEST_SETTINGS, models_dir=folder)


@pytest.mark.slow  # loads three models into an app of its own
def test_predict_and_variants_flag_collapsed_variants_and_the_vote_skips_them(doctored_app, png):
    client = doctored_app.test_client()
    body = post_png(client, png).get_json()
    flags = {name: result["collapsed"] for name, result in body["variants"].items()}
    assert flags == {"none": False, "l2_activity": False, "l1_kernel_bias": True}
    assert body["agreement"]["excluded"] == ["l1_kernel_bias"]
    assert body["agreement"]["counted"] == 2
    assert_agreement(body)
    listed = {v["name"]: v["collapsed"] for v in client.get("/variants").get_json()["variants"]}
    assert listed == flags
    assert client.get("/variants/l1_kernel_bias").get_json()["collapsed"] is True


def test_the_fixture_models_are_at_chance_and_nobody_votes(client, png):
    """The session's models learned nothing in one epoch on 470 images: all collapsed."""
    body = post_png(client, png).get_json()
    assert all(result["collapsed"] for result in body["variants"].values())
    assert body["agreement"]["counted"] == 0 and body["agreement"]["majority"] is None
    assert_agreement(body)


def test_an_unknown_query_parameter_is_a_400_naming_the_valid_ones(client, png):
    answer = post_png(client, png, "?topk=5")
    body = answer.get_json()
    assert answer.status_code == 400 and body["error"] == "unknown_parameter"
    assert "'topk'" in body["detail"] and "variant, top, include" in body["detail"]
    assert body["valid_parameters"] == ["variant", "top", "include"]
    assert post_png(client, png, "?top=5&variant=none&include=").status_code == 200


def test_size_errors_state_the_limit_in_mib_and_pixels(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10 * 1024 * 1024)
    body = b"\x89PNG" + b"\0" * (11 * 1024 * 1024)
    detail = client.post("/predict", data=body, content_type="image/png").get_json()["detail"]
    assert detail == ("the request body is 11 MiB; the server accepts at most 10 MiB "
                      "(10,485,760 bytes)")
    override_settings(monkeypatch, app, max_image_pixels=2048 * 2048)
    image = encode(draw("A", 2100))
    detail = post_png(client, image).get_json()["detail"]
    assert detail == "the image is 2100 x 2100 pixels; at most 2048 x 2048 pixels are accepted"


def test_the_favicon_is_served(client):
    with client.get("/favicon.ico") as answer:
        assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
        assert answer.get_data().startswith(b"<svg")


def pad_png(shape) -> bytes:
    """A 280x280 white pad with black ink, as the page sends it."""
    image = Image.new("RGB", (280, 280), "white")
    shape(ImageDraw.Draw(image))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_a_single_dot_gets_a_too_little_ink_warning_and_a_character_none(client):
    dot = post_png(client, pad_png(lambda d: d.ellipse([130, 130, 148, 148], fill="black")))
    warning = dot.get_json()["input"]["warning"]
    assert warning["code"] == "too_little_ink" and "dot" in warning["detail"]
    seven = pad_png(lambda d: d.line([(60, 56), (220, 56), (118, 235)], fill="black", width=18))
    assert "warning" not in post_png(client, seven).get_json()["input"]


def test_no_real_emnist_character_is_taken_for_a_blob(real_sample):
    """The threshold sits above every one of the sample's 9,424 real characters."""
    images = np.concatenate([real_sample["x_train"], real_sample["x_test"]])
    depths = np.array([blob_depth(image) for image in images])
    assert depths.max() < BLOB_DEPTH
    solid = np.zeros((28, 28), np.uint8)
    solid[4:24, 4:24] = 255  # a 20x20 square: 10 erosions take it
    assert blob_depth(solid) == 10
