"""One request per documented V2 (path, method, status), for tests/test_openapi.py."""

from __future__ import annotations

import json

IMAGE = {"name": "image", "datatype": "FP32", "shape": [1, 28, 28, 1], "data": [0.0] * 784}


def _infer(ctx, path: str, body: object, content_type: str = "application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return ctx.client.post(path, data=data, content_type=content_type)


def _too_large(ctx):
    ctx.monkeypatch.setitem(ctx.app.config, "MAX_CONTENT_LENGTH", 100)
    return _infer(ctx, "/v2/models/none/infer", {"inputs": [IMAGE]})


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
    ("/v2/repository/index", "post", "200"): lambda c: c.client.post("/v2/repository/index"),
    ("/v2/repository/index", "post", "400"): lambda c: _infer(
        c, "/v2/repository/index", {"ready": "yes"}),
}
