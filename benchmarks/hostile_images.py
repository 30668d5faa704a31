"""Images for the hostile corpus: mangled, truncated, odd, and headers that claim too much.

Each maker returns bytes (and, for valid odd images, the answer they deserve). Everything is
seeded, so a failure names a case that can be replayed exactly.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
import zlib

import numpy as np
from PIL import Image

from benchmarks.drawing import draw, encode
from regserve_contracts.decoding import DEFAULT_MAX_PIXELS, ImageInputError, ImageTooLargeError
from regserve_contracts.emnist_form import preprocess_bytes

OK = frozenset({200})
BAD = frozenset({400})
TOO_LARGE = frozenset({413})


def glyph(size: tuple[int, int] = (64, 64)) -> Image.Image:
    """The hostile corpus's base mark: a dark 'K' on white paper, grayscale."""
    return draw("K", size, width=20)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk with its length and a valid CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def crafted_png(width: int, height: int, bit_depth: int = 8, color_type: int = 0,
                idat: bytes | None = None, extra: bytes = b"") -> bytes:
    """A PNG whose IHDR says ``width`` x ``height``, with whatever pixel data we choose."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    body = png_chunk(b"IHDR", ihdr) + extra
    if idat is not None:
        body += png_chunk(b"IDAT", idat)
    return b"\x89PNG\r\n\x1a\n" + body + png_chunk(b"IEND", b"")


def png_bomb(width: int, height: int, bit_depth: int = 8) -> bytes:
    """A complete, valid all-zero PNG: a few kB that decode to ``width * height`` pixels."""
    row = b"\x00" * (1 + (width * bit_depth + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return crafted_png(width, height, bit_depth, 0, data)


def gif_claiming(width: int, height: int) -> bytes:
    """A GIF whose screen and first frame claim ``width`` x ``height``, with one empty block."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x08\x00"
    return screen + frame + b"\x3b"


