"""Helpers shared by the client and page tests: the server's own words for an error."""

from __future__ import annotations

import requests


def server_message(response: requests.Response) -> str:
    """The words a client must show for an error answer.

    The API answers ``{"error": code, "detail": ...}``: the detail when it is text, else the code.
    """
    body = response.json()
    detail = body.get("detail")
    return detail if isinstance(detail, str) and detail.strip() else str(body["error"])
