"""Bad and odd inputs for the hostile tests and `python -m benchmarks hostile`: the corpus.

Every :class:`Hostile` is one complete HTTP request (method, raw path with query, headers,
body bytes) plus the statuses it may get. Everything is seeded, so a failure names a case
that can be replayed exactly.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import random
import select
import socket
import struct
import warnings
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from benchmarks.drawing import draw, encode  # noqa: F401 (encode: the corpus's image bytes)
from regserve_contracts.imaging import (
    DEFAULT_MAX_PIXELS,
    ImageInputError,
    ImageTooLargeError,
    preprocess_bytes,
)

OK = frozenset({200})
BAD = frozenset({400})
TOO_LARGE = frozenset({413})
NOT_FOUND = frozenset({404})
NOT_ALLOWED = frozenset({405})
UNSUPPORTED = frozenset({415})
BOUNDARY = "regserve-hostile-boundary"


@dataclass(frozen=True)
class Hostile:
    """One request to send and the statuses that are correct answers to it."""

    name: str
    body: bytes = b""
    content_type: str | None = None
    expect: frozenset[int] = BAD
    method: str = "POST"
    target: str = "/predict"

    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type} if self.content_type else {}


@dataclass(frozen=True)
class Answer:
    """What the server sent back."""

    status: int
    content_type: str
    body: bytes

    def json(self):
        return json.loads(self.body)


def send(base_url: str, case: Hostile, timeout: float = 60.0) -> Answer:
    """Send ``case`` byte for byte over a fresh connection and read the answer.

    The body goes out in chunks and sending stops as soon as the server answers: a server
    that refuses a 10 MB body from its headers (413) must not make the client see a reset.
    """
    url = urlsplit(base_url)
    head = [f"{case.method} {case.target} HTTP/1.1", f"Host: {url.netloc}",
            f"Content-Length: {len(case.body)}", "Connection: close"]
    head += [f"{key}: {value}" for key, value in case.headers().items()]
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        view = memoryview(case.body)
        try:
            for start in range(0, len(view), 1 << 16):
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered already
                sock.sendall(view[start : start + (1 << 16)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # it closed on us mid-body; its answer, if any, is still to be read
        response = http.client.HTTPResponse(sock, method=case.method)
        response.begin()
        return Answer(response.status, response.getheader("Content-Type", ""), response.read())


# --- images -----------------------------------------------------------------------------------


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
#: JSON bodies refused for their size before parsing: over 4096 brackets, braces and commas
#: (100,000-deep nesting, a 300x300 array) or over the 2 MiB JSON limit (784 x 5000 digits).
JSON_TOO_LARGE = frozenset({"100k nested lists", "100k nested objects", "100k nested pixels",
                            "unclosed nesting", "pixels 300x300 zeros",
                            "pixels of 5000-digit integer"})


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


# --- requests ---------------------------------------------------------------------------------


def multipart(payload: bytes, field: str = "image", filename: str = "drawing.png",
              part_type: str = "image/png") -> tuple[bytes, str]:
    """A multipart/form-data body with one file field."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {part_type}\r\n\r\n").encode()
    return head + payload + f"\r\n--{BOUNDARY}--\r\n".encode(), \
        f"multipart/form-data; boundary={BOUNDARY}"


def as_json(value) -> bytes:
    return json.dumps(value).encode()


def image_requests(name: str, data: bytes, expect: frozenset[int],
                   content_type: str = "image/png") -> list[Hostile]:
    """The same image three ways: raw body, multipart upload and base64 in JSON."""
    body, form_type = multipart(data)
    return [
        Hostile(f"{name} [raw]", data, content_type, expect),
        Hostile(f"{name} [multipart]", body, form_type, expect),
        Hostile(f"{name} [json]", as_json({"image": base64.b64encode(data).decode()}),
                "application/json", expect),
    ]


