"""The corruption suite: shapes, determinism, effect and severity, and its building blocks checked
against SciPy and Pillow (independent implementations); the contracts stay on numpy and Pillow."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from regserve_contracts import corruptions, pixelops
from tests.support import REPO_ROOT

#: Corruptions drawn from the generator (the others are fixed functions of the image).
RANDOM = {"shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "rotate",
          "translate", "fog", "spatter", "dotted_line", "zigzag"}
#: Adjacent severities MNIST-C itself does not order: fog's levels 3 and 4 share strength 2.5
#: (only the fractal's roughness changes); spatter's level 4 switches from water drops to mud.
NOT_ORDERED = {("fog", 3), ("spatter", 3)}


@pytest.fixture(scope="module")
def characters() -> np.ndarray:
    """Twelve synthetic characters in EMNIST form (no shared data needed)."""
    from trainer.data.synthetic import draw_character

    rng = np.random.default_rng(0)
    return np.stack([draw_character(label, rng) for label in range(0, 47, 4)])


def test_the_suite_is_mnist_c_s_fifteen_plus_identity():
    assert corruptions.NAMES[0] == corruptions.IDENTITY
    assert len(corruptions.CORRUPTIONS) == 15 >= 12
    assert set(corruptions.CORRUPTIONS) == {
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
        "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
        "canny_edges"}


@pytest.mark.parametrize("name", corruptions.NAMES)
def test_every_corruption_keeps_shape_dtype_and_range(name, characters):
    batch = corruptions.corrupt(characters, name)
    single = corruptions.corrupt(characters[0], name)
    assert batch.shape == characters.shape and batch.dtype == np.uint8
    assert single.shape == (28, 28) and single.dtype == np.uint8
    assert np.array_equal(single, batch[0])  # the first image draws first from the generator


def test_brightness_and_stripe_follow_mnist_c_at_pixels_typed_here():
    """Brightness at severity 2 adds 0.2 (51 of 255) and saturates at 255; stripe inverts the
    first and last 7 columns and leaves the middle alone."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[5, 3], image[5, 10], image[5, 20], image[5, 24] = 200, 200, 90, 30
    bright = corruptions.corrupt(image, "brightness", severity=2)
    assert [bright[5, 3], bright[5, 10], bright[5, 20], bright[0, 0]] == [251, 251, 141, 51]
    assert corruptions.corrupt(np.full((28, 28), 230, np.uint8), "brightness", severity=2)[
        9, 9] == 255
    stripe = corruptions.corrupt(image, "stripe")
    assert [stripe[5, 3], stripe[5, 10], stripe[5, 20], stripe[5, 24], stripe[0, 6],
            stripe[0, 7], stripe[0, 21]] == [55, 200, 90, 225, 255, 0, 255]
    # Every grey level, rounded back to the nearest of 256 (not truncated: 1 - v/255 in
    # floating point falls just below some integers).
    levels = np.resize(np.arange(256, dtype=np.uint8), (28, 28))
    levels[:, 7:21] = 0
    inverted = corruptions.corrupt(levels, "stripe")
    assert np.array_equal(inverted[:, :7], 255 - levels[:, :7])
    assert np.array_equal(corruptions.corrupt(levels, "brightness", severity=2)[:, 21:],
                          np.minimum(levels[:, 21:].astype(int) + 51, 255))


def test_shot_noise_is_mnist_c_s_poisson_formula_drawn_from_the_documented_generator():
    """MNIST-C: clip(poisson(x * c) / c, 0, 1) * 255 with c = 3 at its severity, from the
    generator seeded by the seed and the corruption's name, image after image."""
    rng = np.random.default_rng(9)
    images = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    draw = corruptions.rng_for("shot_noise", 7)
    expected = [np.rint(np.clip(draw.poisson(image / 255.0 * 3) / 3, 0, 1) * 255)
                for image in images]
    assert np.array_equal(corruptions.corrupt(images, "shot_noise", seed=7),
                          np.array(expected, dtype=np.uint8))


@pytest.mark.parametrize("name", corruptions.NAMES)
def test_every_corruption_is_deterministic_for_a_seed(name, characters):
    first = corruptions.corrupt(characters, name, seed=5)
    assert np.array_equal(first, corruptions.corrupt(characters, name, seed=5))
    other = corruptions.corrupt(characters, name, seed=6)
    assert np.array_equal(first, other) == (name not in RANDOM)


@pytest.mark.parametrize("name", corruptions.NAMES)
def test_every_corruption_changes_every_image_except_identity(name, characters):
    changed = [not np.array_equal(before, after)
               for before, after in zip(characters, corruptions.corrupt(characters, name),
                                        strict=True)]
    assert all(changed) == (name != corruptions.IDENTITY)
    assert any(changed) == (name != corruptions.IDENTITY)


def blurred_distance(images: np.ndarray, others: np.ndarray) -> float:
    """Mean |difference| after a sigma-2 blur of both (so a moved stroke counts by how far)."""
    def blur(batch):
        return np.stack([pixelops.gaussian(image / 255.0, 2.0) for image in batch])
    return float(np.mean(np.abs(blur(images) - blur(others))))


@pytest.mark.parametrize("corruption", [c for c in corruptions.SUITE if c.levels],
                         ids=lambda c: c.name)
