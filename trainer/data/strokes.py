"""Pen strokes for the synthetic set: Hershey and hand-made glyphs per class, and how to warp them.

A glyph is a list of strokes; a stroke is a float ``(k, 2)`` array of ``(x, y)`` pen positions,
y pointing down, in units of the capital height (Hershey's cap line to base line, 21 font units).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from regserve_contracts.labels import LABELS

Glyph = list[np.ndarray]

#: Hershey's capital height in font units (cap line -12 to base line 9).
CAP_HEIGHT = 21.0
#: Fonts that look written with a pen; weights say how often each is drawn. ``futural`` is a
#: plain print hand, ``scripts`` and ``cursive`` share joined-up letters and differ in digits.
FONT_WEIGHTS: dict[str, float] = {"futural": 4.0, "scripts": 1.0, "cursive": 1.0}
#: Characters also drawn from the script fonts. Script capitals are calligraphic, and the
#: looped ascenders and descenders of b, f, h, j, k, l, p, y, z are rare in EMNIST's boxes;
#: drawn, they taught a model to call real D, O and 6 a b.
SCRIPT_FORMS = frozenset("0123456789acdegimnoqrstuvwx")
#: How often a hand-made form is drawn, against a total font weight of about 6.
HANDMADE_WEIGHT = 4.0

#: How much wider than the fonts people wrote each class on NIST's forms: the median
#: width-to-height ratio of the shared real sample's training split over this generator's
#: without the correction, rounded to 0.05 (T, W, M are written wide; b, d, h, I narrow).
HAND_WIDTH: dict[str, float] = {
    "T": 1.45, "W": 1.35, "Z": 1.35, "J": 1.3, "M": 1.3, "t": 1.3, "5": 1.25, "E": 1.2,
    "G": 1.2, "N": 1.2, "2": 1.2, "f": 1.15, "a": 1.15, "0": 1.15, "e": 1.1, "A": 1.1,
    "Q": 1.1, "C": 1.1, "4": 1.1, "D": 1.05, "P": 0.9, "9": 0.9, "b": 0.9, "d": 0.9,
    "h": 0.85, "1": 0.85, "I": 0.8, "L": 0.8,
}  # fmt: skip

#: Common handwritten forms the fonts lack, in Hershey font units; ``;`` separates strokes.
HANDMADE: dict[str, tuple[str, ...]] = {
    "1": ("10,-12 10,9", "6,-8 10,-12 10,9", "6,-8 10,-12 10,9; 6,9 14,9"),
    "4": (
        "7,-12 4,3 17,3; 13,-6 13,9",
        "13,-12 3,3 17,3; 13,-12 13,9",
        "5,-12 3,1 17,1; 14,-12 14,9",
    ),
    "6": ("13,-12 9,-8 6,-3 4,2 4,6 6,9 9,9 12,7 12,3 9,1 6,2 4,5",),
    "7": ("3,-12 17,-12 8,9; 6,-1 15,-1", "3,-10 6,-12 17,-12 12,-3 9,9"),
    "9": (
        "15,-8 13,-11 10,-12 7,-11 5,-8 5,-6 7,-3 10,-2 13,-3 15,-6 15,-12 15,9",
        "15,-6 12,-3 8,-2 5,-4 4,-8 6,-11 10,-12 13,-11 15,-8 15,-4 14,2 13,9",
    ),
    "A": (
        "2,9 10,-12 18,9; 5,2 15,2",
        "2,9 8,-10 10,-12 12,-10 18,9; 4,1 16,1",
        "3,9 10,-12 17,9; 1,3 19,1",
    ),
    "G": ("17,-9 14,-12 9,-12 5,-10 3,-5 3,2 5,7 9,9 13,9 17,6 17,0 11,0",),
    "I": ("10,-12 10,9; 5,-12 15,-12; 5,9 15,9",),
    "J": ("3,-12 19,-12; 12,-12 12,4 10,8 7,9 4,8 2,5", "14,-12 14,4 12,8 8,9 5,8 3,4"),
    "Q": ("10,-12 6,-10 3,-5 3,2 6,7 10,9 14,7 17,2 17,-5 14,-10 10,-12; 11,3 18,10",),
    "0": ("10,-12 6,-10 4,-5 4,2 6,7 10,9 14,7 16,2 16,-5 14,-10 10,-12",),
    "2": ("4,-8 6,-11 9,-12 12,-11 14,-8 13,-4 4,9 16,9",),
    "8": (
        "15,-10 12,-12 8,-12 5,-10 5,-7 8,-3 12,0 15,3 15,7 12,9 8,9 5,7 5,3 8,0 "
        "12,-3 15,-7 15,-10",
    ),
    "D": ("4,-12 4,9; 4,-12 11,-11 15,-7 16,-2 15,4 11,8 4,9",),
    "g": (
        "15,-5 15,12 13,15 10,16 6,15 4,13; 15,-1 12,-4 9,-5 6,-4 4,-1 4,3 6,6 9,7 12,6 15,3",
        "15,-2 12,-5 8,-5 5,-3 4,0 5,3 8,4 12,3 15,0 15,-5 15,10 12,15 8,16 4,14 3,11",
    ),
    "h": ("4,-12 4,9; 4,1 7,-3 10,-5 13,-3 15,1 15,9",),
    "n": (
        "4,-5 4,9; 4,-1 7,-4 10,-5 13,-4 15,-1 15,9",
        "1,-3 4,-5 4,9 4,-1 7,-4 10,-5 13,-4 15,-1 15,9",
    ),
    "R": ("4,9 4,-12 12,-12 15,-10 15,-5 12,-2 4,-2 15,9",),
    "T": ("1,-12 19,-12; 10,-12 10,9", "2,-11 18,-12; 10,-12 9,9"),
    "W": ("2,-12 4,3 6,9 8,3 10,-4 12,3 14,9 16,3 18,-12",),
    "w": ("2,-5 3,4 5,8 7,9 9,7 10,2 11,7 13,9 15,8 17,4 18,-5",),
    "Y": ("3,-12 10,-2 17,-12; 10,-2 10,9", "3,-12 10,1 17,-12; 10,1 10,9"),
    "a": ("16,-5 14,2 12,6 9,9 6,9 4,6 4,1 6,-3 9,-5 12,-4 14,0 16,9",),
    "Z": ("3,-12 17,-12 3,9 17,9; 6,-1 14,-1",),
    "b": ("4,-12 4,9; 4,-1 7,-4 10,-5 13,-4 15,-1 15,4 13,8 10,9 7,8 4,5",),
    "d": ("15,-12 15,9; 15,-1 12,-4 9,-5 6,-4 4,-1 4,4 6,8 9,9 12,8 15,5",),
    "f": ("16,-11 13,-12 10,-11 8,-8 8,9; 2,-3 15,-3", "15,-11 12,-12 9,-10 8,-6 7,9; 1,-3 16,-3"),
    "q": ("15,-5 15,16 17,14; 15,-1 12,-4 9,-5 6,-4 4,-1 4,4 6,8 9,9 12,8 15,5",),
    "r": ("5,-5 5,9; 5,1 7,-3 10,-5 14,-5",),
    "y": ("4,-5 10,6; 16,-5 6,16", "4,-5 4,3 6,6 9,6 12,5 15,2; 15,-5 15,13 13,16 9,17 6,15"),
    "t": ("9,-12 9,9; 2,-5 17,-5", "8,-12 8,6 10,9 14,9; 2,-5 16,-5"),
}


def parse_strokes(spec: str) -> Glyph:
    """Turn ``"x,y x,y; x,y ..."`` in font units into strokes in capital-height units."""
    strokes = []
    for part in spec.split(";"):
        points = [tuple(float(v) for v in pair.split(",")) for pair in part.split()]
        strokes.append(np.asarray(points, dtype=np.float64) / CAP_HEIGHT)
    return strokes


def forms_for_class(char: str) -> list[str]:
    """The characters drawn for a class: merged capitals also take their lower-case form."""
    if char.isalpha() and char.isupper() and char.lower() not in LABELS:
        return [char, char.lower()]
    return [char]


class ClassGlyphs(NamedTuple):
    """What can be drawn for one class: glyphs, how likely each is, which are joined-up script."""

    glyphs: tuple[Glyph, ...]
    probabilities: np.ndarray
    script: tuple[bool, ...]


@lru_cache(maxsize=1)
def glyph_table() -> tuple[ClassGlyphs, ...]:
    """For each class in label order, its candidate glyphs and their drawing probabilities."""
    from HersheyFonts import HersheyFonts

    fonts = {}
    for name in FONT_WEIGHTS:
        fonts[name] = HersheyFonts()
        fonts[name].load_default_font(name)
    table = []
    for char in LABELS:
        glyphs: list[Glyph] = []
        weights: list[float] = []
        script: list[bool] = []
        for form in forms_for_class(char):
            first = len(glyphs)
            for name, weight in FONT_WEIGHTS.items():
                if name != "futural" and form not in SCRIPT_FORMS:
                    continue
                strokes = [
                    np.asarray(s, float) / CAP_HEIGHT for s in fonts[name].strokes_for_text(form)
                ]
                twin = next(
                    (i for i in range(first, len(glyphs)) if _same(strokes, glyphs[i])), None
                )
                if twin is not None:
                    # Fonts that share a glyph pool their weight instead of drawing it twice.
                    weights[twin] += weight
                    continue
                glyphs.append(strokes)
                weights.append(weight)
                script.append(name != "futural")
            extra = HANDMADE.get(form, ())
            glyphs.extend(parse_strokes(spec) for spec in extra)
            weights.extend([HANDMADE_WEIGHT / max(len(extra), 1)] * len(extra))
            script.extend([False] * len(extra))
        stretch = np.array([HAND_WIDTH.get(char, 1.0), 1.0])
        glyphs = [[stroke * stretch for stroke in glyph] for glyph in glyphs]
        probabilities = np.asarray(weights) / np.sum(weights)
        table.append(ClassGlyphs(tuple(glyphs), probabilities, tuple(script)))
    return tuple(table)


def _same(a: Glyph, b: Glyph) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and np.allclose(x, y) for x, y in zip(a, b, strict=True)
    )


def overshoot(stroke: np.ndarray, start: float, end: float) -> np.ndarray:
    """Carry a stroke on past its ends along its direction there, as a quick pen does."""
    if len(stroke) < 2:
        return stroke
    head, tail = stroke[0] - stroke[1], stroke[-1] - stroke[-2]
    head = head / max(float(np.hypot(*head)), 1e-9) * start
    tail = tail / max(float(np.hypot(*tail)), 1e-9) * end
    return np.concatenate([[stroke[0] + head], stroke, [stroke[-1] + tail]])


def resample(stroke: np.ndarray, spacing: float) -> np.ndarray:
    """Points every ``spacing`` along the stroke, so later warps bend straight segments."""
    if len(stroke) < 2:
        return stroke
    lengths = np.hypot(*np.diff(stroke, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(lengths)])
    if arc[-1] <= 0:
        return stroke[:1]
    steps = np.linspace(0.0, arc[-1], max(2, int(np.ceil(arc[-1] / spacing)) + 1))
    return np.stack([np.interp(steps, arc, stroke[:, 0]), np.interp(steps, arc, stroke[:, 1])], 1)


def smooth(stroke: np.ndarray, width: int) -> np.ndarray:
    """Round a stroke's corners as a moving pen does, keeping its end points in place."""
    if width < 2 or len(stroke) < 3:
        return stroke
    kernel = np.hanning(2 * width + 1)
    kernel /= kernel.sum()
    padded = np.pad(stroke, ((width, width), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(2)], 1)


