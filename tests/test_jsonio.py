"""The orjson provider writes the JSON the stdlib would, where the stdlib's output is valid JSON."""

from __future__ import annotations

import datetime
import json
import math

import numpy as np
import pytest

pytest.importorskip("orjson")
from flask import Flask  # noqa: E402

from server.jsonio import OrjsonProvider  # noqa: E402


@pytest.fixture()
def provider():
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.json.sort_keys = False
    return app.json


def test_the_same_document_as_the_stdlib_in_the_same_key_order(provider, client, png):
    answer = client.post("/predict", data=png, content_type="image/png")
    document = json.loads(answer.get_data())
    assert answer.get_data().endswith(b"\n")
    ours = provider.dumps(document)
    assert json.loads(ours) == document
    assert list(json.loads(ours)) == list(document)  # insertion order, not sorted
    assert ours == json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def test_types_the_stdlib_encoder_cannot_write(provider):
    document = {"n": np.float32(0.5), "a": np.arange(3), 7: "int key",
                "when": datetime.date(2026, 11, 25), "nan": math.nan}
    assert json.loads(provider.dumps(document)) == {
        "n": 0.5, "a": [0, 1, 2], "7": "int key", "when": "Wed, 25 Nov 2026 00:00:00 GMT",
        "nan": None}
    with pytest.raises(TypeError):
        provider.dumps({"x": object()})
