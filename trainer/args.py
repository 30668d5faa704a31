"""Argument helpers shared by the trainer's commands (``python -m trainer`` and its ``sweep``)."""

from __future__ import annotations

import argparse


class Parser(argparse.ArgumentParser):
    """argparse that reports misuse in one line (no usage dump) and exits with status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def fraction(text: str) -> float:
    """A share in [0, 1), such as a validation split."""
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


positive_int.__name__ = "positive integer"  # argparse names the type in its message

fraction.__name__ = "fraction"
