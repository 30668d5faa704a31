"""Properties of the imaging contract: any input gives EMNIST's 28x28 form or an ImageInputError.

The server passes request bytes and JSON pixel arrays straight to these functions, so any other
exception here would be an HTTP 500 there.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from benchmarks.hostile_images import glyph
from regserve_contracts.decoding import ImageInputError, ImageTooLargeError
from regserve_contracts.emnist_form import pixels_to_emnist, preprocess_bytes

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def proc_memory(field: str) -> int:
    """This process's VmRSS or VmHWM (peak) in bytes, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def assert_emnist(result: np.ndarray) -> None:
    assert isinstance(result, np.ndarray)
    assert result.shape == (28, 28) and result.dtype == np.uint8


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


SEEDS = {
    fmt: encoded(glyph((40, 40)).convert(mode), fmt)
    for fmt, mode in [("PNG", "L"), ("JPEG", "RGB"), ("GIF", "L"), ("BMP", "RGB"),
                      ("TIFF", "CMYK"), ("WEBP", "RGB"), ("PNG", "RGBA"), ("ICO", "RGBA")]
}


@st.composite
def mangled_images(draw) -> bytes:
    """A real image with bytes overwritten, cut off or appended, to reach deep decoder paths."""
    data = bytearray(draw(st.sampled_from(sorted(SEEDS.values(), key=len))))
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=64))


@PROPERTY
@given(st.one_of(st.binary(max_size=2048), mangled_images()))
def test_any_bytes_give_an_emnist_image_or_an_input_error(data):
    """Random and mangled bytes raise nothing but ImageInputError (or its ImageTooLargeError)."""
    try:
        result = preprocess_bytes(data)
    except ImageInputError:
        return
    assert_emnist(result)
    assert result.max() == 255


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4)
JSON_LIKE = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=30),
                         max_leaves=60)


@st.composite
def json_grids(draw) -> list:
    """28x28 nested lists of numbers, sometimes with one cell swapped for any JSON value."""
    grid = draw(hnp.arrays(np.float64, (28, 28), elements=st.floats(-5, 300) | st.floats()))
    grid = grid.tolist()
    if draw(st.booleans()):
        grid[draw(st.integers(0, 27))][draw(st.integers(0, 27))] = draw(JSON_LIKE)
    return grid


REAL_DTYPES = (hnp.boolean_dtypes() | hnp.integer_dtypes() | hnp.unsigned_integer_dtypes()
               | hnp.floating_dtypes())
SHAPES = st.just((28, 28)) | hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=29)


@PROPERTY
@given(st.one_of(hnp.arrays(REAL_DTYPES, SHAPES), JSON_LIKE, json_grids()), st.booleans())
def test_any_pixel_array_gives_an_emnist_image_or_an_input_error(pixels, already_emnist):
    """Any shape, dtype or values (NaN, inf, negative, huge, ragged, strings) -> 28x28 or 400.

    Complex numbers are left out: JSON cannot carry them, and numpy only warns as it drops the
    imaginary part.
    """
    try:
        result = pixels_to_emnist(pixels, already_emnist=already_emnist)
    except ImageInputError:
        return
    assert_emnist(result)
    array = np.asarray(pixels, dtype=np.float64)
    assert array.shape == (28, 28) and np.isfinite(array).all()
    assert 0 <= array.min() and array.max() <= 255
    if already_emnist:
        assert np.array_equal(result, np.rint(array).astype(np.uint8))
    else:
        assert result.max() == 255


MODES_AND_FORMATS = [("L", "PNG"), ("RGB", "PNG"), ("RGBA", "PNG"), ("LA", "PNG"), ("P", "PNG"),
                     ("1", "PNG"), ("I;16", "PNG"), ("I", "TIFF"), ("F", "TIFF"),
                     ("CMYK", "JPEG"), ("CMYK", "TIFF"), ("RGB", "JPEG"), ("L", "GIF"),
                     ("RGB", "BMP"), ("RGBA", "WEBP")]


