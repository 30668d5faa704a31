"""The EMNIST-balanced label mapping, defined once for the whole project."""

from __future__ import annotations

#: Characters in label order: digits, capitals, then the 11 lower-case letters
#: that do not look like their capitals (EMNIST "balanced").
LABELS: str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt"
NUM_CLASSES: int = len(LABELS)
IMAGE_SIZE: int = 28


def char_to_label(char: str) -> int:
    """Return the class index of a character, folding merged lower-case letters to capitals."""
    if len(char) != 1:
        raise ValueError(f"expected one character, got {char!r}")
    if char in LABELS:
        return LABELS.index(char)
    if char.upper() in LABELS:
        return LABELS.index(char.upper())
    raise ValueError(f"{char!r} is not an EMNIST-balanced class")


def label_mapping() -> dict[str, str]:
    """Return ``{"0": "0", ..., "46": "t"}``, the form stored in every model's metadata."""
    return {str(i): c for i, c in enumerate(LABELS)}