def test_damage_grows_with_severity(corruption, characters):
    damage = [blurred_distance(characters, corruptions.corrupt(characters, corruption.name,
                                                               severity=level))
              for level in corruptions.SEVERITIES]
    for level in corruptions.SEVERITIES[:-1]:
        if (corruption.name, level) not in NOT_ORDERED:
            assert damage[level] > damage[level - 1], (level, damage)
    assert damage[-1] > damage[0]


def test_a_severity_is_refused_where_there_is_none_and_out_of_range():
    with pytest.raises(ValueError, match="no severity"):
        corruptions.corrupt(np.zeros((28, 28), np.uint8), "stripe", severity=2)
    with pytest.raises(ValueError, match="severity must be one of"):
        corruptions.corrupt(np.zeros((28, 28), np.uint8), "fog", severity=6)
    with pytest.raises(ValueError, match="unknown corruption 'nope'"):
        corruptions.corrupt(np.zeros((28, 28), np.uint8), "nope")
    with pytest.raises(ValueError, match="shape"):
        corruptions.corrupt(np.zeros((32, 32), np.uint8), "fog")


def test_the_fixed_corruptions_match_their_formulas(characters):
    x = characters.astype(np.int64)
    stripe = x.copy()
    stripe[:, :, :7] = 255 - stripe[:, :, :7]
    stripe[:, :, 21:] = 255 - stripe[:, :, 21:]
    assert np.array_equal(corruptions.corrupt(characters, "stripe"), stripe)
    bright = np.clip(np.rint(x + 0.5 * 255), 0, 255)  # MNIST-C's HSV round trip of grey: x + c
    assert np.abs(corruptions.corrupt(characters, "brightness").astype(int) - bright).max() <= 1
    moved = corruptions.corrupt(characters, "translate")
    for before, after in zip(characters, moved, strict=True):
        padded = np.pad(before, 3)
        shifts = [padded[3 + dy:31 + dy, 3 + dx:31 + dx] for dy in (-3, 3) for dx in (-3, 3)]
        assert any(np.array_equal(after, shifted) for shifted in shifts)


def pillow_affine(image: np.ndarray, matrix) -> np.ndarray:
    """Pillow's bilinear affine transform about the centre (Pillow's pixel centres sit at +0.5,
    so the centre 13.5 of integer-centred coordinates is its 14)."""
    (a, b), (c, d) = matrix
    centre = 14.0
    data = (a, b, centre - a * centre - b * centre, c, d, centre - c * centre - d * centre)
    warped = Image.fromarray(image.astype(np.float32) / 255.0, mode="F").transform(
        (28, 28), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR)
    return np.asarray(warped, dtype=np.float64)


def rotation(angle: float):
    return [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]


def shearing(amount: float):
    return [[1.0, -np.sin(amount)], [0.0, np.cos(amount)]]


#: MNIST-C's geometric corruptions as the affine maps they are (either direction where MNIST-C
#: picks one at random): rotate 0.4 rad, shear 0.4, scale to 70%.
AFFINE = {"rotate": [rotation(0.4), rotation(-0.4)], "shear": [shearing(0.4), shearing(-0.4)],
          "scale": [[[1 / 0.7, 0.0], [0.0, 1 / 0.7]]]}


@pytest.mark.parametrize("name", sorted(AFFINE))
def test_the_geometric_corruptions_match_pillows_affine_transform(name, characters):
    for image, corrupted in zip(characters, corruptions.corrupt(characters, name), strict=True):
        theirs = [np.rint(255 * pillow_affine(image, matrix)) for matrix in AFFINE[name]]
        # Pillow blends the border with the outside a little differently: compare the inside.
        gaps = [np.abs(corrupted.astype(float) - t)[2:-2, 2:-2].max() for t in theirs]
        assert min(gaps) <= 5, gaps  # grey levels of 255


def test_the_blur_and_sobel_match_scipy(characters):
    from scipy import ndimage

    image = characters[3] / 255.0
    for sigma in (0.7, 1.0, 1.5, 4.0):
        assert np.allclose(pixelops.gaussian(image, sigma),
                           ndimage.gaussian_filter(image, sigma, mode="nearest", truncate=4.0))
        assert np.allclose(pixelops.gaussian(image, sigma, mode="constant"),
                           ndimage.gaussian_filter(image, sigma, mode="constant", truncate=4.0))
    columns, rows = pixelops.sobel(image)
    assert np.allclose(columns, ndimage.sobel(image, axis=1))
    assert np.allclose(rows, ndimage.sobel(image, axis=0))


def test_canny_finds_the_outline_of_a_square_and_nothing_inside():
    square = np.zeros((28, 28))
    square[8:20, 8:20] = 1.0
    edges = pixelops.canny(square)
    assert not edges[11:17, 11:17].any() and not edges[:5].any() and not edges[23:].any()
    for side in (edges[6:10, 8:20], edges[18:22, 8:20], edges[8:20, 6:10], edges[8:20, 18:22]):
        assert side.any(axis=0).all() or side.any(axis=1).all()  # an unbroken line on each side


def test_the_contracts_corrupt_without_scipy_or_scikit_image():
    """The server and the light client import the suite: numpy and Pillow only."""
    code = ("import sys, numpy as np\n"
            "from regserve_contracts import corruptions\n"
            "corruptions.suite(np.zeros((28, 28), np.uint8))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('scipy', 'skimage', 'cv2', 'tensorflow', 'keras')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]"
