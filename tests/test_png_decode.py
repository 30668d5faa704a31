"""libspng decodes the request path's PNGs: the same pixels as Pillow, the same refusals.

Pillow stays the reference: every PNG here is decoded by :func:`decoding.decode_reduced` (libspng
where it applies) and by Pillow alone, and the two must agree pixel for pixel, or both refuse.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from benchmarks.bodies import photo_png
from benchmarks.loadgen import canvas_png, sample_characters
from regserve_contracts import decoding
from regserve_contracts.emnist_form import EXIF_ORIENTATION

pytest.importorskip("pyspng")


def png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def interlaced(image: Image.Image) -> bytes:
    """An Adam7-interlaced PNG (Pillow cannot write one): pass by pass, filter type 0."""
    pixels = np.asarray(image)
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    colour = {1: 0, 3: 2, 4: 6}[channels]
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]
    raw = b"".join(
        b"".join(b"\x00" + np.ascontiguousarray(row[x0::dx]).tobytes()
                 for row in pixels[y0::dy]) if pixels[y0::dy, x0::dx].size else b""
        for x0, y0, dx, dy in passes)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))

    height, width = pixels.shape[:2]
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, colour, 0, 0, 1])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def cases() -> list[tuple[str, bytes, str | None]]:
    """(name, PNG, the mode libspng decodes it to, or None where Pillow must)."""
    characters, _ = sample_characters(3)
    rng = np.random.default_rng(0)
    noise = {mode: Image.fromarray(rng.integers(0, 256, (37, 53, len(mode)), np.uint8)
                                   .squeeze(), mode) for mode in ("L", "RGB", "RGBA")}
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", (45455).to_bytes(4, "big"))  # gamma 1/2.2: Pillow does not apply it
    info.add(b"sRGB", b"\x00")
    rotated = Image.Exif()
    rotated[EXIF_ORIENTATION] = 6
    return [
        *[(f"canvas {i}", canvas_png(pixels), "RGBA") for i, pixels in enumerate(characters)],
        *[(f"photo {i}", photo_png(pixels, seed=i), "RGB") for i, pixels in enumerate(characters)],
        *[(f"noise {mode}", png(image), mode) for mode, image in noise.items()],
        ("gamma and sRGB chunks", png(noise["RGB"], pnginfo=info), "RGB"),
        ("Adam7 interlaced RGB", interlaced(noise["RGB"]), "RGB"),
        ("Adam7 interlaced grey", interlaced(noise["L"]), "L"),
        ("many small IDAT chunks", png(noise["RGBA"], compress_level=0), "RGBA"),
        ("a transparent colour (tRNS)", png(noise["RGB"], transparency=(0, 0, 0)), None),
        ("an EXIF orientation", png(noise["L"], exif=rotated), None),
        ("grey with alpha", png(noise["RGBA"].convert("LA")), None),
        ("palette", png(noise["RGB"].convert("P")), None),
        ("16-bit grey", png(Image.fromarray(rng.integers(0, 65535, (9, 9), np.uint16))), None),
    ]


CASES = cases()


@pytest.mark.parametrize("name,data,mode", CASES, ids=[case[0] for case in CASES])
def test_the_same_pixels_as_pillow(name, data, mode):
    assert decoding._spng_mode(data) == mode  # the fast path is taken exactly where it applies
    ours = decoding.decode_reduced(data)
    pillow = Image.open(io.BytesIO(data))
    pillow.load()
    assert ours.mode == pillow.mode and ours.size == pillow.size
    assert np.array_equal(np.asarray(ours), np.asarray(pillow)), name


def outcome(data: bytes):
    try:
        return np.asarray(decoding.decode_reduced(data)).tolist()
    except decoding.ImageInputError as error:
        return type(error).__name__


def pillow_outcome(data: bytes):
    try:
        return np.asarray(decoding.decode_image(data)).tolist()
    except decoding.ImageInputError as error:
        return type(error).__name__


def damaged(data: bytes) -> list[tuple[str, bytes]]:
    idat = data.index(b"IDAT")
    flipped = bytearray(data)
    flipped[idat + 20] ^= 0xFF
    bad_crc = bytearray(data)
    bad_crc[29] ^= 0x01  # IHDR's CRC
    return [*[(f"cut at {share:.0%}", data[: int(len(data) * share)])
              for share in (0.3, 0.6, 0.9, 0.99)],
            ("a flipped byte in the pixel data", bytes(flipped)),
            ("a wrong header CRC", bytes(bad_crc)),
            ("no IEND", data[:-12])]


DAMAGED = damaged(CASES[0][1]) + damaged(CASES[3][1])


@pytest.mark.parametrize("name,data", DAMAGED, ids=[case[0] for case in DAMAGED])
def test_a_damaged_png_gets_what_pillow_alone_gives(name, data):
    assert outcome(data) == pillow_outcome(data)


def test_the_pixel_limit_is_checked_before_libspng_decodes():
    data = interlaced(Image.new("L", (300, 300), 0))
    with pytest.raises(decoding.ImageTooLargeError):
        decoding.decode_reduced(data, max_pixels=300 * 299)
