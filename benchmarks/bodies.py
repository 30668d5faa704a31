"""The request bodies the serving benchmark sends: canvas PNG, photo PNG and JSON pixels.

- canvas: an EMNIST character as the page's drawing canvas sends it (280x280 RGBA PNG, dark ink
  on white), made by :func:`benchmarks.loadgen.canvas_png`;
- photo: the same character as a phone photo of ink on paper would arrive: 579x595 RGB PNG,
  tinted paper lit unevenly, the character at a random offset, a little blur (about
  29 KB, like the issue's 26 KB example);
- pixels: the character as JSON ``{"pixels": 28x28, "preprocessed": true}``.

The BentoML peer takes the same images as multipart files and pixels as a batch of one.
"""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.loadgen import canvas_png

PHOTO_SIZE = (579, 595)


def photo_png(pixels, seed: int = 0, size: tuple[int, int] = PHOTO_SIZE) -> bytes:
    """A photo-like RGB PNG of an EMNIST character: dark ink on lit, tinted, unevenly lit paper."""
    rng = np.random.default_rng(seed)
    width, height = size
    ink = Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode="L")
    side = int(min(size) * rng.uniform(0.45, 0.65))
    ink = np.asarray(ink.resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    alpha = np.zeros((height, width), dtype=np.float32)
    top = int(rng.integers(10, height - side - 10))
    left = int(rng.integers(10, width - side - 10))
    alpha[top:top + side, left:left + side] = ink
    # Paper: a warm tint with light falling off down the page (a per-pixel grain would make a
    # 100 KB file; this keeps it near the 26 KB example).
    light = 1.0 - 0.12 * np.arange(height, dtype=np.float32) / height
    paper = np.stack([np.full((height, width), tone) for tone in (236.0, 230.0, 214.0)], -1)
    paper *= light[:, None, None]
    pen = np.array([38.0, 36.0, 70.0])
    rgb = paper * (1 - alpha[..., None]) + pen * alpha[..., None]
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def pixels_json(pixels) -> bytes:
    """A JSON body with an already-preprocessed 28x28 character."""
    return json.dumps({"pixels": np.asarray(pixels, dtype=int).tolist(),
                       "preprocessed": True}).encode()


def multipart(field: str, filename: str, data: bytes, content_type: str = "image/png",
              boundary: str = "regserve-bench-boundary") -> tuple[bytes, str]:
    """A one-file multipart/form-data body and its Content-Type (how BentoML takes images)."""
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), \
        f"multipart/form-data; boundary={boundary}"


def body_sets(characters) -> dict[str, list[bytes]]:
    """The three kinds of body, one per character: canvas PNG, photo PNG, preprocessed pixels."""
    return {
        "canvas": [canvas_png(pixels) for pixels in characters],
        "photo": [photo_png(pixels, seed=index) for index, pixels in enumerate(characters)],
        "pixels": [pixels_json(pixels) for pixels in characters],
    }
