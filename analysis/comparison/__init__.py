"""Is the difference real? Paired comparisons of the exported models on their shared test set."""

from analysis.comparison.document import build_comparison
from analysis.comparison.report import write_comparison

__all__ = ["build_comparison", "write_comparison"]
