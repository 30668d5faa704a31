"""What one request may cost: refusals before the expensive step, and a per-worker pixel budget.

Measured with ``python -m benchmarks hostile`` (see docs/reliability.md): decoding
and preprocessing cost grows with the pixels, so the pixel limit (settings.max_image_pixels)
bounds a request's work; a JSON body's cost grows with its number of values, not its bytes, so
JSON is refused by its length (settings.max_json_length) and its values before it is parsed.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
import warnings
from collections.abc import Iterator

from PIL import Image

from server.errors import ApiError, size_text

#: Brackets, braces and commas a JSON body may hold: 28 x 28 pixels need 783 + 29 + 1 = 813;
#: a base64 image 3. A million tiny values in 2 MiB would cost seconds and hundreds of MB parsed.
MAX_JSON_STRUCTURE = 4096
#: Longest side accepted, whatever the pixel count (the hostile corpus's 10,000 x 3 strip fits).
MAX_IMAGE_SIDE = 10_000
#: Images of at most this many pixels decode without asking the budget: small, and most traffic.
SMALL_IMAGE_PIXELS = 1024 * 1024
#: Images as large as the limit a worker decodes at once; more wait, then get 503.
LARGE_DECODES_AT_ONCE = 2
BUDGET_WAIT_SECONDS = 10.0


def check_json_length(length: int | None, limit: int) -> None:
    """413 for a JSON body over ``limit`` bytes: from Content-Length, before it is read."""
    if length is not None and length > limit:
        raise ApiError(413, f"the JSON body is {size_text(length)}; JSON bodies may have at "
                       f"most {size_text(limit)} ({limit:,} bytes; a 28x28 pixel array needs "
                       "under 20 KB; send larger images as multipart or raw bytes)",
                       "payload_too_large")


def check_json_structure(body: bytes, limit: int = MAX_JSON_STRUCTURE) -> None:
    """413 for a JSON body with more values than a 28x28 array, counted in C before parsing."""
    count = body.count(b"[") + body.count(b"{") + body.count(b",")
    if count > limit:
        raise ApiError(413, f"the JSON body has {count} brackets, braces and commas; at most "
                       f"{limit} are accepted (a 28x28 pixel array has 813)", "payload_too_large")


def declared_size(data: bytes) -> tuple[int, int]:
    """(width, height) an image's header claims, (0, 0) when it is no image; reads the header."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            width, height = Image.open(io.BytesIO(data)).size
        return max(0, width), max(0, height)
    except Exception:  # not an image, or a broken header: the decoder answers 400 for it
        return 0, 0


def check_side(width: int, height: int, limit: int = MAX_IMAGE_SIDE) -> None:
    """413 for an image longer than ``limit`` on one side: a 3 x 40,000 strip is under the
    pixel limit, yet squaring its crop cost +123 MiB (measured), as much as 8 MP does."""
    if max(width, height) > limit:
        raise ApiError(413, f"the image is {width}x{height} pixels; at most {limit} pixels on "
                       "a side are accepted", "image_too_large")


class PixelBudget:
    """Pixels this worker may be decoding at once; a large image waits for room, briefly."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._in_use = 0

    @contextlib.contextmanager
    def reserve(self, pixels: int, max_pixels: int) -> Iterator[None]:
        """Hold ``pixels`` of the budget (``LARGE_DECODES_AT_ONCE`` x ``max_pixels``) while
        decoding; 503 when there is no room within ``BUDGET_WAIT_SECONDS``."""
        pixels = min(pixels, max_pixels)  # a larger claim is refused from its header anyway
        if pixels <= SMALL_IMAGE_PIXELS:
            yield
            return
        capacity = LARGE_DECODES_AT_ONCE * max_pixels
        deadline = time.monotonic() + BUDGET_WAIT_SECONDS
        with self._condition:
            while self._in_use + pixels > capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ApiError(503, "the server is decoding other large images; retry in a "
                                   "second or send a smaller image", "busy", retry_after=1)
                self._condition.wait(left)
            self._in_use += pixels
        try:
            yield
        finally:
            with self._condition:
                self._in_use -= pixels
                self._condition.notify_all()


#: One budget per worker: each gunicorn worker imports the app itself (preload_app is off).
BUDGET = PixelBudget()
