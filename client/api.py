"""Talk to a RegServe server: read and check an image locally, upload it, return the answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from regserve_contracts.decoding import MAX_IMAGE_PIXELS, ImageInputError, decode_image

#: Seconds to wait for a TCP connection; a server that is up accepts at once.
CONNECT_TIMEOUT = 5.0


class ClientError(Exception):
    """A failure the CLI reports as one line on stderr; ``exit_code`` says which kind."""

    exit_code = 1


class InputFileError(ClientError):
    """An input file is missing, unreadable or not an image."""

    exit_code = 3


class ServerUnreachableError(ClientError):
    """No connection to the server, or no answer within the timeout."""

    exit_code = 4


class ServerAnswerError(ClientError):
    """The server answered with an error status, or with something that is not its JSON."""

    exit_code = 5


@dataclass(frozen=True)
class ImageFile:
    """An input image read from disk and checked to decode as an image."""

    path: Path
    data: bytes
    mime_type: str


def read_image(path: Path) -> ImageFile:
    """Read ``path`` and check it decodes as an image, raising :class:`InputFileError` if not.

    Checking here, before any upload, turns "not an image" into a local message that names the
    file, instead of a server round trip.
    """
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, not an image file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        image = decode_image(data, max_pixels=MAX_IMAGE_PIXELS)  # the server's default limit
    except ImageInputError as error:
        raise InputFileError(f"{path}: {error}") from None
    mime_type = Image.MIME.get(image.format or "", "application/octet-stream")
    return ImageFile(path=path, data=data, mime_type=mime_type)


def predict(
    server: str,
    image: ImageFile,
    variants: tuple[str, ...] = (),
    top: int = 3,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """POST one image to ``{server}/predict`` and return the decoded JSON answer.

    Raises :class:`ServerUnreachableError` when the server cannot be reached or is too slow,
    and :class:`ServerAnswerError` (with the server's own error text) on a 4xx/5xx answer.
    """
    url = base_url(server) + "/predict"
    params: list[tuple[str, str | int]] = [("top", top)]
    params += [("variant", name) for name in variants]
    files = {"image": (image.path.name, image.data, image.mime_type)}
    try:
        response = requests.post(
            url, params=params, files=files, timeout=(min(CONNECT_TIMEOUT, timeout), timeout)
        )
    except requests.Timeout:
        raise ServerUnreachableError(
            f"the server at {server} did not answer within {timeout:g} s"
        ) from None
    except requests.ConnectionError:
        raise ServerUnreachableError(
            f"cannot connect to the server at {server} (is it running? set --server or "
            "REGSERVE_SERVER)"
        ) from None
    except requests.RequestException as error:
        raise ServerUnreachableError(f"request to {url} failed: {error}") from None
    return _decode_answer(response, server)


def base_url(server: str) -> str:
    """The server's address as a URL: ``127.0.0.1:8000``, without a scheme, means http."""
    server = server.strip().rstrip("/")
    return server if "://" in server else f"http://{server}"


def _decode_answer(response: requests.Response, server: str) -> dict[str, Any]:
    """The JSON body of a successful answer, or a :class:`ServerAnswerError` that quotes it."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        raise ServerAnswerError(
            f"the server answered {response.status_code} {response.reason}: {_error_text(body)}"
        )
    if not isinstance(body, dict) or not isinstance(body.get("variants"), dict):
        raise ServerAnswerError(
            f"the answer from {server} is not a RegServe prediction (is that the right server?)"
        )
    return body


def _error_text(body: Any) -> str:
    """The server's own words for the failure, as one line.

    The API answers ``{"error": code, "detail": sentence}``: the sentence says what was wrong,
    the short code names the kind; a structured detail is shown compactly after the code.
    """
    if not isinstance(body, dict) or not ({"error", "detail"} & body.keys()):
        return "no error message in the answer"
    error, detail = body.get("error"), body.get("detail")
    if isinstance(detail, str) and detail.strip():
        text = detail if not error else f"{detail} ({error})"
    elif detail not in (None, "", [], {}):
        text = f"{error}: {_short(detail)}"
    else:
        text = str(error)
    return " ".join(text.split())


def _short(value: Any, limit: int = 300) -> str:
    """A compact one-line rendering of a JSON value, cut at ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
