"""The one character-drawing helper (tests and benchmarks), and image bytes in any format."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

#: Polylines of each character on a 200x200 grid, scaled to the image drawn.
STROKES = {
    "A": [[(40, 180), (100, 20), (160, 180)], [(65, 115), (135, 115)]],
    "L": [[(60, 20), (60, 180), (150, 180)]],
    "T": [[(30, 30), (170, 30)], [(100, 30), (100, 180)]],
    "K": [[(60, 40), (60, 160)], [(60, 100), (140, 40)], [(60, 100), (140, 160)]],
}


def draw(shape: str = "A", size: int | tuple[int, int] = 200, ink: int = 0, paper: int = 255,
         mode: str = "L", width: int = 18) -> Image.Image:
    """A character drawn with thick strokes ('A', 'L', 'T', 'K' or 'O') on a ``size`` image.

    ``width`` is the stroke at 200 px, scaled with the image's shorter side. RGBA images get
    dark ink on a transparent background.
    """
    w, h = (size, size) if isinstance(size, int) else size
    image = Image.new(mode, (w, h), paper if mode != "RGBA" else (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    fill = ink if mode != "RGBA" else (20, 20, 20, 255)
    sx, sy = w / 200, h / 200
    stroke = max(1, int(width * min(w, h) / 200))
    if shape == "O":
        pen.ellipse([50 * sx, 20 * sy, 150 * sx, 180 * sy], outline=fill, width=stroke)
    for line in STROKES.get(shape, []):
        pen.line([(x * sx, y * sy) for x, y in line], fill=fill, width=stroke)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """Image bytes in ``fmt`` (PNG, JPEG, GIF, BMP, WEBP, TIFF); RGBA becomes RGB for JPEG."""
    buffer = io.BytesIO()
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()
