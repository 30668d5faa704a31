"""The one way an uploaded image enters the server: opened once, its cost checked, then read.

Every image a request carries (a /predict upload, raw body or base64; each V2 ``image_bytes``
element) comes through here. Its header is read once (:func:`open_upload`), its sides and
pixels are checked against the limits before any pixel is decoded, a batch's declared pixels
are summed and checked before the first decode (:func:`read_images`), and a large image then
waits for room in this worker's decode budget while it is decoded and brought to EMNIST's form.

Measured with ``python -m benchmarks hostile``: decoding and preprocessing cost grows with the
pixels, so pixels bound a request's work (see docs/upload-limits.md).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from regserve_contracts.decoding import (
    DECODE_MIN_SIDE,
    MAX_IMAGE_SIDE,
    check_size,
    check_total,
    load_image,
    open_image,
)
from regserve_contracts.emnist_form import image_to_emnist
from server.cooperative import off_loop
from server.errors import ApiError
from server.settings import ServerSettings

#: Images of at most this many pixels decode without asking the budget: small, and most traffic.
SMALL_IMAGE_PIXELS = 1024 * 1024
#: Images as large as the limit a worker decodes at once; more wait, then get 503. One: a
#: worker's requests share one core, and each such decode holds about 45 MB while it runs (two
#: at once took a worker's peak RSS to 259 MB in a 10-minute soak; docs/reliability.md).
LARGE_DECODES_AT_ONCE = 1
BUDGET_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Upload:
    """An image whose header has been read and whose declared size is within the limits."""

    data: bytes
    image: Image.Image  # opened, not decoded

    @property
    def pixels(self) -> int:
        width, height = self.image.size
        return width * height


def open_upload(data: bytes, settings: ServerSettings) -> Upload:
    """Read the header of ``data`` and check its sides and pixels; no pixel is decoded.

    Raises ``ImageInputError`` (no image) or ``ImageTooLargeError`` (over a limit).
    """
    image = open_image(data)
    check_size(*image.size, settings.max_image_pixels, MAX_IMAGE_SIDE)
    return Upload(data, image)


def to_emnist(upload: Upload, settings: ServerSettings) -> np.ndarray:
    """Decode an opened upload inside this worker's budget; EMNIST's uint8 28x28 form."""
    with BUDGET.reserve(upload.pixels, settings.max_image_pixels):
        try:
            if upload.pixels <= SMALL_IMAGE_PIXELS:
                return _decode(upload)
            # Under the gevent worker, a large image is decoded on a real thread: the worker's
            # other requests go on meanwhile (Pillow and libspng decode without the GIL).
            return off_loop(_decode, upload)
        finally:
            # Free the pixels now: a batch keeps its opened uploads until its last image.
            upload.image.close()


def _decode(upload: Upload) -> np.ndarray:
    decoded = load_image(upload.image, upload.data, reduce_to=DECODE_MIN_SIDE, fast_png=True)
    return image_to_emnist(decoded)


def read_image(data: bytes, settings: ServerSettings) -> np.ndarray:
    """One uploaded image in EMNIST's uint8 28x28 form."""
    return to_emnist(open_upload(data, settings), settings)


def read_images(items: Sequence[bytes], settings: ServerSettings) -> np.ndarray:
    """A batch of uploaded images as uint8 ``(B, 28, 28)``: every header is read and the sum of
    the declared pixels checked (``max_batch_pixels``) before the first image is decoded."""
    uploads = [open_upload(item, settings) for item in items]
    check_total(sum(upload.pixels for upload in uploads), len(uploads),
                settings.max_batch_pixels)
    return np.stack([to_emnist(upload, settings) for upload in uploads])


class PixelBudget:
    """Pixels this worker may be decoding at once; a large image waits for room, briefly."""

    def __init__(self, decodes_at_once: int = LARGE_DECODES_AT_ONCE) -> None:
        self.decodes_at_once = decodes_at_once
        self._condition = threading.Condition()
        self._in_use = 0

    @contextlib.contextmanager
    def reserve(self, pixels: int, max_pixels: int) -> Iterator[None]:
        """Hold ``pixels`` of the budget (``decodes_at_once`` x ``max_pixels``) while
        decoding; 503 when there is no room within ``BUDGET_WAIT_SECONDS``."""
        pixels = min(pixels, max_pixels)  # a larger claim is refused from its header anyway
        if pixels <= SMALL_IMAGE_PIXELS:
            yield
            return
        capacity = self.decodes_at_once * max_pixels
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
