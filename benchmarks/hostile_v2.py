"""The hostile corpus's V2 bodies: the same bad images through ``image_bytes``, and bad batches.

The V2 infer route takes encoded images through the same intake as /predict, so each image gets
the answer it gets there; a batch is also bounded by the sum of its images' declared pixels, and
a few bodies break the protocol itself.
"""

from __future__ import annotations

import base64
import json
import struct

from benchmarks.drawing import encode
from benchmarks.hostile_images import (
    BAD,
    BLOBS_TOO_LARGE,
    OK,
    TOO_LARGE,
    claiming_huge,
    corrupt_images,
    crafted_png,
    glyph,
    not_images,
    odd_images,
    random_blobs,
    truncated_images,
)
from server.settings import DEFAULT_MAX_BATCH_PIXELS, DEFAULT_MAX_IMAGE_PIXELS
from server.v2.codec import HEADER_LENGTH, MAX_BATCH_IMAGES
from server.v2.routes import IMAGE_BYTES_INPUT

#: A V2 case: its name, its body, its extra headers and the statuses that are correct answers.
V2Case = tuple[str, bytes, dict[str, str], frozenset[int]]


def v2_body(images: list[bytes], binary: bool = False) -> tuple[bytes, dict[str, str]]:
    """An inference request carrying ``images`` as BYTES ``image_bytes``: base64 in JSON, or
    Triton's binary tensor data (length-prefixed elements after the JSON header)."""
    tensor = {"name": IMAGE_BYTES_INPUT, "datatype": "BYTES", "shape": [len(images)]}
    if not binary:
        tensor["data"] = [base64.b64encode(image).decode() for image in images]
        return json.dumps({"inputs": [tensor]}).encode(), {}
    raw = b"".join(struct.pack("<I", len(image)) + image for image in images)
    tensor["parameters"] = {"binary_data_size": len(raw)}
    header = json.dumps({"inputs": [tensor]}).encode()
    return header + raw, {HEADER_LENGTH: str(len(header))}


def image_cases() -> list[V2Case]:
    """Every hostile image of the /predict corpus, one per request, with the same verdict."""
    images = [(name, data, TOO_LARGE if index in BLOBS_TOO_LARGE else BAD)
              for index, (name, data) in enumerate(random_blobs(40))]
    images += [(name, data, BAD) for name, data in
               truncated_images() + corrupt_images() + not_images()]
    images += [(name, data, TOO_LARGE) for name, data in claiming_huge()]
    images += odd_images()
    cases = [(f"{name} [json]", *v2_body([data]), expect) for name, data, expect in images]
    cases += [(f"{name} [binary]", *v2_body([data], binary=True), TOO_LARGE)
              for name, data in claiming_huge()]
    return cases


def batch_cases() -> list[V2Case]:
    """Batches whose images are fine one by one but not together, and bodies that break V2."""
    png = encode(glyph(), "PNG")
    side = int(DEFAULT_MAX_IMAGE_PIXELS**0.5)
    # Headers without pixel data: decoding any of them would be a 400, so a 413 shows the sum
    # of the declared pixels was checked before the first decode.
    over_total = [crafted_png(side, side)] * (DEFAULT_MAX_BATCH_PIXELS // side**2 + 1)
    cases = [
        ("three glyphs", *v2_body([png] * 3), OK),
        ("three glyphs, binary", *v2_body([png] * 3, binary=True), OK),
        (f"{len(over_total)} headers of {side}x{side}: over the batch's pixels",
         *v2_body(over_total), TOO_LARGE),
        ("the same, binary", *v2_body(over_total, binary=True), TOO_LARGE),
        ("a glyph, then headers over the batch's pixels", *v2_body([png, *over_total]),
         TOO_LARGE),
        (f"{MAX_BATCH_IMAGES + 1} glyphs", *v2_body([png] * (MAX_BATCH_IMAGES + 1)), BAD),
        ("no images", *v2_body([]), BAD),
        ("an empty image", *v2_body([b""]), BAD),
    ]
    body, headers = v2_body([png], binary=True)
    cases += [
        ("binary header length past the body", body, {HEADER_LENGTH: str(len(body) + 1)}, BAD),
        ("binary element cut short", body[:-10], headers, BAD),
        ("not JSON", b"{image_bytes", {}, BAD),
        ("image_bytes as FP32", json.dumps({"inputs": [{
            "name": IMAGE_BYTES_INPUT, "datatype": "FP32", "shape": [1], "data": [0.5]}]}
         ).encode(), {}, BAD),
        ("image_bytes elements not base64", json.dumps({"inputs": [{
            "name": IMAGE_BYTES_INPUT, "datatype": "BYTES", "shape": [1], "data": ["%%%"]}]}
         ).encode(), {}, BAD),
    ]
    return cases
