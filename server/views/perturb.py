"""A fixed, seeded set of small perturbations of a 28x28 character, for the stability view."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

#: One seed for everything random here: the same input always gets the same perturbations.
SEED = 20261125
NOISE_SIGMA = 25.0  # on the 0-255 scale
ANGLES = (-15.0, -10.0, -5.0, 5.0, 10.0, 15.0)
SHIFTS = ((1, 0), (-1, 0), (2, 0), (-2, 0), (0, 1), (0, -1), (0, 2), (0, -2))
STROKE_STRENGTHS = (1.0, 0.66, 0.33)  # how far toward the dilated (eroded) image to go
OCCLUSION_SIZE = 4  # a 4x4 black square, about 2% of the image
#: Top-left corners of the occluding squares, inside the centre where EMNIST puts the ink.
OCCLUSIONS: tuple[tuple[int, int], ...] = tuple(
    (int(y), int(x)) for y, x in np.random.default_rng(SEED).integers(6, 18, size=(6, 2)))
NOISE_COPIES = 6


def _noise(pixels: np.ndarray) -> list[np.ndarray]:
    rng = np.random.default_rng(SEED)
    return [pixels + rng.normal(0.0, NOISE_SIGMA, pixels.shape) for _ in range(NOISE_COPIES)]


def _rotations(pixels: np.ndarray) -> list[np.ndarray]:
    image = Image.fromarray(pixels.astype(np.uint8), mode="L")
    return [np.asarray(image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=0),
                       dtype=np.float64) for angle in ANGLES]


def _shifts(pixels: np.ndarray) -> list[np.ndarray]:
    out = []
    for dy, dx in SHIFTS:
        # Shift with black coming in, never wrap ink round to the other side.
        shifted = np.zeros_like(pixels)
        height, width = pixels.shape
        shifted[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            pixels[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
        out.append(shifted)
    return out


def _strokes(pixels: np.ndarray, make: Callable) -> list[np.ndarray]:
    image = Image.fromarray(pixels.astype(np.uint8), mode="L")
    changed = np.asarray(image.filter(make(3)), dtype=np.float64)
    return [pixels + strength * (changed - pixels) for strength in STROKE_STRENGTHS]


def _occlusions(pixels: np.ndarray) -> list[np.ndarray]:
    out = []
    for y, x in OCCLUSIONS:
        covered = pixels.copy()
        covered[y:y + OCCLUSION_SIZE, x:x + OCCLUSION_SIZE] = 0
        out.append(covered)
    return out


#: Each kind of perturbation and how to make its images from the (float) pixels, in order.
KINDS: tuple[tuple[str, Callable[[np.ndarray], list[np.ndarray]]], ...] = (
    ("noise", _noise),
    ("rotation", _rotations),
    ("shift", _shifts),
    ("thicker", lambda p: _strokes(p, ImageFilter.MaxFilter)),
    ("thinner", lambda p: _strokes(p, ImageFilter.MinFilter)),
    ("occlusion", _occlusions),
)
COUNT = NOISE_COPIES + len(ANGLES) + len(SHIFTS) + 2 * len(STROKE_STRENGTHS) + len(OCCLUSIONS)


def perturbations(pixels: np.ndarray) -> np.ndarray:
    """uint8 ``(28, 28)`` in EMNIST form -> uint8 ``(COUNT, 28, 28)``, always the same set."""
    base = np.asarray(pixels, dtype=np.float64)
    images = [image for _, make in KINDS for image in make(base)]
    return np.clip(np.rint(np.stack(images)), 0, 255).astype(np.uint8)


def kinds() -> list[str]:
    """The kind of each perturbation, in the order :func:`perturbations` returns them."""
    return [name for name, make in KINDS for _ in make(np.zeros((28, 28)))]
