"""Progress lines of the trainer's commands: where they go, and time as H:MM:SS."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from regserve_contracts.tensorflow_log import import_tensorflow


def clock(seconds: float) -> str:
    """``seconds`` rounded to the second, as ``H:MM:SS`` (hours not wrapped at a day)."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


def progress_log(quiet: bool, err: TextIO) -> Callable[[str], None]:
    """A logger of progress lines to ``err``, writing nothing when ``quiet``. TensorFlow is
    imported here, once, without its start-up noise (without any line when ``quiet``)."""
    import_tensorflow(silent=quiet)

    def log(line: str) -> None:
        if not quiet:
            err.write(line + "\n")
            err.flush()

    return log
