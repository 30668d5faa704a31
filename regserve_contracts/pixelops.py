"""Small numpy image operations on 28x28 float images in [0, 1], for the corruption suite.

MNIST-C builds its corruptions on scikit-image, SciPy, OpenCV and ImageMagick; the contracts
package may only use numpy (the server and the light client import it), so the few operations
they need are written here: a Gaussian blur, an affine warp, anti-aliased lines, a plasma
fractal and Canny's edge detector. Coordinates are (column, row) with pixel centres on integers,
as in scikit-image, so MNIST-C's parameters mean the same thing here.
"""

from __future__ import annotations

import math

import numpy as np

#: The image centre about which MNIST-C shears, rotates and scales.
CENTRE = 13.5


def gaussian(image: np.ndarray, sigma: float, mode: str = "edge") -> np.ndarray:
    """Separable Gaussian blur (kernel truncated at 4 sigma, as scikit-image's ``gaussian``).

    ``mode`` is numpy's padding: ``"edge"`` repeats the border (scikit-image's ``nearest``),
    ``"constant"`` pads with zeros.
    """
    radius = int(4.0 * sigma + 0.5)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(np.asarray(image, dtype=np.float64), radius, mode=mode)
    height, width = image.shape
    rows = sum(k * padded[i:i + height, :] for i, k in enumerate(kernel))
    return sum(k * rows[:, i:i + width] for i, k in enumerate(kernel))


def sample(image: np.ndarray, columns: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` at (``columns``, ``rows``); zero outside the image."""
    height, width = image.shape
    padded = np.pad(np.asarray(image, dtype=np.float64), 1)  # a ring of zeros: black outside
    c0, r0 = np.floor(columns), np.floor(rows)
    fc, fr = columns - c0, rows - r0
    # Indices into the padded image, clipped: anything beyond the ring reads zero anyway.
    ci = np.clip(c0.astype(np.int64) + 1, 0, width)
    ri = np.clip(r0.astype(np.int64) + 1, 0, height)
    outside = (columns < -1) | (columns > width) | (rows < -1) | (rows > height)
    value = ((1 - fr) * ((1 - fc) * padded[ri, ci] + fc * padded[ri, ci + 1])
             + fr * ((1 - fc) * padded[ri + 1, ci] + fc * padded[ri + 1, ci + 1]))
    return np.where(outside, 0.0, value)


def warp(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The image warped by a 2x2 ``matrix`` about :data:`CENTRE`: each output pixel reads the
    input at ``matrix @ (out - centre) + centre`` (scikit-image's ``inverse_map``)."""
    height, width = image.shape
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    (a, b), (c, d) = np.asarray(matrix, dtype=np.float64)
    x, y = columns - CENTRE, rows - CENTRE
    return sample(image, a * x + b * y + CENTRE, c * x + d * y + CENTRE)


def shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The image moved ``dx`` columns right and ``dy`` rows down, black coming in."""
    height, width = image.shape
    out = np.zeros_like(image)
    if abs(dx) >= width or abs(dy) >= height:
        return out
    out[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        image[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def line(c0: float, r0: float, c1: float, r1: float, size: int = 28) -> np.ndarray:
    """MNIST-C's soft line from (c0, r0) to (c1, r1): 1 on the line, fading over 2.3 pixels
    (``log(1 - d / 2.3) + 1``), cut off left of ``floor(c0)`` and from ``ceil(c1)``."""
    if c1 == c0:
        return np.zeros((size, size))
    columns, rows = np.meshgrid(np.arange(size, dtype=np.float64),
                                np.arange(size, dtype=np.float64), sparse=True)
    slope = (r1 - r0) / (c1 - c0)
    distance = np.clip(np.abs(rows - (slope * (columns - c0) + r0)), 0, 2.3 - 1e-10)
    mask = np.clip(np.log(1 - distance / 2.3) + 1, 0, 1)
    mask[:, :max(int(math.floor(c0)), 0)] = 0
    mask[:, max(int(math.ceil(c1)), 0):] = 0
    return mask


def plasma_fractal(rng: np.random.Generator, size: int = 256, decay: float = 3.0) -> np.ndarray:
    """A diamond-square height map in [0, 1] (MNIST-C's fog; ``size`` a power of two)."""
    heights = np.zeros((size, size))
    step, wibble = size, 100.0

    def wibbled_mean(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = heights[0:size:step, 0:size:step]
        squares = corners + np.roll(corners, -1, axis=0)
        squares = squares + np.roll(squares, -1, axis=1)
        heights[half:size:step, half:size:step] = wibbled_mean(squares)
        centres = heights[half:size:step, half:size:step]
        corners = heights[0:size:step, 0:size:step]
        across = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        heights[0:size:step, half:size:step] = wibbled_mean(across)
        down = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        heights[half:size:step, 0:size:step] = wibbled_mean(down)
        step //= 2
        wibble /= decay
    heights -= heights.min()
    return heights / heights.max()


def sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalised Sobel derivatives along columns and rows (SciPy's ``ndimage.sobel``)."""
    p = np.pad(image, 1, mode="edge")
    smooth_rows = p[:-2, :] + 2 * p[1:-1, :] + p[2:, :]  # smoothed across rows
    along_columns = smooth_rows[:, 2:] - smooth_rows[:, :-2]
    smooth_columns = p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]
    along_rows = smooth_columns[2:, :] - smooth_columns[:-2, :]
    return along_columns, along_rows


def canny(image: np.ndarray, sigma: float = 1.0, low: float = 0.1,
          high: float = 0.2) -> np.ndarray:
    """Canny's edges as a boolean image: blur, Sobel, thin to local maxima across the edge,
    keep weak edges (>= ``low``) only where they connect to a strong one (>= ``high``).
    Defaults and thresholds are scikit-image's for a float image."""
    smoothed = gaussian(image, sigma, mode="constant")
    gx, gy = sobel(smoothed)
    magnitude = np.hypot(gx, gy)
    # Non-maximum suppression: compare with both neighbours along the gradient, quantised to
    # one of four directions (0, 45, 90, 135 degrees).
    angle = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    sector = (np.floor((angle + 22.5) / 45.0).astype(int)) % 4
    offsets = {0: (0, 1), 1: (1, 1), 2: (1, 0), 3: (1, -1)}  # (row, column) step per sector
    padded = np.pad(magnitude, 1)
    height, width = magnitude.shape
    thin = np.zeros_like(magnitude, dtype=bool)
    for index, (dr, dc) in offsets.items():
        ahead = padded[1 + dr:1 + dr + height, 1 + dc:1 + dc + width]
        behind = padded[1 - dr:1 - dr + height, 1 - dc:1 - dc + width]
        thin |= (sector == index) & (magnitude >= ahead) & (magnitude >= behind)
    thin[[0, -1], :] = thin[:, [0, -1]] = False  # the border has no neighbour on one side
    weak = thin & (magnitude >= low)
    edges = weak & (magnitude >= high)
    while True:  # hysteresis: grow the strong edges through 8-connected weak ones
        grown = np.pad(edges, 1)
        around = np.zeros_like(edges)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                around |= grown[1 + dr:1 + dr + height, 1 + dc:1 + dc + width]
        grown = weak & around
        if (grown == edges).all():
            return edges
        edges = grown
