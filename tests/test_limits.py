"""Requests are refused by what they would cost before the cost is paid: sides, JSON length and
values, and a per-worker pixel budget for large decodes."""

from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest
from PIL import Image

from server.errors import ApiError
from server.intake import files as intake


def png(width: int, height: int) -> bytes:
    array = np.full((height, width), 255, np.uint8)
    array[height // 2, :] = 0
    array[:, width // 2] = 0
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def post(client, body: bytes, content_type: str):
    return client.post("/predict", data=body, content_type=content_type)


def test_a_long_thin_image_is_refused_from_its_header(client):
    answer = post(client, png(3, 40_000), "image/png")
    assert answer.status_code == 413 and answer.get_json()["error"] == "image_too_large"
    assert "10,000 pixels on a side" in answer.get_json()["detail"]
    assert post(client, png(10_000, 3), "image/png").status_code != 413  # the corpus's strip


def test_json_over_its_length_limit_is_refused_before_it_is_read(client):
    body = json.dumps({"image": "A" * (3 * 2**20)}).encode()
    answer = post(client, body, "application/json")
    assert answer.status_code == 413 and "JSON bodies may have at most" in answer.get_json()[
        "detail"]


def test_json_with_more_values_than_a_28x28_array_is_refused_unparsed(client):
    many = b'{"pixels": [[' + b"0," * 5_000 + b"0]]}"
    answer = post(client, many, "application/json")
    assert answer.status_code == 413 and "a 28x28 pixel array has 813" in answer.get_json()[
        "detail"]
    pixels = [[0] * 28 for _ in range(28)]
    pixels[10][10:18] = [255] * 8
    assert post(client, json.dumps({"pixels": pixels}).encode(),
                "application/json").status_code == 200
    text = json.dumps({"pixels": pixels})
    assert text.count(",") + text.count("[") + text.count("{") == 813


def test_large_decodes_wait_for_the_budget_and_get_503_when_it_stays_full(monkeypatch):
    monkeypatch.setattr(intake, "BUDGET_WAIT_SECONDS", 0.2)
    budget, limit = intake.PixelBudget(decodes_at_once=2), 4_000_000
    with budget.reserve(limit, limit), budget.reserve(limit, limit):
        with pytest.raises(ApiError) as full:
            with budget.reserve(limit, limit):
                pass
        assert full.value.status == 503
        with budget.reserve(1000, limit):  # small images never wait
            pass
    released = threading.Event()

    def hold_then_release():
        with budget.reserve(limit, limit), budget.reserve(limit, limit):
            released.wait(0.1)

    holder = threading.Thread(target=hold_then_release)
    holder.start()
    released.set()
    with budget.reserve(limit, limit):  # gets in once the holder lets go
        pass
    holder.join()
