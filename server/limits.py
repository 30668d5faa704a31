"""What a JSON body may cost: refused by its length and its number of values before parsing.

Measured with ``python -m benchmarks hostile``: a JSON body's cost grows with its number of
values, not its bytes, so JSON is refused by its length (settings.max_json_length) and its
values before it is parsed. Images are bounded by their pixels, in :mod:`server.intake`.
"""

from __future__ import annotations

from server.errors import ApiError

#: Brackets, braces and commas a JSON body may hold: 28 x 28 pixels need 783 + 29 + 1 = 813;
#: a base64 image 3. A million tiny values in 2 MiB would cost seconds and hundreds of MB parsed.
MAX_JSON_STRUCTURE = 4096


def check_json_length(length: int | None, limit: int) -> None:
    """413 for a JSON body over ``limit`` bytes: from Content-Length, before it is read."""
    if length is not None and length > limit:
        raise ApiError(413, f"the JSON body is {length} bytes; JSON bodies may have at most "
                       f"{limit} bytes (a 28x28 pixel array needs under 20 KB; send larger "
                       "images as multipart or raw bytes)", "payload_too_large")


def check_json_structure(body: bytes, limit: int = MAX_JSON_STRUCTURE) -> None:
    """413 for a JSON body with more values than a 28x28 array, counted in C before parsing."""
    count = body.count(b"[") + body.count(b"{") + body.count(b",")
    if count > limit:
        raise ApiError(413, f"the JSON body has {count} brackets, braces and commas; at most "
                       f"{limit} are accepted (a 28x28 pixel array has 813)", "payload_too_large")
