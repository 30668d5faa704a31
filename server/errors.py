"""Every error as JSON ``{"error", "detail"}`` with the right status; never an HTML page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from regserve_contracts.decoding import ImageInputError, ImageTooLargeError

log = logging.getLogger(__name__)

#: Short, stable error codes for the HTTP statuses the API answers with.
CODES: dict[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    500: "internal_error",
    503: "not_ready",
}


#: Seconds a 503 asks the client to wait (the ``Retry-After`` header) unless it names its own.
RETRY_AFTER_SECONDS = 5
#: The longest path and query string the app answers; gunicorn refuses a request line over its
#: maximum, 8,190 bytes, before the app sees it (only its own short 400 page can answer then).
MAX_URI_BYTES = 4096


class ApiError(Exception):
    """An error the API answers with: an HTTP status, a code, a sentence, optional extra fields."""

    def __init__(self, status: int, detail: str, error: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error or CODES.get(status, "error")
        self.detail = detail
        self.extra = extra


def image_api_error(error: ImageInputError) -> ApiError:
    """The one mapping of an unusable image to its answer: too large 413, anything else 400."""
    if isinstance(error, ImageTooLargeError):
        return ApiError(413, str(error), "image_too_large")
    return ApiError(400, str(error), "invalid_image")


def error_response(status: int, error: str, detail: Any, **extra: Any):
    """A Flask response with the JSON error body."""
    response = jsonify({"error": error, "detail": detail, **extra})
    response.status_code = status
    return response


def size_text(size: int) -> str:
    """A byte count as people read it: "10 MiB", "11.5 MiB", "512 KiB", "900 bytes"."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def body_too_large(size: int | None, limit: int | None) -> str:
    """The 413 sentence for a request body over the limit, in MiB."""
    sent = f"the request body is {size_text(size)}" if size else "the request body is too large"
    if not limit:
        return sent
    return f"{sent}; the server accepts at most {size_text(limit)} ({limit:,} bytes)"


def register_error_handlers(app: Flask) -> None:
    """Turn API errors, image errors, HTTP errors and anything unexpected into JSON; refuse an
    over-long URI with a JSON 414; give every 503 a ``Retry-After`` header."""

    @app.before_request
    def uri_length():
        uri = request.environ.get("RAW_URI") or request.full_path
        if len(uri) > MAX_URI_BYTES:
            raise ApiError(414, f"the URL is {len(uri):,} bytes long; the server reads at most "
                           f"{MAX_URI_BYTES:,} (send long input in the body)", "uri_too_long",
                           max_uri_bytes=MAX_URI_BYTES)

    @app.after_request
    def retry_after(response):
        if response.status_code == 503 and "Retry-After" not in response.headers:
            body = response.get_json(silent=True) if response.is_json else None
            seconds = body.get("retry_after") if isinstance(body, dict) else None
            response.headers["Retry-After"] = str(int(seconds or RETRY_AFTER_SECONDS))
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.error, error.detail, **error.extra)

    @app.errorhandler(ImageInputError)
    def image_error(error: ImageInputError):
        return api_error(image_api_error(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        allow = error.get_response().headers.get("Allow")
        detail = error.description
        if status == 405 and allow:
            detail = f"{request.method} is not allowed on {request.path}; allowed: {allow}"
        if status == 413:  # Flask's own text states no limit
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            detail = body_too_large(request.content_length, limit)
        response = error_response(status, CODES.get(status, "http_error"), detail)
        if allow:  # keep the header a 405 must carry
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error while answering a request")
        return error_response(500, "internal_error", "the server failed unexpectedly; see its log")
