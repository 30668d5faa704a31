"""One intake for every uploaded image: /predict and V2's ``image_bytes`` open each upload once,
check its sides and pixels and a batch's summed pixels from the headers, and decode inside the
worker's budget."""

from __future__ import annotations

import base64
import io
import threading
import time

import numpy as np
import pytest
import requests
from PIL import Image

from benchmarks.drawing import encode
from benchmarks.hostile import png as stroke_png
from benchmarks.hostile_images import glyph
from benchmarks.hostile_v2 import v2_body
from server.intake import files as intake
from tests.support.api import decode_budget_full, override_settings

V2_INFER = "/v2/models/none/infer"


def strip_png(width: int, height: int) -> bytes:
    """A white strip with a cross of ink: few pixels, a long side."""
    array = np.full((height, width), 255, np.uint8)
    array[height // 2, :] = 0
    array[:, width // 2] = 0
    return encode(Image.fromarray(array), "PNG")


def post_v2(client, images: list[bytes]):
    body, headers = v2_body(images)
    return client.post(V2_INFER, data=body, headers=headers, content_type="application/json")


@pytest.mark.parametrize("form", ["raw", "multipart", "json"])
def test_an_upload_is_opened_once(client, monkeypatch, form):
    """Each form of /predict upload reads the image header once (it was read twice before)."""
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *args, **kw: opened.append(1) or real_open(*args,
                                                                                          **kw))
    png = encode(glyph(), "PNG")
    if form == "raw":
        answer = client.post("/predict?variant=none", data=png, content_type="image/png")
    elif form == "multipart":
        answer = client.post("/predict?variant=none", data={"image": (io.BytesIO(png), "a.png")},
                             content_type="multipart/form-data")
    else:
        answer = client.post("/predict?variant=none",
                             json={"image": base64.b64encode(png).decode()})
    assert answer.status_code == 200 and len(opened) == 1


def test_v2_images_get_the_side_check_that_predict_uploads_get(client):
    """A 3 x 40,000 strip is under the pixel limit but over the side limit: 413 on both routes."""
    strip = strip_png(3, 40_000)
    predicted = client.post("/predict", data=strip, content_type="image/png")
    inferred = post_v2(client, [strip])
    assert predicted.status_code == inferred.status_code == 413
    assert predicted.get_json()["detail"] == inferred.get_json()["error"]
    assert "at most 10,000 pixels on a side" in inferred.get_json()["error"]


def test_a_v2_batch_over_its_pixels_is_refused_from_the_headers(app, client, monkeypatch):
    """Three 64 x 64 images fit a limit of 3 x 4096 pixels; four are refused (413, V2's
    {"error"}) before a single image is decoded."""
    override_settings(monkeypatch, app, max_batch_pixels=3 * 64 * 64)
    png = encode(glyph((64, 64)), "PNG")
    decoded = []
    real_load = intake.load_image
    monkeypatch.setattr(intake, "load_image", lambda *a, **kw: decoded.append(1) or real_load(
        *a, **kw))
    assert post_v2(client, [png] * 3).status_code == 200 and len(decoded) == 3
    decoded.clear()
    answer = post_v2(client, [png] * 4)
    assert answer.status_code == 413 and decoded == []
    assert set(answer.get_json()) == {"error"}
    assert ("4 images declare 16,384 pixels together; at most 12,288 pixels"
            in answer.get_json()["error"])


def test_a_batch_frees_each_image_once_it_is_read(app, monkeypatch):
    """A batch holds its opened uploads until the last one is read; each one's decoded pixels
    are released as soon as it is read (16-bit PNGs measured: +8 MB per held 2048 x 2048 image
    without this), so a batch at the pixel limit costs a worker one image's memory at a time."""
    opened = []
    real_open = intake.open_upload

    def recording_open(*args):
        opened.append(real_open(*args))
        return opened[-1]

    monkeypatch.setattr(intake, "open_upload", recording_open)
    gif = encode(glyph(), "GIF")  # Pillow decodes GIFs into the opened image itself
    pixels = intake.read_images([gif] * 3, app.extensions["regserve"].settings)
    assert pixels.shape == (3, 28, 28) and len(opened) == 3
    for upload in opened:
        with pytest.raises(ValueError, match="closed image"):
            upload.image.getpixel((0, 0))


def test_v2_large_images_wait_for_the_worker_decode_budget(app, client, monkeypatch):
    """While the worker decodes images at the pixel limit, a large V2 image waits for room
    and then gets 503 as V2's {"error"}, as a /predict upload does."""
    monkeypatch.setattr(intake, "BUDGET_WAIT_SECONDS", 0.2)
    limit = app.extensions["regserve"].settings.max_image_pixels
    large = strip_png(1100, 1100)  # over SMALL_IMAGE_PIXELS, so it asks the budget
    assert 1100 * 1100 > intake.SMALL_IMAGE_PIXELS
    with decode_budget_full(limit):
        inferred = post_v2(client, [large])
        predicted = client.post("/predict", data=large, content_type="image/png")
    assert inferred.status_code == predicted.status_code == 503
    assert "decoding other large images" in inferred.get_json()["error"]
    assert post_v2(client, [large]).status_code == 200


def test_256_large_pngs_in_one_v2_request_get_a_json_413_at_once(live_server):
    """256 valid 2048 x 2048 PNGs (1.07 G pixels declared, about 4 MB sent) are refused from
    their headers in under 0.5 s each time, while /healthz keeps answering."""
    body, headers = v2_body([stroke_png(2048, "L")] * 256)
    assert 4_000_000 < len(body) < 5_000_000
    url = f"{live_server.url}{V2_INFER}"
    answers: list[tuple[int, str, float]] = []

    def infer_three_times() -> None:
        with requests.Session() as session:
            for _ in range(3):
                started = time.perf_counter()
                answer = session.post(url, data=body, timeout=60,
                                      headers={**headers, "Content-Type": "application/json"})
                answers.append((answer.status_code, answer.json().get("error", ""),
                                time.perf_counter() - started))

    sender = threading.Thread(target=infer_three_times)
    sender.start()
    health = []
    while sender.is_alive() or not health:
        started = time.perf_counter()
        status = requests.get(f"{live_server.url}/healthz", timeout=10).status_code
        health.append((status, time.perf_counter() - started))
    sender.join()
    assert [status for status, _, _ in answers] == [413] * 3
    assert all("256 images declare" in error for _, error, _ in answers)
    assert max(seconds for _, _, seconds in answers) < 0.5, answers
    assert {status for status, _ in health} == {200} and max(s for _, s in health) < 0.5
