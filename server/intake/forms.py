"""Read the image of a /predict request, in any accepted form, into EMNIST's 28x28 form."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from flask import Request
from python_multipart.multipart import File, FormParser
from werkzeug.exceptions import RequestEntityTooLarge

from regserve_contracts.decoding import ImageInputError
from regserve_contracts.emnist_form import pixels_to_emnist
from server.errors import ApiError, body_too_large, size_text
from server.intake.files import read_image
from server.jsonio import loads
from server.settings import ServerSettings

#: Content types taken as raw image bytes (besides every ``image/*``).
RAW_TYPES = ("application/octet-stream",)
JSON_TYPES = ("application/json",)
MULTIPART = "multipart/form-data"
ACCEPTED = ("multipart/form-data (field 'image'), image/*, application/octet-stream "
            "or application/json")
#: What JSON numbers become; exact types, because true/false (bool, an int) is no pixel value.
NUMBER_TYPES = frozenset({int, float})
_DATA_URL = re.compile(r"^data:[^,]*?;base64,", re.IGNORECASE)
#: Brackets, braces and commas a JSON body may hold: 28 x 28 pixels need 783 + 29 + 1 = 813;
#: a base64 image 3. A million tiny values in 2 MiB would cost seconds and hundreds of MB parsed
#: (measured with ``python -m benchmarks hostile``: a JSON body's cost grows with its number of
#: values, not its bytes).
MAX_JSON_STRUCTURE = 4096
#: Parts a multipart body may have (Werkzeug's default): one image needs one.
MAX_FORM_PARTS = 1000


@dataclass(frozen=True)
class InputImage:
    """The 28x28 uint8 image the models will see, and how it reached the server."""

    pixels: np.ndarray
    kind: str  # multipart | raw | json_image | json_pixels
    preprocessed: bool  # True when the caller said the pixels already are in EMNIST form


def read_input(request: Request, settings: ServerSettings) -> InputImage:
    """Parse the request body; raise :class:`ApiError` or ``ImageInputError`` saying why not.

    Image bytes, in whichever form they come, go through :mod:`server.intake.files`.
    """
    mimetype = request.mimetype
    if mimetype == MULTIPART:
        return InputImage(read_image(read_upload(request), settings), "multipart", False)
    if mimetype.startswith("image/") or mimetype in RAW_TYPES:
        return InputImage(read_image(read_body(request), settings), "raw", False)
    if mimetype in JSON_TYPES or mimetype.endswith("+json"):
        # JSON is refused by its length and its number of values before it is parsed.
        json_limit = settings.max_json_length
        check_json_length(request.content_length, json_limit)
        body = read_body(request)
        check_json_length(len(body), json_limit)  # a chunked body has no Content-Length
        check_json_structure(body)
        return _read_json(body, settings)
    if not mimetype and not request.content_length and not read_body(request):
        raise ApiError(400, f"no image was sent: send {ACCEPTED}", "missing_image")
    raise ApiError(415, f"content type {mimetype or '(none)'!r} is not accepted: send {ACCEPTED}")


def read_upload(request: Request, field: str = "image") -> bytes:
    """The file ``field`` of a multipart/form-data body (the first, if sent twice).

    Parsed by python-multipart (Starlette's parser): 39 us for a 15 KB canvas upload and 47 for
    a 29 KB photo, where Werkzeug's form parser took 211 and 299 (its boundary search is a
    regular expression that starts with an alternation, tried at every byte). The body is read
    whole first, so it is held to MAX_CONTENT_LENGTH (413) as every other body is.
    """
    body = read_body(request)
    boundary = request.mimetype_params.get("boundary")
    if not boundary:
        raise ApiError(400, "the multipart/form-data body has no boundary: its Content-Type "
                       "must name one (multipart/form-data; boundary=...)", "invalid_multipart")
    found: list[bytes] = []  # the first file part named ``field``
    fields: list[str] = []

    def on_part(part: Any) -> None:
        if len(fields) >= MAX_FORM_PARTS:
            raise ApiError(413, f"the multipart body has more than {MAX_FORM_PARTS} parts",
                           "payload_too_large")
        name = part.field_name.decode("utf-8", "replace") if part.field_name else ""
        fields.append(name)
        if isinstance(part, File) and name == field and not found:
            part.file_object.seek(0)
            found.append(part.file_object.read())

    # Files stay in memory: the body already is, and within MAX_CONTENT_LENGTH.
    parser = FormParser(MULTIPART, on_part, on_part, boundary=boundary,
                        config={"MAX_MEMORY_FILE_SIZE": len(body) + 1})
    try:
        parser.write(body)
        parser.finalize()
    except ValueError as error:  # python-multipart's errors all are
        raise ApiError(400, f"the multipart body could not be read: {error}",
                       "invalid_multipart") from None
    if not found:
        sent = sorted(set(fields))
        raise ApiError(400, f"the multipart body has no file field {field!r}"
                       + (f" (fields sent: {', '.join(sent)})" if sent else ""),
                       "missing_image")
    return found[0]


def check_json_length(length: int | None, limit: int) -> None:
    """413 for a JSON body over ``limit`` bytes: from Content-Length, before it is read."""
    if length is not None and length > limit:
        raise ApiError(413, f"the JSON body is {size_text(length)}; JSON bodies may have at "
                       f"most {size_text(limit)} ({limit:,} bytes; a 28x28 pixel array needs "
                       "under 20 KB; send larger images as multipart or raw bytes)",
                       "payload_too_large")


def check_json_structure(body: bytes, limit: int = MAX_JSON_STRUCTURE) -> None:
    """413 for a JSON body with more values than a 28x28 array, counted in C before parsing."""
    count = body.count(b"[") + body.count(b"{") + body.count(b",")
    if count > limit:
        raise ApiError(413, f"the JSON body has {count} brackets, braces and commas; at most "
                       f"{limit} are accepted (a 28x28 pixel array has 813)", "payload_too_large")


def read_body(request: Request) -> bytes:
    """The whole body, or 413 when it is over MAX_CONTENT_LENGTH, chunked bodies included.

    Werkzeug stops reading a body without Content-Length at the limit without a word; a body
    that reached the limit is taken as over it, rather than answered as a cut-off image.
    """
    data = request.get_data(cache=False)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(data) >= limit:
        raise RequestEntityTooLarge(body_too_large(None, limit))
    return data


def _read_json(body: bytes, settings: ServerSettings) -> InputImage:
    if not body:
        raise ApiError(400, "the JSON body is empty", "missing_image")
    try:
        payload = loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise ApiError(400, f"the body is not valid JSON: {error}", "invalid_json") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "the JSON body must be an object with 'image' or 'pixels'",
                       "invalid_json")
    has_image, has_pixels = "image" in payload, "pixels" in payload
    if has_image and has_pixels:
        raise ApiError(400, "send either 'image' or 'pixels', not both", "invalid_json")
    if not has_image and not has_pixels:
        raise ApiError(400, "the JSON object needs 'image' (base64) or 'pixels' (28x28 array)",
                       "missing_image")
    if has_image:
        return InputImage(read_image(decode_base64(payload["image"]), settings),
                          "json_image", False)
    preprocessed = payload.get("preprocessed", False)
    if not isinstance(preprocessed, bool):
        raise ApiError(400, "'preprocessed' must be true or false", "invalid_pixels")
    pixels = payload["pixels"]
    if not isinstance(pixels, list) or not all(type(row) is list for row in pixels) or not (
        {type(value) for row in pixels for value in row} <= NUMBER_TYPES
    ):
        raise ApiError(400, "'pixels' must be a 28x28 array (a list of 28 rows) of numbers 0-255",
                       "invalid_pixels")
    try:
        emnist = pixels_to_emnist(pixels, already_emnist=preprocessed)
    except ImageInputError as error:
        raise ApiError(400, str(error), "invalid_pixels") from None
    return InputImage(emnist, "json_pixels", preprocessed)


def decode_base64(text: object) -> bytes:
    """Decode a base64 string, with or without a ``data:image/...;base64,`` prefix."""
    if not isinstance(text, str):
        raise ApiError(400, "'image' must be a base64 string", "invalid_base64")
    text = _DATA_URL.sub("", text.strip(), count=1)
    if text.startswith("data:"):
        raise ApiError(400, "a data: URL must be base64-encoded (';base64,')", "invalid_base64")
    text = "".join(text.split())
    try:
        if "-" in text or "_" in text:  # the URL-safe alphabet
            text = text.replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ApiError(400, f"'image' is not valid base64: {error}", "invalid_base64") from None

