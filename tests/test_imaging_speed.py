"""The fast preprocessing path gives what the frozen reference gave, on a corpus of varied images.

tests/support/reference_imaging.py is the preprocessing (then regserve_contracts/imaging.py) as
it was before the speed work (float arrays at full size). Every image here goes through both; the
results must agree within a mean absolute difference of 2 grey levels of 255, and where the
reference refuses an image the fast path must refuse it for the same kind of reason.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.bodies import photo_png
from benchmarks.loadgen import canvas_png, sample_characters
from regserve_contracts import decoding, emnist_form
from tests.support import reference_imaging as reference

TOLERANCE = 2.0  # grey levels of 255, mean absolute difference per image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def strokes(size: tuple[int, int], ink: int, paper: int, width: int, seed: int) -> Image.Image:
    """A few random strokes on plain paper, anywhere in the image."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", size, paper)
    draw = ImageDraw.Draw(image)
    w, h = size
    points = [(int(rng.integers(w // 8, w - w // 8)), int(rng.integers(h // 8, h - h // 8)))
              for _ in range(4)]
    draw.line(points, fill=ink, width=width)
    return image


def corpus() -> list[tuple[str, bytes]]:
    """Canvas and photo PNGs of real characters, JPEGs, polarity, alpha, odd shapes."""
    characters, _ = sample_characters(6)
    items = []
    for index, pixels in enumerate(characters):
        items.append((f"canvas PNG {index}", canvas_png(pixels)))
        items.append((f"photo PNG {index}", photo_png(pixels, seed=index)))
    photo = Image.open(io.BytesIO(photo_png(characters[0], seed=9)))
    items.append(("photo JPEG", encode(photo, "JPEG", quality=90)))
    big = photo.resize((2316, 2380), Image.Resampling.BICUBIC)
    items.append(("large photo JPEG (reduced decode)", encode(big, "JPEG", quality=85)))
    items.append(("large grey JPEG", encode(big.convert("L"), "JPEG", quality=85)))
    for seed, (size, ink, paper, width) in enumerate([
        ((400, 300), 30, 236, 22), ((64, 64), 255, 0, 5), ((1000, 200), 10, 200, 9),
        ((120, 900), 200, 40, 7), ((33, 47), 0, 255, 2), ((640, 480), 90, 170, 3),
    ]):
        image = strokes(size, ink, paper, width, seed)
        items.append((f"strokes {size} ink {ink} on {paper}", encode(image, "PNG")))
    glyph = strokes((200, 200), 0, 255, 12, 7)
    transparent = Image.new("RGBA", glyph.size, (0, 0, 0, 0))
    transparent.putalpha(Image.eval(glyph, lambda v: 255 - v))
    items.append(("dark ink on a transparent background", encode(transparent, "PNG")))
    light = Image.merge("RGBA", [Image.new("L", glyph.size, 250)] * 3 + [glyph.point(
        lambda v: 255 - v)])
    items.append(("light ink on a transparent background", encode(light, "PNG")))
    items.append(("palette PNG", encode(glyph.convert("P"), "PNG")))
    items.append(("16-bit PNG", encode(Image.fromarray(
        (np.asarray(glyph, np.uint16) * 257).astype(np.uint16)), "PNG")))
    items.append(("BMP light on dark", encode(glyph.point(lambda v: 255 - v), "BMP")))
    return items


CORPUS = corpus()


def outcome(function, *args):
    """The result, or the kind of refusal (the exception's class name)."""
    try:
        return function(*args)
    except (decoding.ImageInputError, reference.ImageInputError) as error:
        return type(error).__name__


@pytest.mark.parametrize("name,data", CORPUS, ids=[name for name, _ in CORPUS])
def test_fast_path_matches_the_reference_within_two_grey_levels(name, data):
    """Decoded and preprocessed both ways, the 28x28 results differ by under 2/255 on average."""
    ours = emnist_form.preprocess_bytes(data)
    theirs = reference.preprocess_bytes(data)
    assert ours.dtype == np.uint8 and ours.shape == (28, 28)
    difference = np.abs(ours.astype(float) - theirs.astype(float)).mean()
    assert difference <= TOLERANCE, f"{name}: mean difference {difference:.2f} grey levels"


def test_real_characters_round_trip_as_the_reference_did(real_sample):
    """Real EMNIST characters as canvas PNGs come back as the reference made them."""
    images = real_sample["x_test"][::470][:40]
    for pixels in images:
        ours = emnist_form.preprocess_bytes(canvas_png(pixels)).astype(float)
        theirs = reference.preprocess_bytes(canvas_png(pixels)).astype(float)
        assert np.abs(ours - theirs).mean() <= TOLERANCE
        assert np.corrcoef(ours.ravel(), pixels.astype(float).ravel())[0, 1] > 0.9


def test_pixel_arrays_and_ink_arrays_match_the_reference():
    """JSON pixels that need preprocessing, and float ink arrays (the offline set's path), agree."""
    rng = np.random.default_rng(3)
    for seed in range(12):
        pixels = np.asarray(strokes((28, 28), 255, 0, 2 + seed % 3, seed))
        ours = emnist_form.pixels_to_emnist(pixels.tolist()).astype(float)
        theirs = reference.pixels_to_emnist(pixels.tolist()).astype(float)
        assert np.abs(ours - theirs).mean() <= TOLERANCE
        ink = rng.random((60, 90)).astype(np.float32) * (np.asarray(
            strokes((90, 60), 255, 0, 6, seed), np.float32) / 255)
        ours = emnist_form.ink_to_emnist(ink).astype(float)
        theirs = reference.ink_to_emnist(ink).astype(float)
        assert np.abs(ours - theirs).mean() <= TOLERANCE


@pytest.mark.parametrize("name,data", [
    ("blank white", encode(Image.new("L", (50, 50), 255), "PNG")),
    ("blank black JPEG", encode(Image.new("RGB", (64, 64)), "JPEG")),
    ("fully transparent", encode(Image.new("RGBA", (20, 20), (0, 0, 0, 0)), "PNG")),
    ("a faint hairline across a long strip", encode(Image.fromarray(
        np.pad(np.zeros((1, 9998), np.uint8), 1, constant_values=255)), "PNG")),
])
def test_images_the_reference_refused_are_refused_for_the_same_reason(name, data):
    """Blank, transparent and vanishing inputs stay 400s with the same kind of error."""
    assert isinstance(outcome(reference.preprocess_bytes, data), str)
    assert outcome(emnist_form.preprocess_bytes, data) == outcome(reference.preprocess_bytes, data)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_but_never_below_the_minimum():
    """The decode the request path uses shrinks a big JPEG by its DCT scale, not below 512 px."""
    big = Image.new("RGB", (4000, 3000), (240, 240, 240))
    reduced = decoding.decode_reduced(encode(big, "JPEG"))
    assert reduced.size == (1000, 750)
    assert min(reduced.size) >= decoding.DECODE_MIN_SIDE
    png = decoding.decode_reduced(encode(big.resize((800, 600)), "PNG"))
    assert png.size == (800, 600)
