"""How long runs show time in their progress lines: elapsed and ETA as H:MM:SS."""

from __future__ import annotations


def clock(seconds: float) -> str:
    """``seconds`` rounded to the second, as ``H:MM:SS`` (hours not wrapped at a day)."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"
