"""A second, deliberately plain ECE/MCE (loops over bins and images) to check the trainer's."""

from __future__ import annotations

import numpy as np


def ece_by_loops(probabilities, labels, bins: int = 15) -> tuple[float, float]:
    """ECE and MCE the long way: bins (m/M, (m+1)/M], each image tested by hand."""
    total, ece, mce = len(labels), 0.0, 0.0
    for m in range(bins):
        low, high = m / bins, (m + 1) / bins
        members = [i for i in range(total) if low < max(probabilities[i]) <= high]
        if not members:
            continue
        confidence = sum(max(probabilities[i]) for i in members) / len(members)
        hits = sum(int(np.argmax(probabilities[i]) == labels[i]) for i in members) / len(members)
        ece += len(members) / total * abs(hits - confidence)
        mce = max(mce, abs(hits - confidence))
    return ece, mce
