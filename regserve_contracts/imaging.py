"""Bring any character image to EMNIST's form: one preprocessing path for server, client, data.

EMNIST (Cohen et al., 2017) made each character from a 128x128 scan by a Gaussian blur
(sigma 1), a crop to the ink, centring in a square frame that keeps the aspect ratio, a 2 px
pad and a bicubic downsample to 28x28, then stretched intensities to 0-255. Drawings, uploads
and the synthetic training set all go through :func:`ink_to_emnist`, so the models only ever see
images made the way their training data was made.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from regserve_contracts.labels import IMAGE_SIZE

#: Side of the square working frame, as in NIST's 128x128 scans.
FRAME = 128
#: The 2 px pad is taken at the 28x28 scale (9 px of the 128 frame): with it a round trip of
#: real EMNIST characters keeps their measured size (about 23 px of 28) and mean intensity.
PAD = 9
BLUR_SIGMA = 1.0
DEFAULT_MAX_PIXELS = 4096 * 4096
EXIF_ORIENTATION = 0x0112
#: Below this share of the strongest ink level a pixel counts as paper, not ink.
INK_THRESHOLD = 0.1
#: Longest crop side squared at full size; longer crops are block-averaged down first.
MAX_SQUARE_SIDE = 4096


class ImageInputError(ValueError):
    """The input cannot be made into a character image; the message says why (an HTTP 400)."""


class ImageTooLargeError(ImageInputError):
    """The image has more pixels than allowed (an HTTP 413)."""


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode image bytes (PNG, JPEG, GIF, BMP, WebP, ...) safely; the first frame of animations.

    The pixel count is checked from the header before any pixel is decoded, so a file that
    claims 50,000 x 50,000 pixels costs nothing.
    """
    if not data:
        raise ImageInputError("the image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width < 1 or height < 1:
                raise ImageInputError(f"the image has no pixels ({width}x{height})")
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"the image is {width}x{height} pixels; "
                    f"at most {max_pixels} pixels are accepted"
                )
            image.seek(0)
            image.load()
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
    return image


def image_to_ink(image: Image.Image) -> np.ndarray:
    """Return a float32 array in [0, 1] where 1 is full ink, whatever the polarity or alpha.

    Transparent pixels count as paper. The paper's level is read from the border, so dark ink
    on light paper and light ink on dark paper both come out as ink on zero. Mode conversions
    run in Pillow's C code on 8-bit data; only the result is float (this is the hot path of
    every request).
    """
    try:
        image = _normalise_mode(image)
        if _has_alpha(image):
            rgba = image.convert("RGBA")
            gray8, alpha8 = np.asarray(rgba.convert("L")), np.asarray(rgba.getchannel("A"))
        else:
            gray8, alpha8 = np.asarray(image.convert("L")), None
    except Exception as error:
        raise ImageInputError(f"the image's pixels could not be read: {error}") from None
    if alpha8 is not None and alpha8.min() < 250:
        if alpha8.max() < 6:
            raise ImageInputError("the image is fully transparent: no ink found")
        # Ink is what is opaque; its colour only matters if the opaque part has a background.
        opaque = alpha8 > 127
        stroke_is_dark = float(np.median(gray8[opaque])) < 127.5 if opaque.any() else True
        contrast = (255 - gray8) if stroke_is_dark else gray8
        return (alpha8 * contrast.astype(np.float32)) * np.float32(1.0 / (255 * 255))
    border = np.concatenate([gray8[0, :], gray8[-1, :], gray8[:, 0], gray8[:, -1]])
    paper = float(np.median(border)) / 255.0
    ink = gray8.astype(np.float32) * np.float32(1.0 / 255)
    if paper > 0.5:
        ink, paper = 1.0 - ink, 1.0 - paper
    span = 1.0 - paper
    if span <= 1e-6:
        raise ImageInputError("the image is blank: no ink found")
    return np.clip((ink - np.float32(paper)) * np.float32(1.0 / span), 0.0, 1.0)


