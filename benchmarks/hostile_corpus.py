"""Bad and odd inputs for the hostile tests and `python -m benchmarks hostile`: the corpus.

Every :class:`Hostile` is one complete HTTP request (method, raw path with query, headers,
body bytes) plus the statuses it may get. Everything is seeded, so a failure names a case
that can be replayed exactly.
"""

from __future__ import annotations

import base64
import http.client
import json
import select
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from benchmarks.drawing import encode
from benchmarks.hostile_images import (
    BAD,
    BLOBS_TOO_LARGE,
    OK,
    TOO_LARGE,
    claiming_huge,
    corrupt_images,
    glyph,
    not_images,
    odd_images,
    random_blobs,
    truncated_images,
)
from benchmarks.hostile_v2 import batch_cases, image_cases

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
    extra_headers: tuple[tuple[str, str], ...] = ()

    def headers(self) -> dict[str, str]:
        content_type = {"Content-Type": self.content_type} if self.content_type else {}
        return {**content_type, **dict(self.extra_headers)}

    @property
    def v2(self) -> bool:
        """Whether the request goes to the V2 protocol, whose errors are ``{"error"}`` only."""
        return self.target.startswith("/v2/")


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


#: JSON bodies refused for their size before parsing: over 4096 brackets, braces and commas
#: (100,000-deep nesting, a 300x300 array) or over the 2 MiB JSON limit (784 x 5000 digits).
JSON_TOO_LARGE = frozenset({"100k nested lists", "100k nested objects", "100k nested pixels",
                            "unclosed nesting", "pixels 300x300 zeros",
                            "pixels of 5000-digit integer"})




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
    return cases + v2_corpus(valid)


def v2_corpus(valid: str) -> list[Hostile]:
    """The V2 infer route's hostile requests; ``valid`` is one loaded variant's name."""
    infer = f"/v2/models/{valid}/infer"
    cases = [Hostile(f"V2 {name}", body, "application/json", expect, target=infer,
                     extra_headers=tuple(headers.items()))
             for name, body, headers, expect in image_cases() + batch_cases()]
    body = b'{"inputs": []}'
    for target in ("/v2/models/nope/infer", "/v2/models/%2e%2e/infer",
                   f"/v2/models/{valid}/versions/999/infer",
                   f"/v2/models/{valid}/versions/x/infer"):
        cases.append(Hostile(f"V2 POST {target}", body, "application/json", NOT_FOUND,
                             target=target))
    cases.append(Hostile("V2 GET infer", b"", None, NOT_ALLOWED, method="GET", target=infer))
    return cases
