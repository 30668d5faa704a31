"""Progress lines of the trainer's commands: where they go, and time as H:MM:SS."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TextIO


def clock(seconds: float) -> str:
    """``seconds`` rounded to the second, as ``H:MM:SS`` (hours not wrapped at a day)."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


def progress_log(quiet: bool, err: TextIO) -> Callable[[str], None]:
    """A logger of progress lines to ``err``; with ``quiet`` it writes nothing and TensorFlow's
    start-up notes are silenced too (TensorFlow is imported here, once)."""
    if quiet:
        import_tensorflow_silently()

    def log(line: str) -> None:
        if not quiet:
            err.write(line + "\n")
            err.flush()

    return log


def import_tensorflow_silently() -> None:
    """Import TensorFlow with file descriptor 2 muted: its C++ start-up notes (CUDA probing)
    ignore TF_CPP_MIN_LOG_LEVEL, and --quiet promises scripts a clean stderr."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401  (an import error still raises, with its message)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
