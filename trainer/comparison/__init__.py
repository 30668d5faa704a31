"""Is the difference real? Paired comparisons of the exported models on their shared test set."""

from trainer.comparison.document import build_comparison
from trainer.comparison.report import write_comparison

__all__ = ["build_comparison", "write_comparison"]