def pixel_cases() -> list[tuple[str, bytes]]:
    """JSON pixel arrays of the wrong shape, type or range (each must get a 400)."""
    good = np.zeros((28, 28), int)
    good[6:22, 12:16] = 255
    row = good.tolist()

    def grid(value):
        return "[" + ",".join("[" + ",".join([value] * 28) + "]" for _ in range(28)) + "]"

    texts = {
        "NaN token": grid("NaN"), "Infinity": grid("Infinity"), "-Infinity": grid("-Infinity"),
        "1e999": grid("1e999"), "negative": grid("-1"), "ten to the ninth": grid("1000000000"),
        "256": grid("256"), "strings": grid('"255"'), "nulls": grid("null"),
        "objects": grid("{}"), "lists": grid("[1]"), "10^400": grid("1" + "0" * 400),
        "5000-digit integer": grid("9" * 5000),
    }
    cases = [(f"pixels of {name}", f'{{"pixels": {text}}}'.encode())
             for name, text in texts.items()]
    shapes = {
        "27x28": row[:27], "28x27": [r[:27] for r in row], "flat 784": sum(row, []),
        "28x28x1": [[[v] for v in r] for r in row], "empty list": [], "[[]]": [[]],
        "ragged": row[:27] + [row[27][:5]], "a scalar": 7, "a string": "A", "a dict": {"0": row},
        "1x1": [[255]], "300x300 zeros": [[0] * 300] * 300,
    }
    cases += [(f"pixels {name}", as_json({"pixels": value})) for name, value in shapes.items()]
    cases += [
        ("all-zero pixels", as_json({"pixels": [[0] * 28] * 28})),
        ("all-255 pixels", as_json({"pixels": [[255] * 28] * 28})),
        ("pixels and image both garbage", as_json({"pixels": "x", "image": "%%%"})),
    ]
    return cases


def json_cases() -> list[tuple[str, bytes]]:
    """Malformed, hostile or meaningless JSON bodies (each must get a 400)."""
    depth = 100_000
    garbage = ["!!!not base64!!!", "QUJD", "=" * 64, "data:image/png;base64,%%%",
               base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 50).decode(), "\u00e9\u4e2d" * 10]
    cases = [
        ("empty JSON body", b""), ("truncated JSON", b'{"image": "iVBOR'),
        ("single quotes", b"{'a': 1}"),
        ("trailing comma", b'{"image": "QUJD",}'), ("bare NaN", b"NaN"), ("null", b"null"),
        ("a number", b"42"), ("a string", b'"iVBORw0KGgo="'), ("a list", b"[1, 2, 3]"),
        ("an empty object", b"{}"), ("invalid UTF-8", b'{"image": "\xff\xfe\xfa"}'),
        ("UTF-16 with BOM", '{"image": "QUJD"}'.encode("utf-16")),
        ("lone surrogate", b'{"image": "\\ud800"}'), ("NUL bytes", b'{"image": "\x00\x00"}'),
        ("100k nested lists", b"[" * depth + b"]" * depth),
        ("100k nested objects", b'{"a":' * depth + b"1" + b"}" * depth),
        ("100k nested pixels", b'{"pixels": ' + b"[" * depth + b"]" * depth + b"}"),
        ("unclosed nesting", b"[" * depth),
    ]
    cases += [(f"image {index}: base64 garbage", as_json({"image": text}))
              for index, text in enumerate(garbage)]
    cases += [(f"image as {kind}", as_json({"image": value})) for kind, value in
              [("null", None), ("number", 123), ("list", ["QUJD"]), ("object", {"b64": "QUJD"}),
               ("bool", True), ("empty string", "")]]
    return cases


