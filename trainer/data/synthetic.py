"""The bundled offline set: pen-drawn Hershey glyphs in EMNIST-balanced form, made on the fly.

Every image is drawn from its own seed (the data set's seed, the split and the image's index),
so the same seed gives the same images however they are produced, and train and test come
from disjoint random streams. No network, no files: only ``hershey-fonts`` and Pillow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from regserve_contracts import metadata as md
from regserve_contracts.emnist_form import ink_to_emnist
from regserve_contracts.labels import IMAGE_SIZE, NUM_CLASSES
from trainer.data import Dataset, DataSourceError
from trainer.data.strokes import (
    Glyph,
    bend,
    elastic,
    glyph_table,
    overshoot,
    resample,
    smooth,
    trim,
)

NAME = md.SYNTHETIC_SOURCE
DESCRIPTION = (
    "RegServe's bundled offline set: Hershey single-stroke glyphs and hand-made handwritten "
    "forms drawn with random pen, slant, rotation, scale and elastic distortion, put through "
    "EMNIST's preprocessing. "
    "NOT EMNIST: accuracy on it says nothing about EMNIST."
)
_SPLIT_STREAMS = {"train": 0, "test": 1}
#: Side of the drawing canvas and of the glyph inside it, in pixels (NIST scanned at 128).
_CANVAS = 128
_DRAWN = 96
#: Distance between resampled pen positions, in capital heights.
_SPACING = 0.03
#: The widest pen line in canvas pixels: about 4 px at 28x28, EMNIST's boldest strokes.
_WIDEST = 0.2 * _DRAWN
#: Resampled points drawn at one width before the pressure changes (about a fifth of a height).
_PRESSURE_STEP = 6


@dataclass(frozen=True)
class PenStyle:
    """The random choices behind one drawing: how this writer holds and moves the pen."""

    pen_width: float  # in capital heights
    slant: float  # horizontal shear per unit of height (positive leans right)
    rotation: float  # radians
    aspect: float  # horizontal stretch
    elastic: float  # amplitude of the smooth warp, in capital heights
    jitter: float  # per-stroke offset, in capital heights
    overshoot: float  # longest run past a stroke's ends, in capital heights
    rounding: int  # corner-rounding window, in resampled points
    trim_start: float  # share of the first stroke left out (script lead-ins)
    trim_end: float  # share of the last stroke left out (script tails)
    bend_x: float  # power applied to normalised x: moves where a glyph's parts meet
    bend_y: float  # the same for y: a 6 with a small or big loop, an 8 top-heavy or not
    pressure: float  # how fast the pen's width wanders along a stroke (log-scale step)
    softness: float  # Gaussian blur of the drawn ink, in canvas pixels (pen bleed, scanning)

    @classmethod
    def sample(cls, rng: np.random.Generator, script: bool = False) -> PenStyle:
        """Draw a writer's style; ranges are set so the images look like EMNIST's.

        Only joined-up script glyphs lose the ends of their strokes: those are the lead-in and
        the tail that join letters in a word; a printed 3 without its top would be a J.
        """
        trims = rng.uniform(0.0, 0.12, 2) * (rng.random(2) < 0.7) * script
        return cls(
            pen_width=float(np.clip(np.exp(rng.normal(np.log(0.15), 0.3)), 0.06, 0.3)),
            slant=float(rng.normal(0.15, 0.3)),
            rotation=float(np.deg2rad(rng.normal(0.0, 9.0))),
            aspect=float(np.exp(rng.normal(0.0, 0.2))),
            elastic=float(rng.uniform(0.0, 0.15)),
            jitter=float(rng.uniform(0.0, 0.07)),
            overshoot=float(rng.uniform(0.0, 0.1)),
            rounding=int(rng.integers(0, 7)),
            trim_start=float(trims[0]),
            trim_end=float(trims[1]),
            bend_x=float(np.exp(rng.normal(0.0, 0.12))),
            bend_y=float(np.exp(rng.normal(0.0, 0.2))),
            pressure=float(rng.uniform(0.0, 0.2)),
            softness=float(rng.uniform(0.8, 3.0)),
        )


def warp_glyph(glyph: Glyph, style: PenStyle, rng: np.random.Generator) -> Glyph:
    """Apply the pen style to a glyph's strokes; the result is still in capital heights."""
    ends = rng.uniform(0.0, style.overshoot, (len(glyph), 2))
    strokes = [resample(overshoot(s, *e), _SPACING) for s, e in zip(glyph, ends, strict=True)]
    if len(strokes[0]) > 6:
        strokes[0] = trim(strokes[0], style.trim_start, 0.0)
    if len(strokes[-1]) > 6:
        strokes[-1] = trim(strokes[-1], 0.0, style.trim_end)
    strokes = bend(strokes, style.bend_x, style.bend_y)
    strokes = [smooth(s, style.rounding) for s in strokes]
    strokes = [_nudge(s, style.jitter, rng) for s in strokes]
    cos, sin = np.cos(style.rotation), np.sin(style.rotation)
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[style.aspect, -style.slant], [0, 1]])
    centre = np.concatenate(strokes).mean(axis=0)
    warped = [(s - centre) @ linear.T for s in strokes]
    # One smooth field for the whole glyph, so strokes that meet still meet.
    points = elastic(np.concatenate(warped), rng, style.elastic)
    return np.split(points, np.cumsum([len(s) for s in warped])[:-1])


