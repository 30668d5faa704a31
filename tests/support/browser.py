"""Drive Debian's Chromium through Playwright for the page tests: launch it, draw on the pad."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

#: Debian's package; Playwright's own browser download is never used (no network in tests).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Strokes of characters as fractions of the drawing pad, each a polyline.
SEVEN = [[(0.22, 0.2), (0.78, 0.2), (0.42, 0.84)]]
ELL = [[(0.32, 0.16), (0.32, 0.82), (0.72, 0.82)]]


@contextmanager
def chromium_browser() -> Iterator:
    """A headless Chromium, or a pytest skip that says what is missing."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Error as error:
            pytest.skip(f"Chromium at {CHROMIUM} would not start: {error}")
        try:
            yield browser
        finally:
            browser.close()


def _points(page, strokes, steps: int) -> Iterator[tuple[str, float, float]]:
    """("down" | "move" | "up", x, y) in page pixels along the strokes, several per segment."""
    box = page.locator("#pad").bounding_box()

    def at(point: tuple[float, float]) -> tuple[float, float]:
        return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]

    for stroke in strokes:
        yield ("down", *at(stroke[0]))
        for start, end in zip(stroke, stroke[1:], strict=False):
            for step in range(1, steps + 1):
                share = step / steps
                yield ("move", *at((start[0] + (end[0] - start[0]) * share,
                                    start[1] + (end[1] - start[1]) * share)))
        yield ("up", *at(stroke[-1]))


def draw(page, strokes: Sequence[Sequence[tuple[float, float]]], steps: int = 12) -> None:
    """Draw polylines on ``#pad`` with mouse events, several moves per segment as a hand would."""
    for kind, x, y in _points(page, strokes, steps):
        if kind == "down":
            page.mouse.move(x, y)
            page.mouse.down()
        elif kind == "move":
            page.mouse.move(x, y)
        else:
            page.mouse.up()


def draw_with_finger(page, strokes: Sequence[Sequence[tuple[float, float]]],
                     steps: int = 12) -> None:
    """Draw polylines with touch events (a finger), through the DevTools protocol.

    Playwright's touchscreen only taps; Chromium turns these raw touches into pointer events
    of type "touch", as on a phone. The page's context needs ``has_touch=True``.
    """
    session = page.context.new_cdp_session(page)
    kinds = {"down": "touchStart", "move": "touchMove", "up": "touchEnd"}
    try:
        for kind, x, y in _points(page, strokes, steps):
            points = [] if kind == "up" else [{"x": x, "y": y}]
            session.send("Input.dispatchTouchEvent", {"type": kinds[kind], "touchPoints": points})
    finally:
        session.detach()
