"""Image files in and out: open an upload's header, check its size, decode it safely; PNG out.

An upload is opened once (:func:`open_image` reads the header only), its declared size checked
(:func:`check_size`: the one home of the size limits and of :class:`ImageTooLargeError`), and
only then are its pixels decoded (:func:`load_image`). :func:`decode_image` does all three.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

try:  # libspng (the serve extra): a PNG in about half of Pillow's CPU time, the same pixels
    import pyspng
except ImportError:  # e.g. the light client install: Pillow decodes everything
    pyspng = None

DEFAULT_MAX_PIXELS = 4096 * 4096
#: The largest image a server accepts by default, and the client's own check before an upload:
#: one number, so the two never disagree. 2048 x 2048, chosen from measurement (``python -m
#: benchmarks hostile``): an image at the limit costs a worker about +50-95 MB and 0.1-0.2 s of
#: CPU; 4096 x 4096 cost +236-384 MB and 0.5-1.2 s. Far above what a character needs (the page
#: sends 280 x 280).
MAX_IMAGE_PIXELS = 2048 * 2048
#: Longest side a server accepts, whatever the pixel count (the hostile corpus's 10,000 x 3 strip
#: fits): a 3 x 40,000 strip is under the pixel limit, yet squaring its crop cost +123 MiB
#: (measured), as much as 8 MP does.
MAX_IMAGE_SIDE = 10_000
#: A JPEG is decoded at a reduced scale only while both sides keep at least this many pixels:
#: a character that fills a quarter of the shorter side still gets more than the 110 px it is
#: scaled to, so the reduced decode changes nothing the blur would keep.
DECODE_MIN_SIDE = 512
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour type -> mode, for the 8-bit images libspng decodes as Pillow does.
_SPNG_MODES = {0: "L", 2: "RGB", 6: "RGBA"}
#: Chunks that change what Pillow makes of the pixels (a transparent colour, an EXIF
#: orientation, an animation): images with any of them go to Pillow.
_PILLOW_ONLY_CHUNKS = frozenset({b"tRNS", b"eXIf", b"acTL"})


class ImageInputError(ValueError):
    """The input cannot be made into a character image; the message says why (an HTTP 400)."""


class ImageTooLargeError(ImageInputError):
    """The image (or a batch of them) has more pixels than allowed (an HTTP 413)."""


def open_image(data: bytes) -> Image.Image:
    """Open image bytes and read their header only: no pixel is decoded yet.

    Raises :class:`ImageInputError` for no image, a header without pixels, and (as
    :class:`ImageTooLargeError`) for sizes Pillow's own decompression-bomb guard refuses.
    """
    if not data:
        raise ImageInputError("the image is empty (0 bytes)")
    with _decoder_errors():
        image = Image.open(io.BytesIO(data))
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageInputError(f"the image has no pixels ({width}x{height})")
    return image


def check_size(width: int, height: int, max_pixels: int = DEFAULT_MAX_PIXELS,
               max_side: int | None = None) -> None:
    """:class:`ImageTooLargeError` for more than ``max_pixels`` pixels or, when given, a side
    longer than ``max_side``; both read from the header, before any pixel is decoded."""
    if max_side is not None and max(width, height) > max_side:
        raise ImageTooLargeError(f"the image is {width} x {height} pixels; at most {max_side:,} "
                                 "pixels on a side are accepted")
    if width * height > max_pixels:
        raise ImageTooLargeError(f"the image is {width} x {height} pixels; "
                                 f"at most {pixel_limit_text(max_pixels)} are accepted")


def pixel_limit_text(max_pixels: int) -> str:
    """A pixel limit as people read it: "2048 x 2048 pixels" when it is a square."""
    side = math.isqrt(max_pixels)
    if side * side == max_pixels:
        return f"{side} x {side} pixels"
    return f"{max_pixels:,} pixels"


def check_total(pixels: int, count: int, max_total: int) -> None:
    """:class:`ImageTooLargeError` when ``count`` images declare more than ``max_total`` pixels
    together: a batch's work is bounded as one image's is."""
    if pixels > max_total:
        raise ImageTooLargeError(f"the {count} images declare {pixels:,} pixels together; at "
                                 f"most {pixel_limit_text(max_total)} are accepted per request "
                                 "(send fewer or smaller images per request)")


def load_image(image: Image.Image, data: bytes, reduce_to: int | None = None,
               fast_png: bool = False) -> Image.Image:
    """Decode the pixels of an image :func:`open_image` opened from ``data``; the first frame
    of animations.

    With ``reduce_to`` a JPEG is decoded at the smallest DCT scale (1/2, 1/4 or 1/8) that keeps
    both sides at least ``reduce_to`` pixels (:meth:`PIL.Image.Image.draft`): a quarter to a
    sixty-fourth of the work. Other formats have no reduced decode and come at full size. With
    ``fast_png`` an 8-bit grey, RGB or RGBA PNG is decoded by libspng when it is installed
    (pixel for pixel what Pillow gives, tested); anything libspng refuses goes to Pillow, which
    decodes it or says why not.
    """
    with _decoder_errors():
        if fast_png and (mode := _spng_mode(data)) is not None:
            decoded = _spng_decode(data, mode)
            if decoded is not None:
                return decoded
        image.seek(0)
        if reduce_to and image.format == "JPEG" and image.mode in ("L", "RGB", "CMYK"):
            image.draft(image.mode, (reduce_to, reduce_to))
        image.load()
    return image


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS,
                 reduce_to: int | None = None, fast_png: bool = False) -> Image.Image:
    """Decode image bytes (PNG, JPEG, GIF, BMP, WebP, ...) safely: open, check, load.

    The pixel count is checked from the header before any pixel is decoded, so a file that
    claims 50,000 x 50,000 pixels costs nothing. See :func:`load_image` for the options.
    """
    image = open_image(data)
    check_size(*image.size, max_pixels)
    return load_image(image, data, reduce_to, fast_png)


def decode_reduced(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode for preprocessing: a JPEG at the smallest scale that still resolves a character.

    Cost: the header check is constant; a PNG, GIF, BMP or WebP costs in proportion to its
    declared width x height (every pixel is decoded); a JPEG in proportion to its file size
    (entropy decoding) plus width x height / s^2, s in {1, 2, 4, 8} the largest scale that
    keeps both sides at least :data:`DECODE_MIN_SIDE`.
    """
    return decode_image(data, max_pixels=max_pixels, reduce_to=DECODE_MIN_SIDE, fast_png=True)