def _nudge(stroke: np.ndarray, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Move, turn and resize one stroke a little on its own, as a pen lifted and put down does."""
    angle = rng.normal(0.0, 2.0 * jitter)
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]]) * np.exp(rng.normal(0.0, 1.5 * jitter))
    centre = stroke.mean(axis=0)
    return (stroke - centre) @ linear.T + centre + rng.normal(0.0, jitter, 2)


def render(strokes: Glyph, style: PenStyle, rng: np.random.Generator | None = None) -> np.ndarray:
    """Draw strokes with the style's round pen on a 128 px black canvas; return ink in [0, 1].

    People write small letters (a, e, n) smaller but with the same pen, so after scaling to
    the frame their strokes look thicker; the square root keeps that from going too far.
    With ``rng`` the pressure, and so the width, wanders along each stroke.
    """
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    extent = max(float((high - low).max()), 0.05)
    scale = _DRAWN / extent
    width = style.pen_width * scale * np.sqrt(min(extent, 1.0))
    offset = (_CANVAS - (high - low) * scale) / 2 - low * scale
    canvas = Image.new("L", (_CANVAS, _CANVAS), 0)
    draw = ImageDraw.Draw(canvas)
    for stroke in strokes:
        pixels = stroke * scale + offset
        starts = np.arange(0, max(len(pixels) - 1, 1), _PRESSURE_STEP)
        drift = np.zeros(len(starts)) if rng is None else rng.normal(0, style.pressure, len(starts))
        widths = (np.exp(np.cumsum(drift)).clip(0.6, 1.6) * width).clip(1, _WIDEST).astype(int)
        _draw_stroke(draw, pixels, starts, widths.tolist())
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    if style.softness <= 0:
        return ink
    blurred = canvas.filter(ImageFilter.GaussianBlur(radius=style.softness))
    # A thin stroke loses height under the blur but crossings keep theirs; rescaling by the
    # blurred centre height of one stroke keeps the whole character at full strength.
    centre = math.erf(min(max(width, 1.0), _WIDEST) / (2 * math.sqrt(2) * style.softness))
    return np.clip(np.asarray(blurred, np.float32) / (255.0 * centre), 0.0, 1.0)


def _draw_stroke(draw: ImageDraw.ImageDraw, pixels: np.ndarray, starts, widths) -> None:
    """Draw one stroke in pieces of changing width, with round tips and round sharp turns.

    Pillow's own curved joints cost a pie slice per point, most of the drawing time, so
    circles go only where they show: at the ends and where the stroke turns sharply.
    """
    if len(pixels) > 1:
        for start, width in zip(starts.tolist(), widths, strict=True):
            piece = pixels[start : start + _PRESSURE_STEP + 1].tolist()
            draw.line([tuple(p) for p in piece], fill=255, width=width)
    for index in _pen_down_points(pixels).tolist():
        radius = widths[min(index // _PRESSURE_STEP, len(widths) - 1)] / 2
        x, y = pixels[index]
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)


def _pen_down_points(pixels: np.ndarray) -> np.ndarray:
    """Indices of a stroke's two ends and of the points where it turns by over 15 degrees."""
    if len(pixels) < 3:
        return np.arange(len(pixels))
    steps = np.diff(pixels, axis=0)
    heading = np.arctan2(steps[:, 1], steps[:, 0])
    turn = np.abs((np.diff(heading) + np.pi) % (2 * np.pi) - np.pi)
    return np.concatenate([[0], 1 + np.flatnonzero(turn > 0.26), [len(pixels) - 1]])


def draw_character(label: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic image of class ``label`` in EMNIST's uint8 28x28 form."""
    candidates = glyph_table()[label]
    choice = rng.choice(len(candidates.glyphs), p=candidates.probabilities)
    style = PenStyle.sample(rng, candidates.script[choice])
    return ink_to_emnist(render(warp_glyph(candidates.glyphs[choice], style, rng), style, rng))


def balanced_labels(size: int, rng: np.random.Generator) -> np.ndarray:
    """``size // 47`` labels per class, the remainder to distinct random classes, shuffled."""
    labels = np.repeat(np.arange(NUM_CLASSES), size // NUM_CLASSES)
    extra = rng.choice(NUM_CLASSES, size % NUM_CLASSES, replace=False)
    return rng.permutation(np.concatenate([labels, extra])).astype(np.int64)


def generate(
    size: int,
    seed: int = 0,
    split: str = "train",
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``size`` class-balanced images and labels for one split of the offline set.

    ``progress``, when given, is called with the number of images done every 1,000 images.
    """
    if split not in _SPLIT_STREAMS:
        raise DataSourceError(f"split must be one of {sorted(_SPLIT_STREAMS)}, got {split!r}")
    if size < 0:
        raise DataSourceError(f"the number of images must be >= 0, got {size}")
    if seed < 0:
        raise DataSourceError(f"seed must be >= 0, got {seed}")
    stream = _SPLIT_STREAMS[split]
    labels = balanced_labels(size, np.random.default_rng([seed, stream, 0]))
    images = np.empty((size, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for index, label in enumerate(labels):
        # One seed per image: the result does not depend on how the work is chunked.
        images[index] = draw_character(int(label), np.random.default_rng([seed, stream, 1, index]))
        if progress is not None and (index + 1) % 1000 == 0:
            progress(index + 1)
    return images, labels


def load_synthetic(train_size: int = 18800, test_size: int = 3760, seed: int = 0) -> Dataset:
    """The bundled offline set: class-balanced, deterministic for ``seed``, no network."""
    x_train, y_train = generate(train_size, seed, "train")
    x_test, y_test = generate(test_size, seed, "test")
    return Dataset(NAME, DESCRIPTION, x_train, y_train, x_test, y_test)