def to_mode(array: np.ndarray, mode: str) -> Image.Image:
    """Make a Pillow image of ``mode`` from uint8 grey (H, W) or RGBA (H, W, 4) values."""
    image = Image.fromarray(array, "RGBA" if array.ndim == 3 else "L")
    if mode in ("I;16", "I", "F"):
        grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
        return Image.fromarray(grey.astype(np.uint16)).convert(mode) if mode != "I;16" \
            else Image.fromarray(grey)
    return image.convert(mode)


@PROPERTY
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))
               .flatmap(lambda hw: st.sampled_from([hw, (*hw, 4)]))),
    st.sampled_from(MODES_AND_FORMATS),
)
def test_any_small_valid_image_gives_an_emnist_image_or_a_blank_error(array, mode_and_format):
    """Random pixels in every common mode and format: a 28x28 image peaking at 255, or 'no ink'."""
    mode, fmt = mode_and_format
    data = encoded(to_mode(array, mode), fmt)
    try:
        result = preprocess_bytes(data)
    except ImageInputError as error:
        assert "no ink" in str(error)
        return
    assert_emnist(result)
    assert result.max() == 255


@PROPERTY
@given(
    st.integers(3, 48), st.integers(3, 48), st.integers(0, 255), st.data(),
    st.sampled_from(["L", "RGB", "P", "I;16"]),
)
def test_a_clear_mark_on_plain_paper_is_always_found(height, width, paper, data, mode):
    """A rectangle of ink, 64+ levels darker than light paper (or lighter than dark), is found."""
    top = data.draw(st.integers(1, height - 2))
    left = data.draw(st.integers(1, width - 2))
    bottom = data.draw(st.integers(top + 1, height - 1))
    right = data.draw(st.integers(left + 1, width - 1))
    ink = data.draw(st.integers(paper + 64, 255) if paper <= 127 else st.integers(0, paper - 64))
    array = np.full((height, width), paper, np.uint8)
    array[top:bottom, left:right] = ink
    result = preprocess_bytes(encoded(to_mode(array, mode), "PNG"))
    assert_emnist(result)
    assert result.max() == 255


@PROPERTY
@given(st.integers(1, 64), st.integers(1, 64), st.integers(1, 4096),
       st.sampled_from(["PNG", "GIF", "BMP", "TIFF", "JPEG"]))
def test_the_pixel_limit_is_exact_in_every_format(width, height, max_pixels, fmt):
    """More pixels than ``max_pixels`` raises ImageTooLargeError; at or below it never does."""
    image = glyph((width, height)).convert("RGB" if fmt == "JPEG" else "L")
    try:
        preprocess_bytes(encoded(image, fmt), max_pixels=max_pixels)
    except ImageTooLargeError:
        assert width * height > max_pixels
    except ImageInputError:
        assert width * height <= max_pixels
    else:
        assert width * height <= max_pixels


# Measured from /proc: the first preprocessing squared a 40,000 px tall crop at 4,096 px in
# float32 (+123 MiB for a 1 KB PNG), and padding a 1,000,000 x 3 strip to whole blocks on both
# axes at once cost +244 MiB; each case below failed on one of them.
@pytest.mark.parametrize("width, height", [
    (40_000, 3), (3, 40_000), (1_000_000, 3), (3, 1_000_000), (2_000, 2_000)])
def test_long_thin_images_cost_little_memory_and_time(width, height):
    """A strip of a few hundred bytes, well under the pixel limit, must not be squared at full size.

    Squaring a 1,000,000 x 3 crop would need terabytes; the cost must follow the pixel count.
    """
    array = np.full((height, width), 255, np.uint8)
    array[height // 2 - 1 : height // 2 + 1, width // 2 - 1 : width // 2 + 1] = 0
    array[height // 2, 1:-1] = 0
    array[1:-1, width // 2] = 0
    data = encoded(Image.fromarray(array), "PNG")
    # Peak resident memory from /proc (VmHWM, reset first): it sees Pillow's and NumPy's C
    # buffers, which tracemalloc does not.
    Path("/proc/self/clear_refs").write_text("5")
    before = proc_memory("VmRSS")
    started = time.perf_counter()
    try:
        result = preprocess_bytes(data)
    except ImageInputError:
        result = None
    seconds = time.perf_counter() - started
    peak = proc_memory("VmHWM") - before
    if result is not None:
        assert_emnist(result)
    assert peak < 40 * width * height + 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert seconds < 10