def to_png(pixels: np.ndarray) -> bytes:
    """Encode a uint8 grayscale array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


@contextlib.contextmanager
def _decoder_errors() -> Iterator[None]:
    """Pillow's many failures as :class:`ImageInputError`, its bomb guard as too large."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(f"the image is too large to decode safely: {error}") from None
    except UnidentifiedImageError:
        raise ImageInputError(
            "the data is not an image in a format we read (PNG, JPEG, GIF, BMP, WebP, TIFF)"
        ) from None
    except Exception as error:  # Pillow raises many types for truncated or corrupt files.
        raise ImageInputError(f"the image could not be decoded: {error}") from None


def _spng_mode(data: bytes) -> str | None:
    """The mode libspng can decode ``data`` to exactly as Pillow would, else ``None``."""
    if pyspng is None or len(data) < 33 or not data.startswith(_PNG_SIGNATURE):
        return None
    if data[12:16] != b"IHDR" or data[24] != 8:  # bit depth 8 only
        return None
    mode = _SPNG_MODES.get(data[25])
    offset = 8
    while mode is not None and offset + 8 <= len(data):  # chunk headers only: a few µs
        kind = data[offset + 4 : offset + 8]
        if kind in _PILLOW_ONLY_CHUNKS:
            return None
        if kind == b"IEND":
            break
        offset += 12 + int.from_bytes(data[offset : offset + 4], "big")
    return mode


def _spng_decode(data: bytes, mode: str) -> Image.Image | None:
    try:
        pixels = pyspng.load(data, format=mode)
    except Exception:  # noqa: BLE001 - Pillow decodes it, or explains what is wrong
        return None
    return Image.fromarray(np.ascontiguousarray(pixels))
