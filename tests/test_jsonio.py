"""The orjson provider writes the JSON the stdlib would, where the stdlib's output is valid JSON."""

from __future__ import annotations

import datetime
import json
import math

import numpy as np
import pytest

pytest.importorskip("orjson")
from flask import Flask  # noqa: E402

from server.jsonio import OrjsonProvider, loads  # noqa: E402


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


@pytest.mark.parametrize("body", [
    b'{"pixels": [[0, 255.0, 1e-3, -0.0]], "preprocessed": true}',
    b'{"a": NaN, "b": Infinity, "c": -Infinity}',  # JSON to Python, not to orjson
    b'{"big": 123456789012345678901234567890, "huge": 1e400}',
    b'{"dup": 1, "dup": 2, "text": "\\u00e9\\ud83d\\ude00"}',
    b'[1, [2, [3, {"x": null}]]]',
    b'  {"spaces": 0.1}  ',
])
def test_request_json_parses_as_the_stdlib_does(body):
    got, want = loads(body), json.loads(body)
    assert repr(got) == repr(want)  # repr: NaN == NaN is false; types and key order count


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1,}', b"\xff\xfe", b"[1] [2]", b"nul"])
def test_request_json_refuses_as_the_stdlib_does(body):
    with pytest.raises(ValueError) as ours:
        loads(body)
    with pytest.raises(ValueError) as theirs:
        json.loads(body)
    assert str(ours.value) == str(theirs.value)
