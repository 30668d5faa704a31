"""One request per documented V2 (path, method, status), for tests/test_openapi.py."""

from __future__ import annotations

import base64
import json

from PIL import Image, ImageDraw

from benchmarks.drawing import encode
from server.intake import files as intake
from tests.support.api import decode_budget_full

IMAGE = {"name": "image", "datatype": "FP32", "shape": [1, 28, 28, 1], "data": [0.0] * 784}


def _infer(ctx, path: str, body: object, content_type: str = "application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return ctx.client.post(path, data=data, content_type=content_type)


def _too_large(ctx):
    ctx.monkeypatch.setitem(ctx.app.config, "MAX_CONTENT_LENGTH", 100)
    return _infer(ctx, "/v2/models/none/infer", {"inputs": [IMAGE]})


def _busy(ctx, path: str):
    """A large encoded image while the worker's decode budget stays full: 503."""
    ctx.monkeypatch.setattr(intake, "BUDGET_WAIT_SECONDS", 0.05)
    large = Image.new("L", (1100, 1100), 255)  # over intake.SMALL_IMAGE_PIXELS: asks the budget
    ImageDraw.Draw(large).line([(200, 200), (900, 900)], fill=0, width=30)
    data = base64.b64encode(encode(large, "PNG")).decode()
    body = {"inputs": [{"name": "image_bytes", "datatype": "BYTES", "shape": [1], "data": [data]}]}
    limit = ctx.app.extensions["regserve"].settings.max_image_pixels
    with decode_budget_full(limit):
        return _infer(ctx, path, body)


def _version(ctx) -> str:
    return str(ctx.app.extensions["regserve"].registry.snapshot.variants["none"].version)


def _versioned(ctx, suffix: str = "", version: str | None = None) -> str:
    return f"/v2/models/none/versions/{version or _version(ctx)}{suffix}"


V2_CASES = {
    ("/v2", "get", "200"): lambda c: c.client.get("/v2"),
    ("/v2/health/live", "get", "200"): lambda c: c.client.get("/v2/health/live"),
    ("/v2/health/ready", "get", "200"): lambda c: c.client.get("/v2/health/ready"),
    ("/v2/health/ready", "get", "503"): lambda c: c.empty_app.test_client().get(
        "/v2/health/ready"),
    ("/v2/models/{name}", "get", "200"): lambda c: c.client.get("/v2/models/none"),
    ("/v2/models/{name}", "get", "404"): lambda c: c.client.get("/v2/models/nope"),
    ("/v2/models/{name}/ready", "get", "200"): lambda c: c.client.get("/v2/models/none/ready"),
    ("/v2/models/{name}/ready", "get", "404"): lambda c: c.client.get("/v2/models/nope/ready"),
    ("/v2/models/{name}/infer", "post", "200"): lambda c: _infer(
        c, "/v2/models/none/infer", {"id": "1", "inputs": [IMAGE]}),
    ("/v2/models/{name}/infer", "post", "400"): lambda c: _infer(
        c, "/v2/models/none/infer", {"inputs": "nope"}),
    ("/v2/models/{name}/infer", "post", "404"): lambda c: _infer(
        c, "/v2/models/nope/infer", {"inputs": [IMAGE]}),
    ("/v2/models/{name}/infer", "post", "413"): _too_large,
    ("/v2/models/{name}/infer", "post", "503"): lambda c: _busy(c, "/v2/models/none/infer"),
    ("/v2/models/{name}/versions/{version}", "get", "200"): lambda c: c.client.get(
        _versioned(c)),
    ("/v2/models/{name}/versions/{version}", "get", "404"): lambda c: c.client.get(
        _versioned(c, version="999")),
    ("/v2/models/{name}/versions/{version}/ready", "get", "200"): lambda c: c.client.get(
        _versioned(c, "/ready")),
    ("/v2/models/{name}/versions/{version}/ready", "get", "404"): lambda c: c.client.get(
        _versioned(c, "/ready", "999")),
    ("/v2/models/{name}/versions/{version}/infer", "post", "200"): lambda c: _infer(
        c, _versioned(c, "/infer"), {"inputs": [IMAGE]}),
    ("/v2/models/{name}/versions/{version}/infer", "post", "400"): lambda c: _infer(
        c, _versioned(c, "/infer"), b"{", "application/octet-stream"),
    ("/v2/models/{name}/versions/{version}/infer", "post", "404"): lambda c: _infer(
        c, _versioned(c, "/infer", "999"), {"inputs": [IMAGE]}),
    ("/v2/models/{name}/versions/{version}/infer", "post", "413"): _too_large,
    ("/v2/models/{name}/versions/{version}/infer", "post", "503"): lambda c: _busy(
        c, _versioned(c, "/infer")),
    ("/v2/repository/index", "post", "200"): lambda c: c.client.post("/v2/repository/index"),
    ("/v2/repository/index", "post", "400"): lambda c: _infer(
        c, "/v2/repository/index", {"ready": "yes"}),
}
