"""The HTTP API in process (Flask's test client) and through the real gunicorn: inputs, answers,
variant selection, agreement, per-input activation sparsity, every error as JSON."""

from __future__ import annotations

import base64
import io
import json
import logging

import numpy as np
import pytest
import requests
from PIL import Image

from regserve_contracts import layout
from regserve_contracts.imaging import to_png
from regserve_contracts.labels import LABELS, NUM_CLASSES, char_to_label
from regserve_contracts.signature import ACTIVATION_LAYERS
from regserve_contracts.variants import VARIANT_NAMES
from tests._server_helpers import draw, encode, override_settings, shared_app


@pytest.fixture(scope="module")
def app(models_dir):
    return shared_app(str(models_dir))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def png() -> bytes:
    return encode(draw("A"))


@pytest.fixture(scope="module")
def real_png(request) -> bytes:
    """A real handwritten 'A' from the shared EMNIST sample, else a drawn one."""
    try:
        sample = request.getfixturevalue("real_sample")
    except pytest.skip.Exception:
        return encode(draw("A"))
    index = int(np.flatnonzero(sample["y_test"] == char_to_label("A"))[0])
    return to_png(sample["x_test"][index])


def post_png(client, data: bytes, query: str = ""):
    return client.post(f"/predict{query}", data=data, content_type="image/png")


def assert_same_top(answer: dict, reference: dict) -> None:
    """Same labels in the same order, probabilities equal up to float rounding."""
    assert [e["label"] for e in answer["top"]] == [e["label"] for e in reference["top"]]
    assert [e["probability"] for e in answer["top"]] == pytest.approx(
        [e["probability"] for e in reference["top"]], rel=1e-4, abs=1e-7)


def assert_full_answer(body: dict, names: list[str], top: int = 3) -> None:
    """Every variant answers with a label, top-k, weight and activation sparsity, version."""
    assert list(body["variants"]) == names
    for answer in body["variants"].values():
        probabilities = [entry["probability"] for entry in answer["top"]]
        assert len(answer["top"]) == top
        assert answer["prediction"] == answer["top"][0]["label"] and answer["prediction"] in LABELS
        assert probabilities == sorted(probabilities, reverse=True)
        assert all(0 <= p <= 1 for p in probabilities) and sum(probabilities) <= 1 + 1e-5
        assert set(answer["activation_sparsity"]) == set(ACTIVATION_LAYERS)
        assert all(0 <= share <= 1 for share in answer["activation_sparsity"].values())
        assert set(answer["weight_sparsity"]["all"]) == {"<1e-02", "<1e-03", "<1e-04", "==0"}
        assert isinstance(answer["version"], int) and answer["label"]
    votes = body["agreement"]["votes"]
    assert sum(votes.values()) == len(names)
    assert body["agreement"]["unanimous"] == (len(votes) == 1)
    assert votes[body["agreement"]["majority"]] == max(votes.values())
    pixels = np.asarray(body["input"]["pixels"])
    assert pixels.shape == (28, 28) and pixels.max() == 255
    echoed = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["input"]["image_png_base64"]))))
    assert np.array_equal(echoed, pixels)
    assert body["data_source"]["name"]


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
    assert body["data_source"]["name"] == metadata["data"]["name"]


@pytest.mark.parametrize("top", [1, 5, NUM_CLASSES])
def test_top_k_lists_k_labels(client, png, top):
    body = post_png(client, png, f"?top={top}").get_json()
    for answer in body["variants"].values():
        assert len(answer["top"]) == top
    if top == NUM_CLASSES:
        answer = next(iter(body["variants"].values()))
        assert sorted(e["label"] for e in answer["top"]) == sorted(LABELS)
        assert sum(e["probability"] for e in answer["top"]) == pytest.approx(1, abs=1e-4)


@pytest.mark.parametrize("query, expected", [
    ("?variant=none", ["none"]),
    ("?variant=l2_activity&variant=none", ["l2_activity", "none"]),
    ("?variant=l2_activity,none,l1_activity", ["l2_activity", "none", "l1_activity"]),
    ("?variant=none,none", ["none"]),
    ("?variant=all", list(VARIANT_NAMES)),
    ("?variant=none&variant=all", list(VARIANT_NAMES)),
])
def test_variant_selection_one_several_or_all(client, png, query, expected):
    """?variant= repeated or comma-separated, duplicates once, 'all' meaning every variant."""
    assert_full_answer(post_png(client, png, query).get_json(), expected)


def test_a_subset_answers_exactly_as_the_all_variant_call(client, png):
    """The fused function of a subset and a single variant's own signature agree with 'all'."""
    everything = post_png(client, png).get_json()["variants"]
    for query in ("?variant=none", "?variant=l1_activity,l2_kernel_bias,none"):
        for name, answer in post_png(client, png, query).get_json()["variants"].items():
            assert_same_top(answer, everything[name])
            assert answer["activation_sparsity"] == pytest.approx(
                everything[name]["activation_sparsity"], abs=1e-6)


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
    predictions = [answer["prediction"] for answer in body["variants"].values()]
    votes = body["agreement"]["votes"]
    assert votes == {label: predictions.count(label) for label in votes}
    assert set(votes) == set(predictions)