def ink_to_emnist(ink: np.ndarray, blur_sigma: float = BLUR_SIGMA) -> np.ndarray:
    """Crop, centre, pad, blur and downsample an ink array to EMNIST's uint8 28x28 form."""
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2 or ink.size == 0:
        raise ImageInputError(f"expected a 2-D image, got shape {ink.shape}")
    if not np.isfinite(ink).all():
        raise ImageInputError("the image contains NaN or infinite values")
    peak = float(ink.max())
    if peak <= 1e-6:
        raise ImageInputError("the image is blank: no ink found")
    inked = ink > INK_THRESHOLD * peak
    rows = np.flatnonzero(inked.any(axis=1))
    cols = np.flatnonzero(inked.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] / peak
    # A long thin crop (1,000,000 x 3 px is under the pixel limit) squared at full size would
    # need terabytes: block-average it first, which keeps each stroke's share of ink.
    factor = -(-max(crop.shape) // MAX_SQUARE_SIDE)
    if factor > 1:
        for axis in (0, 1):
            crop = np.add.reduceat(crop, np.arange(0, crop.shape[axis], factor), axis=axis)
        crop /= factor * factor
    height, width = crop.shape
    side = max(height, width)
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = crop
    inner = FRAME - 2 * PAD
    frame = Image.fromarray(square, mode="F").resize((inner, inner), Image.Resampling.BILINEAR)
    framed = Image.new("F", (FRAME, FRAME), 0.0)
    framed.paste(frame, (PAD, PAD))
    # Pillow filters need 8-bit data; 0-255 keeps enough precision before the downsample.
    framed8 = Image.fromarray(np.clip(np.asarray(framed) * 255.0, 0, 255).astype(np.uint8))
    if blur_sigma > 0:
        framed8 = framed8.filter(ImageFilter.GaussianBlur(radius=blur_sigma))
    small = np.asarray(
        framed8.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC), dtype=np.float32
    )
    top_level = float(small.max())
    if top_level <= 0:
        raise ImageInputError("the image is blank after scaling: no ink found")
    return np.clip(np.rint(small * (255.0 / top_level)), 0, 255).astype(np.uint8)


def preprocess_bytes(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode image bytes and return EMNIST's uint8 28x28 form (upright, white ink on black)."""
    return ink_to_emnist(image_to_ink(decode_image(data, max_pixels=max_pixels)))


def pixels_to_emnist(pixels, already_emnist: bool = False) -> np.ndarray:
    """Turn a 28x28 nested list or array of 0-255 values into EMNIST form.

    With ``already_emnist`` the pixels are taken as they are (white ink on black, centred);
    otherwise they go through the same polarity, crop and centre steps as any image.
    """
    try:
        array = np.asarray(pixels, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ImageInputError("pixels must be a 28x28 array of numbers") from None
    if array.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise ImageInputError(f"pixels must have shape 28x28, got {list(array.shape)}")
    if not np.isfinite(array).all():
        raise ImageInputError("pixels must be finite numbers (no NaN or infinity)")
    if array.min() < 0 or array.max() > 255:
        raise ImageInputError("pixel values must lie between 0 and 255")
    if already_emnist:
        return np.rint(array).astype(np.uint8)
    image = Image.fromarray(np.rint(array).astype(np.uint8), mode="L")
    return ink_to_emnist(image_to_ink(image))


def to_png(pixels: np.ndarray) -> bytes:
    """Encode a uint8 grayscale array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Bring 16-bit, 32-bit and CMYK images to 8-bit modes and apply EXIF orientation."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        # 16-bit data has a known range: scaling by it reads paper and ink as its 8-bit twin does.
        top = 65535.0 if image.mode.startswith("I;16") else (float(array.max()) or 1.0)
        image = Image.fromarray((np.clip(array, 0, None) * (255.0 / top)).astype(np.uint8), "L")
    if image.mode == "CMYK":
        image = image.convert("RGB")
    # exif_transpose copies the image even when there is nothing to turn: ask first.
    if image.getexif().get(EXIF_ORIENTATION, 1) != 1:
        return ImageOps.exif_transpose(image)
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