def trim(stroke: np.ndarray, start: float, end: float) -> np.ndarray:
    """Drop shares ``start`` and ``end`` of a resampled open stroke (script lead-ins and tails).

    Closed strokes (an O, the loops of an 8) are left whole: opened they would be other letters.
    """
    n = len(stroke)
    first, last = int(start * n), n - int(end * n)
    closed = np.hypot(*(stroke[-1] - stroke[0])) < 0.3
    return stroke if closed or last - first < 2 else stroke[first:last]


def bend(strokes: Glyph, power_x: float, power_y: float) -> Glyph:
    """Raise box-normalised coordinates to a power: same outline, parts moved along each axis."""
    points = np.concatenate(strokes)
    low, span = points.min(axis=0), np.maximum(np.ptp(points, axis=0), 1e-6)
    powers = np.array([power_x, power_y])
    return [low + span * np.clip((s - low) / span, 0.0, 1.0) ** powers for s in strokes]


def elastic(
    points: np.ndarray, rng: np.random.Generator, amplitude: float, waves: int = 3
) -> np.ndarray:
    """Displace points by a smooth random field: a sum of a few low-frequency plane waves."""
    angles = rng.uniform(0, 2 * np.pi, waves)
    directions = np.stack([np.cos(angles), np.sin(angles)], 1)
    frequencies = rng.uniform(0.4, 1.4, waves) * 2 * np.pi
    phases = rng.uniform(0, 2 * np.pi, waves)
    gains = rng.normal(0.0, amplitude / np.sqrt(waves), (waves, 2))
    waves_at = np.sin((points @ directions.T) * frequencies + phases)
    return points + waves_at @ gains