def test_concurrent_requests_are_batched_and_answered_each_with_its_own_image(app):
    """Eight threads at once: every answer is the one its own image gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    images = [encode(draw(shape, size)) for shape in "ALTO" for size in (120, 200)]
    alone = [post_png(app.test_client(), data).get_json()["input"]["pixels"] for data in images]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda d: post_png(app.test_client(), d).get_json(), images))
    assert [body["input"]["pixels"] for body in together] == alone
    # That batches formed at all is shown by tests/test_batching.py (the histogram's count/sum).


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
    ("multipart with an empty file", {"data": {"image": (io.BytesIO(b""), "a.png")}}, 400,
     "invalid_image"),
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


@pytest.mark.parametrize("query", ["?variant=nope", "?variant=none,nope", "?variant=../none",
                                   "?variant=/etc/passwd"])
def test_an_unknown_variant_is_404_listing_the_valid_names(client, png, query):
    answer = post_png(client, png, query)
    assert answer.status_code == 404
    body = answer.get_json()
    assert body["error"] == "unknown_variant" and body["valid_variants"] == list(VARIANT_NAMES)
    assert "none" in body["detail"]


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

    monkeypatch.setattr(engine, "run", broken)
    with caplog.at_level(logging.ERROR):
        answer = post_png(client, png)
    assert answer.status_code == 500 and answer.get_json()["error"] == "internal_error"
    assert "simulated fault" not in answer.get_data(as_text=True)
    assert "simulated fault" in caplog.text


def test_variants_lists_every_variant_with_its_training_and_scores(client, models_dir):
    body = client.get("/variants").get_json()
    names = [d.name for d in layout.variant_dirs(models_dir)]
    assert sorted(entry["name"] for entry in body["variants"]) == sorted(names)
    assert body["failed"] == []
    for entry in body["variants"]:
        metadata = layout.read_metadata(layout.newest_version(models_dir / entry["name"]))
        assert entry["test"] == metadata["test"] and 0 <= entry["test"]["accuracy"] <= 1
        assert entry["penalty"] == metadata["variant"]
        assert entry["data_source"] == metadata["data"]
        assert entry["weight_sparsity"] == metadata["weight_sparsity"]
        assert entry["history"] == metadata["history"]


def test_one_variant_in_detail_or_404_listing_the_names(client):
    detail = client.get("/variants/l1_activity").get_json()
    assert detail["name"] == "l1_activity" and detail["labels"] == list(LABELS)
    answer = client.get("/variants/nope")
    assert answer.status_code == 404 and answer.get_json()["valid_variants"] == list(VARIANT_NAMES)


def test_health_readiness_and_metrics(client, png):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and set(ready["loaded"]) == set(VARIANT_NAMES)
    post_png(client, png, "?variant=none")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'regserve_predictions_total{variant="none"}' in text
    assert 'regserve_http_requests_total{endpoint="/predict",method="POST",status="200"}' in text
    assert 'regserve_prediction_seconds_bucket{le="0.05",variant="none"}' in text
    assert f"regserve_models_loaded {float(len(VARIANT_NAMES))}" in text


def test_no_models_means_not_ready_and_503(tmp_path):
    from server import create_app

    client = create_app(models_dir=tmp_path, reload_interval=0).test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["error"] == "not_ready"
    answer = client.post("/predict", data=encode(draw("A")), content_type="image/png")
    assert answer.status_code == 503 and answer.get_json()["error"] == "not_ready"


def test_page_and_reports_are_served_without_path_traversal(app, client, monkeypatch, tmp_path):
    def fetch(path: str):
        with client.get(path, follow_redirects=True) as answer:  # '//' redirects first
            return answer.status_code, answer.mimetype, answer.get_data()

    assert fetch("/")[:2] == (200, "text/html")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "results.md").write_text("| variant |\n")
    (tmp_path / "secret.txt").write_text("secret")
    override_settings(monkeypatch, app, models_dir=tmp_path)
    assert client.get("/reports").get_json() == {"files": ["results.md"]}
    assert fetch("/reports/results.md")[2] == b"| variant |\n"
    for path in ("/reports/../secret.txt", "/reports/%2e%2e/secret.txt", "/reports/..%2fsecret.txt",
                 f"/reports/{tmp_path}/secret.txt", "/reports/missing.png"):
        status, _, data = fetch(path)
        assert status == 404 and b"secret" not in data, path


@pytest.mark.slow
def test_real_gunicorn_answers_a_handwritten_png_with_all_eight_variants(live_server, real_png):
    """The issue's demonstration: gunicorn with the project's config, trainer-made models."""
    answer = requests.post(f"{live_server.url}/predict", data=real_png,
                           headers={"Content-Type": "image/png"}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    assert_full_answer(answer.json(), list(VARIANT_NAMES))
    listed = requests.get(f"{live_server.url}/variants", timeout=30).json()
    assert [entry["name"] for entry in listed["variants"]] == list(VARIANT_NAMES)
    assert all(0 <= entry["test"]["accuracy"] <= 1 for entry in listed["variants"])
    upload = requests.post(f"{live_server.url}/predict?variant=none&top=5",
                           files={"image": ("a.png", real_png, "image/png")}, timeout=60)
    assert list(upload.json()["variants"]) == ["none"]
    assert len(upload.json()["variants"]["none"]["top"]) == 5
    metrics = requests.get(f"{live_server.url}/metrics", timeout=30).text
    assert 'regserve_predictions_total{variant="l2_activity"}' in metrics
