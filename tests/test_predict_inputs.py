"""POST /predict in process: every input kind and format, top-k, activation sparsity per input,
agreement, and concurrent requests batched yet answered each with its own image."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from benchmarks.drawing import draw, encode
from regserve_contracts import layout
from regserve_contracts.labels import LABELS, NUM_CLASSES
from regserve_contracts.variants import VARIANT_NAMES
from tests.support.api import assert_agreement, assert_full_answer, assert_same_top, post_png


def test_a_png_is_answered_by_every_loaded_variant(client, png, models_dir):
    """POST /predict with no variant: every variant of the models folder, its metadata's weight
    sparsity and version, the 28x28 input echoed as PNG and numbers, and the agreement."""
    names = [d.name for d in layout.variant_dirs(models_dir)]
    body = post_png(client, png).get_json()
    custom = sorted(set(names) - set(VARIANT_NAMES))
    assert_full_answer(body, [name for name in VARIANT_NAMES if name in names] + custom)
    for name, answer in body["variants"].items():
        metadata = layout.read_metadata(layout.newest_version(models_dir / name))
        assert answer["weight_sparsity"] == metadata["weight_sparsity"]
        assert answer["version"] == layout.versions(models_dir / name)[-1]
        assert answer["label"] == metadata["variant"]["label"]
    assert body["data"]["name"] == metadata["data"]["name"]
    assert body["data_source"] == body["data"]  # the deprecated name, for one release


@pytest.mark.parametrize("top", [1, 5, NUM_CLASSES])
def test_top_k_lists_k_labels(client, png, top):
    body = post_png(client, png, f"?top={top}").get_json()
    for answer in body["variants"].values():
        assert len(answer["top"]) == top
    if top == NUM_CLASSES:
        answer = next(iter(body["variants"].values()))
        assert sorted(e["label"] for e in answer["top"]) == sorted(LABELS)
        assert sum(e["probability"] for e in answer["top"]) == pytest.approx(1, abs=1e-4)


def test_every_input_kind_gives_the_same_answer(client, png):
    """Multipart, raw bytes, JSON base64 (with and without a data: URL), JSON pixels as drawn,
    and JSON pixels already in EMNIST form all reach the models as the same 28x28 image."""
    reference = post_png(client, png).get_json()
    pixels = reference["input"]["pixels"]
    b64 = base64.b64encode(png).decode()
    answers = {
        "multipart": client.post("/predict", data={"image": (io.BytesIO(png), "a.png")}),
        "octet-stream": client.post("/predict", data=png, content_type="application/octet-stream"),
        "json base64": client.post("/predict", json={"image": b64}),
        "json data URL": client.post("/predict", json={"image": f"data:image/png;base64,{b64}"}),
        "json pixels, preprocessed": client.post(
            "/predict", json={"pixels": pixels, "preprocessed": True}),
    }
    for kind, answer in answers.items():
        assert answer.status_code == 200, (kind, answer.get_json())
        body = answer.get_json()
        assert body["input"]["pixels"] == pixels, kind
        for name, result in body["variants"].items():
            assert_same_top(result, reference["variants"][name])
    assert answers["json pixels, preprocessed"].get_json()["input"]["preprocessed"] is True


def test_json_pixels_not_preprocessed_are_brought_to_emnist_form(client):
    """A 28x28 dark-on-light drawing off centre is inverted, cropped and centred first."""
    raw = np.full((28, 28), 255)
    raw[2:12, 2:5] = 0  # a small dark bar in the top-left corner
    body = client.post("/predict", json={"pixels": raw.tolist()}).get_json()
    seen = np.asarray(body["input"]["pixels"])
    assert body["input"]["preprocessed"] is False
    assert seen[0].max() == 0 and seen[:, 0].max() == 0  # the border is paper now: black
    assert seen[10:18, 10:18].max() == 255  # the ink sits in the centre, white


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_common_formats_and_polarities_are_read(client, fmt):
    """Dark on light, light on dark and a transparent canvas, in every common format, reach
    the models as nearly the same white-on-black character."""
    images = {"dark on light": draw("T", 300), "light on dark": draw("T", 300, ink=255, paper=0),
              "transparent canvas": draw("T", 300, mode="RGBA")}
    seen = {}
    for kind, image in images.items():
        if fmt in ("BMP", "JPEG") and image.mode == "RGBA":
            image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
        answer = client.post("/predict?variant=none", data=encode(image, fmt),
                             content_type=f"image/{fmt.lower()}")
        assert answer.status_code == 200, (kind, answer.get_json())
        seen[kind] = np.asarray(answer.get_json()["input"]["pixels"], dtype=float)
    for kind, pixels in seen.items():
        assert np.corrcoef(pixels.ravel(), seen["dark on light"].ravel())[0, 1] > 0.95, kind


def test_activation_sparsity_is_measured_on_each_input(client):
    """Different characters switch different units off: the shares differ between inputs."""
    shares = []
    for shape in ("A", "L", "O"):
        body = post_png(client, encode(draw(shape))).get_json()
        shares.append({name: tuple(answer["activation_sparsity"].values())
                       for name, answer in body["variants"].items()})
    for name in shares[0]:
        assert len({share[name] for share in shares}) > 1, name


def test_agreement_counts_each_label_once_per_variant(client, png):
    body = post_png(client, png, "?variant=none,l2_activity,l1_activity").get_json()
    assert_agreement(body)


def test_concurrent_requests_are_batched_and_answered_each_with_its_own_image(app):
    """Eight threads at once: every answer is the one its own image gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    images = [encode(draw(shape, size)) for shape in "ALTO" for size in (120, 200)]
    alone = [post_png(app.test_client(), data).get_json()["input"]["pixels"] for data in images]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda d: post_png(app.test_client(), d).get_json(), images))
    assert [body["input"]["pixels"] for body in together] == alone
    # That batches formed at all is shown by tests/test_batching.py (the histogram's count/sum).