def bmp_claiming(width: int, height: int) -> bytes:
    """A 24-bit BMP header claiming ``width`` x ``height`` with no pixel data."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG with its SOF0 frame header patched to claim ``width`` x ``height``."""
    data = bytearray(encode(glyph().convert("RGB"), "JPEG", quality=90))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tiff_claiming(width: int, height: int) -> bytes:
    """An uncompressed 8-bit TIFF whose IFD claims ``width`` x ``height``, with 8 bytes of data."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
            (273, 4, 8 + 2 + 12 * 8 + 4), (278, 4, height), (279, 4, width * height)]
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        ifd += struct.pack("<HHI", tag, kind, 1) + (
            struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + b"\x00" * 8


def odd_images() -> list[tuple[str, bytes, frozenset[int]]]:
    """Valid but unusual images, each with the answer it deserves."""
    base = glyph()
    rgba_clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ink_on_clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ink_on_clear.paste((20, 20, 20, 255), mask=base.point(lambda v: 255 - v))
    strip = np.full((3, 10_000), 255, np.uint8)
    strip[:, 4_990:5_010] = 0  # a small dot of ink far from the centre of a 10,000 x 3 strip
    line = np.full((3, 10_000), 255, np.uint8)
    line[1, 1:-1] = 0  # a 1-px hairline across the whole strip
    sixteen = (np.asarray(base, np.uint16) * 257).astype(np.uint16)
    frames = [base, base.rotate(20, fillcolor=255), base.rotate(-20, fillcolor=255)]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    palette = base.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    clear_palette = palette.copy()
    clear_palette.info["transparency"] = 0
    return [
        ("1x1 white", encode(Image.new("L", (1, 1), 255), "PNG"), BAD),
        ("1x1 black", encode(Image.new("L", (1, 1), 0), "PNG"), BAD),
        ("1x1 opaque ink RGBA", encode(Image.new("RGBA", (1, 1), (0, 0, 0, 255)), "PNG"), BAD),
        ("blank white 64x64", encode(Image.new("L", (64, 64), 255), "PNG"), BAD),
        ("blank black 64x64 JPEG", encode(Image.new("RGB", (64, 64)), "JPEG"), BAD),
        ("fully transparent RGBA", encode(rgba_clear, "PNG"), BAD),
        ("10000x3 strip with a dot of ink", encode(Image.fromarray(strip), "PNG"), OK),
        ("10000x3 hairline", encode(Image.fromarray(line), "PNG"), BAD),
        ("16-bit grayscale PNG", encode(Image.fromarray(sixteen), "PNG"), OK),
        ("CMYK JPEG", encode(base.convert("CMYK"), "JPEG"), OK),
        ("CMYK TIFF", encode(base.convert("CMYK"), "TIFF"), OK),
        ("palette PNG", encode(palette, "PNG"), OK),
        ("palette PNG with transparency", encode(clear_palette, "PNG"), OK),
        ("animated GIF", animated.getvalue(), OK),
        ("ink on a transparent background", encode(ink_on_clear, "PNG"), OK),
        ("1-bit PNG", encode(base.convert("1"), "PNG"), OK),
        ("LA PNG", encode(base.convert("LA"), "PNG"), OK),
        ("light ink on dark BMP", encode(base.point(lambda v: 255 - v), "BMP"), OK),
        ("WebP", encode(base.convert("RGB"), "WEBP"), OK),
        ("JPEG sent as image/png", encode(base.convert("RGB"), "JPEG"), OK),
    ]


def truncated_images() -> list[tuple[str, bytes]]:
    """Valid character images cut short inside their pixel data (all must be refused)."""
    base = glyph((96, 96))
    noisy = Image.fromarray(np.random.default_rng(7).integers(0, 256, (96, 96), np.uint8))
    sources = {
        "PNG": encode(noisy, "PNG"), "JPEG": encode(noisy.convert("RGB"), "JPEG", quality=95),
        "GIF": encode(noisy, "GIF"), "BMP": encode(base, "BMP"), "TIFF": encode(noisy, "TIFF"),
        "WEBP": encode(noisy.convert("RGB"), "WEBP", lossless=True),
    }
    cases = []
    for fmt, data in sources.items():
        for share in (0.02, 0.1, 0.3, 0.5, 0.7, 0.85):
            cut = max(1, int(len(data) * share))
            cases.append((f"{fmt} truncated to {share:.0%}", data[:cut]))
    return cases


def corrupt_images(seed: int = 11) -> list[tuple[str, bytes]]:
    """Images with bytes overwritten in their headers, where no decoder may shrug it off."""
    rng = random.Random(seed)
    png = encode(glyph(), "PNG")
    gif = encode(glyph(), "GIF")
    jpeg = encode(glyph().convert("RGB"), "JPEG")
    cases = []
    for index in range(8):
        bad = bytearray(png)
        bad[rng.randrange(12, 29)] ^= 1 + rng.randrange(255)  # inside IHDR: the CRC no longer fits
        cases.append((f"PNG with corrupt IHDR #{index}", bytes(bad)))
    for index in range(4):
        bad = bytearray(gif)
        bad[:6] = bytes(rng.randrange(256) for _ in range(6))  # the GIF signature is gone
        cases.append((f"GIF with corrupt signature #{index}", bytes(bad)))
    sof = jpeg.index(b"\xff\xc0")
    cases.append(("JPEG whose SOF claims 0x0", jpeg[: sof + 5] + b"\0\0\0\0" + jpeg[sof + 9 :]))
    sos = jpeg.index(b"\xff\xda")
    cases.append(("JPEG without its scan", jpeg[:sos] + b"\xff\xd9"))
    cases.append(("JPEG without quantisation tables", jpeg.replace(b"\xff\xdb", b"\xff\xfe")))
    cases.append(("JPEG whose scan names 9 components", jpeg[: sos + 4] + b"\x09" + jpeg[sos + 5:]))
    cases.append(("PNG with IDAT that is not zlib", crafted_png(16, 16, idat=b"\x00" * 64)))
    cases.append(("PNG with bit depth 3", crafted_png(16, 16, 3, 0, zlib.compress(b"\0" * 200))))
    cases.append(("PNG with colour type 5", crafted_png(16, 16, 8, 5, zlib.compress(b"\0" * 300))))
    return cases


def claiming_huge() -> list[tuple[str, bytes]]:
    """Headers that claim 50,000 x 50,000 pixels (or just over the limit): all must get a 413."""
    just_over = DEFAULT_MAX_PIXELS + 1
    return [
        ("PNG header claiming 50000x50000", crafted_png(50_000, 50_000)),
        ("PNG claiming 50000x50000 RGBA with data", crafted_png(
            50_000, 50_000, 8, 6, zlib.compress(b"\0" * 4096))),
        ("16-bit PNG claiming 50000x50000", crafted_png(50_000, 50_000, 16, 0)),
        ("GIF claiming 50000x50000", gif_claiming(50_000, 50_000)),
        ("BMP claiming 50000x50000", bmp_claiming(50_000, 50_000)),
        ("JPEG claiming 50000x50000", jpeg_claiming(50_000, 50_000)),
        ("TIFF claiming 50000x50000", tiff_claiming(50_000, 50_000)),
        ("PNG header one pixel over the limit", crafted_png(just_over, 1)),
        ("decompression bomb just over the limit", png_bomb(4097, DEFAULT_MAX_PIXELS // 4096)),
        ("1-bit decompression bomb of 20000x20000", png_bomb(20_000, 20_000, 1)),
    ]


def not_images() -> list[tuple[str, bytes]]:
    """Other formats' bytes that arrive dressed as images."""
    return [
        ("SVG", b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
                b'<text x="4" y="24" font-size="24">A</text></svg>'),
        ("SVG with an external entity", b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM '
                b'"file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>'),
        ("PDF", b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
                b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"),
        ("HTML", b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"),
        ("ZIP", b"PK\x05\x06" + b"\0" * 18),
        ("ELF", b"\x7fELF\x02\x01\x01" + b"\0" * 57),
        ("PNG signature only", b"\x89PNG\r\n\x1a\n"),
        ("PNG with text chunk bomb", crafted_png(
            8, 8, extra=png_chunk(b"zTXt", b"k\0\0" + zlib.compress(b"a" * 5_000_000)),
            idat=zlib.compress(b"\0" * 72))),
    ]


def library_verdict(data: bytes) -> frozenset[int]:
    """The status the imaging contract implies for ``data``: 200, 400 or 413 (default limit)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as in the server, where a warning is no error
            preprocess_bytes(data)
    except ImageTooLargeError:
        return TOO_LARGE
    except ImageInputError:
        return BAD
    return OK


#: The random blobs (seed 1234) that deserve 413, fixed by reading their headers by hand: #11 and
#: #39 are GIFs whose random logical screen claims 13315x44468 and 18233x25585 pixels and whose
#: random bytes still reach a frame; every other blob is no image a decoder can open (400).
BLOBS_TOO_LARGE = frozenset({11, 39})
def random_blobs(count: int, seed: int = 1234) -> list[tuple[str, bytes]]:
    """Seeded random byte strings from 1 byte to 20 kB, some behind a real image signature.

    Random bytes behind a BMP or TIFF signature can claim billions of pixels: those get 413.
    """
    rng = random.Random(seed)
    signatures = [b"", b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\0"]
    blobs = []
    for index in range(count):
        size = rng.choice([1, 2, 7, 64, 512, 4096, 20_000])
        head = signatures[index % len(signatures)]
        blobs.append((f"random bytes #{index} ({len(head) + size} B)",
                      head + bytes(rng.getrandbits(8) for _ in range(size))))
    return blobs
