"""MNIST-C's corruptions (Mu & Gilmer, 2019) for 28x28 uint8 EMNIST-form images, on numpy alone.

The fifteen corruptions of MNIST-C's benchmark, each at the severity MNIST-C chose for it, plus
``identity``. Parameters are MNIST-C's own (``corruptions.py`` of google-research/mnist-c),
re-implemented on :mod:`regserve_contracts.pixelops` because the original needs ImageMagick,
OpenCV and numpy APIs that no longer exist. The trainer measures accuracy on corrupted test
splits with this suite, the server shows a drawing under every corruption, and the tests check
both against the same functions. Everything random comes from a generator seeded by the caller's
seed and the corruption's name, so a seed always gives the same images.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from regserve_contracts import pixelops

#: The seed the trainer and the server use unless told otherwise.
SEED = 20190605  # MNIST-C's arXiv date: any fixed number would do
IDENTITY = "identity"
#: Severities run 1 (mildest) to 5, as in MNIST-C.
SEVERITIES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Corruption:
    """One corruption: ``apply(image, rng, parameter)`` on a float 28x28 image in [0, 1]."""

    name: str
    apply: Callable[[np.ndarray, np.random.Generator, Any], np.ndarray]
    levels: tuple[Any, ...] = ()  # the parameter at severities 1..5; empty: no severity
    default: int | None = None  # MNIST-C's severity for its benchmark

    def parameter(self, severity: int | None) -> Any:
        if not self.levels:
            if severity is not None:
                raise ValueError(f"{self.name} has no severity")
            return None
        level = self.default if severity is None else severity
        if level not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
        return self.levels[level - 1]


def _identity(x, rng, c):
    return x


def _shot_noise(x, rng, c):
    return rng.poisson(x * c) / float(c)


def _impulse_noise(x, rng, c):
    # scikit-image's salt and pepper: a share c of the pixels, half set to 1, half to 0.
    flipped = rng.random(x.shape) <= c
    salted = rng.random(x.shape) <= 0.5
    return np.where(flipped, np.where(salted, 1.0, 0.0), x)


def _glass_blur(x, rng, c):
    sigma, delta, iterations = c
    pixels = np.floor(pixelops.gaussian(x, sigma) * 255).tolist()  # MNIST-C's uint8 step
    positions = range(28 - delta, delta, -1)
    # Shuffle locally: each pixel, visited bottom-right to top-left, swaps with a neighbour up to
    # delta away with probability 1/2. The draws are made up front; the swaps stay in order.
    count = iterations * len(positions) ** 2
    swap = (rng.random(count) < 0.5).tolist()
    moves = rng.integers(-delta, delta, size=(count, 2)).tolist()
    index = 0
    for _ in range(iterations):
        for h in positions:
            for w in positions:
                if swap[index]:
                    dx, dy = moves[index]
                    hp, wp = h + dy, w + dx
                    pixels[h][w], pixels[hp][wp] = pixels[hp][wp], pixels[h][w]
                index += 1
    return pixelops.gaussian(np.asarray(pixels) / 255.0, sigma)


def _motion_blur(x, rng, c):
    # ImageMagick's MotionBlurImage: a one-sided Gaussian-weighted smear of 2 * radius + 1 taps
    # along a random angle.
    radius, sigma = c
    angle = math.radians(rng.uniform(-45, 45))
    taps = np.arange(2 * radius + 1)
    weights = np.exp(-(taps ** 2) / (2.0 * sigma ** 2))
    weights /= weights.sum()
    out = np.zeros_like(x)
    for tap, weight in zip(taps, weights, strict=True):
        dx = int(math.ceil(tap * math.cos(angle) - 0.5))
        dy = int(math.ceil(tap * math.sin(angle) - 0.5))
        out += weight * pixelops.shift(x, -dx, -dy)
    return out


def _random_sign(rng):
    return 1.0 if rng.random() < 0.5 else -1.0


def _shear(x, rng, c):
    shear = c * _random_sign(rng)
    return pixelops.warp(x, [[1.0, -math.sin(shear)], [0.0, math.cos(shear)]])


def _scale(x, rng, c):
    return pixelops.warp(x, [[c, 0.0], [0.0, c]])


def _rotate(x, rng, c):
    angle = c * _random_sign(rng)
    return pixelops.warp(x, [[math.cos(angle), -math.sin(angle)],
                             [math.sin(angle), math.cos(angle)]])


def _brightness(x, rng, c):
    # MNIST-C goes grey -> RGB -> HSV, adds c to V and back: for a grey image that is x + c.
    return x + c


def _translate(x, rng, c):
    return pixelops.shift(x, int(c * _random_sign(rng)), int(c * _random_sign(rng)))


def _stripe(x, rng, c):
    out = x.copy()
    out[:, :7] = 1.0 - out[:, :7]
    out[:, 21:] = 1.0 - out[:, 21:]
    return out


def _fog(x, rng, c):
    strength, decay = c
    peak = x.max()
    fogged = x + strength * pixelops.plasma_fractal(rng, decay=decay)[:28, :28]
    return fogged * peak / (peak + strength)


def _spatter(x, rng, c):
    loc, scale, sigma, threshold, mask_sigma, _mud = c
    liquid = pixelops.gaussian(rng.normal(loc, scale, size=x.shape), sigma)
    liquid[liquid < threshold] = 0
    mask = pixelops.gaussian((liquid > threshold).astype(np.float64), mask_sigma)
    mask[mask < 0.8] = 0
    return x * (1 - mask) + 63 / 255 * mask  # mud-grey drops cover the ink


def _dotted_line(x, rng, c):
    r0, r1 = rng.integers(0, 27, size=2)
    mask = pixelops.line(0, float(r0), 27, float(r1))
    for start in range(0, 28, 4):  # every other 2-column block is left out
        mask[:, start:start + 2] = 0
    return x + mask


def _zigzag(x, rng, c):
    length = width = 2.0
    c0, c1 = 2, 25
    r0 = int(rng.integers(0, 27))
    r1 = r0 + int(rng.integers(-5, 5))
    theta = math.atan((r1 - r0) / (c1 - c0))
    straight = (c1 - c0) / math.cos(theta)
    points = [(0.0, 0.0)]
    r_i = 0.0
    for i in range(int((straight - length) // (2 * length)) + 1):
        r_i = (-1) ** i * width
        points.append(((2 * i + 1) * length, r_i))
    last = (2 * length) * (straight // (2 * length))
    if straight != last:
        points.append((straight, r_i / (2 * (straight - last))))  # MNIST-C's end point
    cos, sin = math.cos(theta), math.sin(theta)
    turned = [(cos * px - sin * py + c0, sin * px + cos * py + r0) for px, py in points]
    out = x.copy()
    for (ca, ra), (cb, rb) in zip(turned, turned[1:], strict=False):
        out = np.clip(out + pixelops.line(ca, ra, cb, rb), 0, 1)
    return out


def _canny_edges(x, rng, c):
    return pixelops.canny(x).astype(np.float64)


#: The suite in MNIST-C's order, each with MNIST-C's five levels and its benchmark severity.
SUITE: tuple[Corruption, ...] = (
    Corruption(IDENTITY, _identity),
    Corruption("shot_noise", _shot_noise, (60, 25, 12, 5, 3), 5),
    Corruption("impulse_noise", _impulse_noise, (0.03, 0.06, 0.09, 0.17, 0.27), 4),
    Corruption("glass_blur", _glass_blur,
               ((0.7, 1, 2), (0.9, 2, 1), (1.0, 2, 3), (1.1, 3, 2), (1.5, 4, 2)), 1),
    Corruption("motion_blur", _motion_blur, ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)), 1),
    Corruption("shear", _shear, (0.2, 0.4, 0.6, 0.8, 1.0), 2),
    Corruption("scale", _scale, (1 / 0.9, 1 / 0.8, 1 / 0.7, 1 / 0.6, 1 / 0.5), 3),
    Corruption("rotate", _rotate, (0.2, 0.4, 0.6, 0.8, 1.0), 2),
    Corruption("brightness", _brightness, (0.1, 0.2, 0.3, 0.4, 0.5), 5),
    Corruption("translate", _translate, (1, 2, 3, 4, 5), 3),
    Corruption("stripe", _stripe),
    Corruption("fog", _fog, ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)), 5),
    Corruption("spatter", _spatter, ((0.65, 0.3, 4, 0.69, 0.6, 0), (0.65, 0.3, 3, 0.68, 0.6, 0),
                                     (0.65, 0.3, 2, 0.68, 0.5, 0), (0.65, 0.3, 1, 0.65, 1.5, 1),
                                     (0.67, 0.4, 1, 0.65, 1.5, 1)), 4),
    Corruption("dotted_line", _dotted_line),
    Corruption("zigzag", _zigzag),
    Corruption("canny_edges", _canny_edges),
)
BY_NAME = {corruption.name: corruption for corruption in SUITE}
#: Every name, ``identity`` first.
NAMES: tuple[str, ...] = tuple(BY_NAME)
#: The corruptions proper: what robustness is averaged over.
CORRUPTIONS: tuple[str, ...] = tuple(name for name in NAMES if name != IDENTITY)


def rng_for(name: str, seed: int) -> np.random.Generator:
    """The generator of corruption ``name`` under ``seed`` (independent of the other names)."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def corrupt(images: np.ndarray, name: str, seed: int = SEED,
            severity: int | None = None) -> np.ndarray:
    """uint8 ``(28, 28)`` or ``(N, 28, 28)`` -> the same shape, corrupted by ``name``.

    ``severity`` 1..5 where the corruption has one (default: MNIST-C's); images are corrupted in
    order from one generator, so the same images and seed always give the same result.
    """
    if name not in BY_NAME:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(NAMES)}")
    corruption = BY_NAME[name]
    parameter = corruption.parameter(severity)
    batch = np.asarray(images)
    if batch.shape[-2:] != (28, 28) or batch.ndim not in (2, 3):
        raise ValueError(f"expected (28, 28) or (N, 28, 28) images, got shape {batch.shape}")
    single = batch.ndim == 2
    floats = batch.reshape(-1, 28, 28).astype(np.float64) / 255.0
    rng = rng_for(name, seed)
    out = np.stack([corruption.apply(image, rng, parameter) for image in floats]) \
        if len(floats) else floats
    pixels = np.clip(np.rint(np.clip(out, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)
    return pixels[0] if single else pixels


def suite(image: np.ndarray, seed: int = SEED) -> dict[str, np.ndarray]:
    """One uint8 28x28 image under every corruption, ``identity`` first, in suite order."""
    return {name: corrupt(image, name, seed) for name in NAMES}
