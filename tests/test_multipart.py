"""Multipart uploads are read by python-multipart: the file it finds is the one Werkzeug's own
form parser finds, for bodies as clients write them; and its limits and errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from flask import request

from benchmarks.bodies import body_sets
from benchmarks.bodies import multipart as bench_multipart
from server.errors import ApiError
from server.intake.forms import MAX_FORM_PARTS, read_upload


@pytest.fixture(scope="module")
def pngs() -> list[bytes]:
    rng = np.random.default_rng(5)
    characters = [(rng.integers(0, 256, (28, 28)) * (rng.random((28, 28)) > 0.6)).astype(np.uint8)
                  for _ in range(2)]
    sets = body_sets(characters)
    return [sets["canvas"][0], sets["photo"][1], b"", b"\r\n--not-a-boundary\r\n" * 3]


def encoded_by_requests(files, data=None) -> tuple[bytes, str]:
    prepared = requests.Request("POST", "http://127.0.0.1/", files=files, data=data).prepare()
    return prepared.body, prepared.headers["Content-Type"]


def bodies(png: bytes) -> list[tuple[bytes, str]]:
    """One image field, written by several encoders, with and without other fields around."""
    made = [encoded_by_requests({"image": ("drawing.png", png, "image/png")}),
            encoded_by_requests({"other": ("x.txt", b"x"), "image": ("a.png", png)},
                                {"note": "before and after"}),
            bench_multipart("image", "c.png", png)]
    body, content_type = made[0]
    boundary = content_type.split("boundary=")[1]
    made.append((body, f'multipart/form-data; boundary="{boundary}"'))  # quoted
    return made


def werkzeug_reads(app, body: bytes, content_type: str) -> bytes:
    with app.test_request_context("/predict", method="POST", data=body,
                                  content_type=content_type):
        return request.files["image"].read()


def ours(app, body: bytes, content_type: str) -> bytes:
    with app.test_request_context("/predict", method="POST", data=body,
                                  content_type=content_type):
        return read_upload(request)


def test_the_upload_read_is_the_file_werkzeug_reads(app, pngs):
    for png in pngs:
        for body, content_type in bodies(png):
            assert ours(app, body, content_type) == werkzeug_reads(app, body, content_type) == png


def test_an_image_field_sent_twice_gives_the_first(app, pngs):
    body, content_type = encoded_by_requests([("image", ("a.png", pngs[0])),
                                              ("image", ("b.png", pngs[1]))])
    assert ours(app, body, content_type) == pngs[0]


def test_a_missing_image_field_names_the_fields_that_were_sent(app, pngs):
    body, content_type = encoded_by_requests({"file": ("a.png", pngs[0])}, {"image": "text"})
    with pytest.raises(ApiError) as caught:
        ours(app, body, content_type)
    assert caught.value.status == 400 and caught.value.error == "missing_image"
    assert "no file field 'image' (fields sent: file, image)" in caught.value.detail


def test_more_parts_than_the_limit_is_413_and_the_limit_itself_is_read(app, pngs):
    def many(count: int) -> tuple[bytes, str]:
        fields = [(f"f{index}", (None, b"x")) for index in range(count - 1)]
        return encoded_by_requests([*fields, ("image", ("a.png", pngs[0]))])

    assert ours(app, *many(MAX_FORM_PARTS)) == pngs[0]
    with pytest.raises(ApiError) as caught:
        ours(app, *many(MAX_FORM_PARTS + 1))
    assert caught.value.status == 413 and caught.value.error == "payload_too_large"


def test_a_part_without_a_name_is_a_400_naming_the_problem(app):
    body = (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n")
    with pytest.raises(ApiError) as caught:
        ours(app, body, "multipart/form-data; boundary=b")
    assert caught.value.status == 400 and caught.value.error == "invalid_multipart"
    assert "could not be read" in caught.value.detail


def test_werkzeug_s_test_client_still_reaches_the_route_with_a_file(client, png):
    answer = client.post("/predict", data={"image": (io.BytesIO(png), "a.png")})
    assert answer.status_code == 200 and answer.get_json()["input"]["kind"] == "multipart"