def variant_names(valid: str, evil_paths: list[str]) -> list[str]:
    """Query strings asking for variants that are not loaded, many shaped as paths."""
    names = ["../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2F..%2Fetc%2Fpasswd",
             "/etc/passwd", "%2Fetc%2Fpasswd", f"{valid}/../{valid}", f"{valid}%2F..%2F{valid}",
             f"{valid}%00", "%00", f"{valid}/", f"./{valid}", f"{valid.upper()}", f"%09{valid}%01",
             "reports", ".staging-x", "1", "..", ".", "*", "%2A", f"{valid};ls", "$(id)",
             "%E2%80%AE" + valid, "x" * 3000, "%C0%AE%C0%AE%2F", "\u00e9".encode().hex()]
    names += [path.replace("/", "%2F") for path in evil_paths] + evil_paths
    return [f"variant={name}" for name in names] + [f"variant={valid}&variant=../../etc/passwd",
                                                   f"variant={valid},../{valid}"]


def hostile_corpus(max_content_length: int, valid: str, evil_paths: list[str]) -> list[Hostile]:
    """Every hostile request: well over 300 of them; ``valid`` is one loaded variant's name."""
    cases: list[Hostile] = []
    for index, (name, data) in enumerate(random_blobs(40)):
        cases += image_requests(name, data, TOO_LARGE if index in BLOBS_TOO_LARGE else BAD)
    for name, data in truncated_images() + corrupt_images() + not_images():
        cases += image_requests(name, data, BAD)
    for name, data in claiming_huge():
        cases += image_requests(name, data, TOO_LARGE)
    for name, data, expect in odd_images():
        cases += image_requests(name, data, expect)
    for name, body in pixel_cases() + json_cases():
        cases.append(Hostile(name, body, "application/json",
                             TOO_LARGE if name in JSON_TOO_LARGE else BAD))
    for fake in ("image/svg+xml", "application/pdf"):
        cases.append(Hostile(f"{fake} sent as {fake}", not_images()[0 if "svg" in fake else 2][1],
                             fake, frozenset({400, 415})))
    png = encode(glyph(), "PNG")
    form_png, form_type = multipart(png, field="file")
    empty_form, _ = multipart(b"")
    cases += [
        Hostile("empty body as image/png", b"", "image/png"),
        Hostile("empty body, no content type", b"", None, frozenset({400, 415})),
        Hostile("multipart with an empty image", empty_form, form_type),
        Hostile("multipart without an image field", form_png, form_type),
        Hostile("multipart without a boundary", form_png, "multipart/form-data"),
        Hostile("multipart with a wrong boundary", form_png, "multipart/form-data; boundary=zz"),
        Hostile("PNG sent as text/plain", png, "text/plain", UNSUPPORTED),
        Hostile("PNG sent as application/xml", png, "application/xml", UNSUPPORTED),
        Hostile("PNG sent as octet-stream (accepted as raw bytes)", png,
                "application/octet-stream", OK),
        Hostile("PNG sent as a form", b"image=" + base64.b64encode(png),
                "application/x-www-form-urlencoded", frozenset({400, 415})),
        Hostile("body over the size limit", b"\x89PNG\r\n\x1a\n" + b"\0" * max_content_length,
                "image/png", TOO_LARGE),
        Hostile("JSON over the size limit", b'{"image": "' + b"A" * max_content_length + b'"}',
                "application/json", TOO_LARGE),
    ]
    for query in variant_names(valid, evil_paths):
        cases.append(Hostile(f"query {query[:60]}", png, "image/png", NOT_FOUND,
                             target=f"/predict?{query}"))
    for query in ("top=-1", "top=abc", "top=1000000000", "top=1e999", "top=0", "top=1.5"):
        cases.append(Hostile(f"query {query}", png, "image/png", BAD, target=f"/predict?{query}"))
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        cases.append(Hostile(f"{method} /predict", png, "image/png", NOT_ALLOWED, method=method))
    for target in ("/healthz", "/readyz", "/variants", "/metrics"):
        cases.append(Hostile(f"POST {target}", png, "image/png", NOT_ALLOWED, target=target))
    for target in ("/predict/../etc/passwd", "/static/../../etc/passwd", "/console",
                   "/nonexistent", "/predict%00", "/%2e%2e/%2e%2e/etc/passwd"):
        cases.append(Hostile(f"POST {target}", png, "image/png",
                             frozenset({404, 405}), target=target))
    return cases
