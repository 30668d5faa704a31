"""Every error of the HTTP API is JSON with the right status: bad input 400, size and pixel
limits 413, wrong method 405, unknown route 404, an unexpected failure 500, no models 503."""

from __future__ import annotations

import base64
import io
import json
import logging

import pytest
from PIL import Image

from benchmarks.drawing import draw, encode
from benchmarks.hostile_corpus import multipart
from tests.support.api import override_settings, post_png

BAD_REQUESTS = [
    # (why, keyword arguments of client.post, status, error code)
    ("no body at all", {}, 400, "missing_image"),
    ("an empty PNG body", {"data": b"", "content_type": "image/png"}, 400, "invalid_image"),
    ("bytes that are no image", {"data": b"hello" * 20, "content_type": "image/png"}, 400,
     "invalid_image"),
    ("a truncated PNG", {"data": encode(draw("A"))[:200], "content_type": "image/png"}, 400,
     "invalid_image"),
    ("a blank white image", {"data": encode(Image.new("L", (50, 50), 255)),
                             "content_type": "image/png"}, 400, "invalid_image"),
    ("multipart without the image field", {"data": {"file": (io.BytesIO(b"x"), "a.png")}}, 400,
     "missing_image"),
    # Written as clients write it: Werkzeug's test client leaves out the line break that ends
    # an empty part, and a strict parser then finds no part at all.
    ("multipart with an empty file", dict(zip(("data", "content_type"), multipart(b""),
                                              strict=True)), 400, "invalid_image"),
    ("multipart without a boundary", {"data": multipart(b"x")[0],
                                      "content_type": "multipart/form-data"}, 400,
     "invalid_multipart"),
    ("multipart whose boundary never comes", {"data": multipart(b"x")[0],
                                              "content_type": "multipart/form-data; boundary=zz"},
     400, "invalid_multipart"),
    ("multipart with the image as a plain field (no filename)", {
        "data": b'--b\r\nContent-Disposition: form-data; name="image"\r\n\r\nA\r\n--b--\r\n',
        "content_type": "multipart/form-data; boundary=b"}, 400, "missing_image"),
    ("invalid JSON", {"data": b"{nope", "content_type": "application/json"}, 400,
     "invalid_json"),
    ("deeply nested JSON (refused for its size before parsing)",
     {"data": b"[" * 100_000 + b"]" * 100_000, "content_type": "application/json"}, 413,
     "payload_too_large"),
    ("a JSON array", {"json": [1, 2, 3]}, 400, "invalid_json"),
    ("JSON with neither image nor pixels", {"json": {"img": "x"}}, 400, "missing_image"),
    ("JSON with both image and pixels", {"json": {"image": "", "pixels": []}}, 400,
     "invalid_json"),
    ("base64 that is not base64", {"json": {"image": "***not base64***"}}, 400,
     "invalid_base64"),
    ("an image that is not a string", {"json": {"image": 42}}, 400, "invalid_base64"),
    ("valid base64 of no image", {"json": {"image": base64.b64encode(b"x" * 99).decode()}}, 400,
     "invalid_image"),
    ("pixels of the wrong shape", {"json": {"pixels": [[0] * 27] * 28}}, 400, "invalid_pixels"),
    ("ragged pixels", {"json": {"pixels": [[0] * 28] * 27 + [[0] * 5]}}, 400, "invalid_pixels"),
    ("pixels that are strings", {"json": {"pixels": [["1"] * 28] * 28}}, 400, "invalid_pixels"),
    ("pixels that are booleans", {"json": {"pixels": [[True] * 28] * 28}}, 400, "invalid_pixels"),
    ("pixels nested too deep", {"json": {"pixels": [[[0]] * 28] * 28}}, 400, "invalid_pixels"),
    ("pixels out of range", {"json": {"pixels": [[300] * 28] * 28}}, 400, "invalid_pixels"),
    ("NaN pixels", {"data": json.dumps({"pixels": [[float("nan")] * 28] * 28}),
                    "content_type": "application/json"}, 400, "invalid_pixels"),
    ("preprocessed that is no boolean", {"json": {"pixels": [[0] * 28] * 28,
                                                  "preprocessed": "yes"}}, 400, "invalid_pixels"),
    ("plain text", {"data": b"A", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ("a form post", {"data": {"image": "abc"}, "content_type": "application/x-www-form-urlencoded"},
     415, "unsupported_media_type"),
    ("a body without a content type", {"data": encode(draw("A")), "content_type": ""}, 415,
     "unsupported_media_type"),
    ("an image claiming 30,000 x 30,000 pixels", {"data": encode(Image.new("1", (30000, 30000))),
                                                  "content_type": "image/png"}, 413,
     "image_too_large"),
]


@pytest.mark.parametrize("why, kwargs, status, code", BAD_REQUESTS,
                         ids=[case[0] for case in BAD_REQUESTS])
def test_bad_input_gets_the_right_4xx_as_json(client, why, kwargs, status, code):
    answer = client.post("/predict", **kwargs)
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["error"] == code and isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize("top", ["0", "48", "-1", "three", "2.5"])
def test_a_bad_top_is_400(client, png, top):
    answer = post_png(client, png, f"?top={top}")
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_parameter"


def test_a_body_over_the_size_limit_is_413(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    for kwargs in ({"data": b"x" * 5000, "content_type": "image/png"},
                   {"data": {"image": (io.BytesIO(b"x" * 5000), "a.png")}}):
        answer = client.post("/predict", **kwargs)
        assert answer.status_code == 413 and answer.get_json()["error"] == "payload_too_large"


@pytest.mark.parametrize("content_type", ["image/png", "application/json"])
def test_a_chunked_body_over_the_size_limit_is_413_not_a_cut_off_image(
        app, client, monkeypatch, content_type):
    """Without Content-Length (chunked) the limit holds too; a small chunked body is read whole."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    # How gunicorn hands a chunked body to the app: no Content-Length, a terminated stream.
    terminated = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
    answer = client.post("/predict", input_stream=io.BytesIO(b"x" * 5000),
                         content_type=content_type, environ_overrides=terminated)
    assert answer.status_code == 413 and answer.get_json()["error"] == "payload_too_large"
    small = encode(draw("L", 40))
    assert len(small) < 1000
    answer = client.post("/predict?variant=none", input_stream=io.BytesIO(small),
                         content_type="image/png", environ_overrides=terminated)
    assert answer.status_code == 200, answer.get_json()


def test_the_pixel_limit_and_the_decompression_bomb_guard_are_413(app, client, monkeypatch):
    """A small file that decodes to too many pixels is refused from its header."""
    override_settings(monkeypatch, app, max_image_pixels=100 * 100)
    answer = post_png(client, encode(draw("A", 200)))
    assert answer.status_code == 413 and answer.get_json()["error"] == "image_too_large"
    override_settings(monkeypatch, app, max_image_pixels=10**12)  # only Pillow's guard is left
    bomb = encode(Image.new("1", (15000, 15000)))  # 225 M pixels, a few KB of PNG
    answer = post_png(client, bomb)
    assert answer.status_code == 413 and answer.get_json()["error"] == "image_too_large"


@pytest.mark.parametrize("method, path", [("GET", "/predict"), ("PUT", "/predict"),
                                          ("POST", "/variants"), ("DELETE", "/readyz")])
def test_a_wrong_method_is_405_as_json_with_allow(client, method, path):
    answer = client.open(path, method=method)
    assert answer.status_code == 405 and answer.get_json()["error"] == "method_not_allowed"
    assert answer.headers["Allow"]


def test_an_unknown_route_is_404_as_json(client):
    answer = client.get("/no/such/thing")
    assert answer.status_code == 404 and answer.mimetype == "application/json"
    assert answer.get_json()["error"] == "not_found"


def test_an_unexpected_failure_is_a_logged_json_500(app, client, png, monkeypatch, caplog):
    engine = app.extensions["regserve"].registry.snapshot.engine

    def broken(*args, **kwargs):
        raise RuntimeError("simulated fault")

    monkeypatch.setattr(engine, "run_packed", broken)
    with caplog.at_level(logging.ERROR):
        answer = post_png(client, png)
    assert answer.status_code == 500 and answer.get_json()["error"] == "internal_error"
    assert "simulated fault" not in answer.get_data(as_text=True)
    assert "simulated fault" in caplog.text


def test_no_models_means_not_ready_and_503(tmp_path):
    from server import create_app

    client = create_app(models_dir=tmp_path, reload_interval=0).test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["error"] == "not_ready"
    answer = client.post("/predict", data=encode(draw("A")), content_type="image/png")
    assert answer.status_code == 503 and answer.get_json()["error"] == "not_ready"
