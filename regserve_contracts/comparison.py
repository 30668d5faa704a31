"""``comparison.json``: its keys, its verdict values and their words, and the one parse function.

The analysis writes the document, the server and the page read it; every reader takes a
verdict's words from here (or from the ``verdict_text`` the document carries), never its own.
A verdict is a claim about training recipes, so it needs seeds: below :data:`MIN_SEEDS`
matched seed pairs it is :data:`NEEDS_SEEDS`, whatever two trained models did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Version 2: verdicts about recipes, the seed as unit (version 1 tested pooled images).
SCHEMA_VERSION = 2
SCHEMA = "schema_version"
BASELINE_KEY, VARIANTS, COMPARISONS, OTHER_PAIRS = "baseline", "variants", "comparisons", "pairs"
VERDICT, VERDICT_TEXT, MODELS_TEXT = "verdict", "verdict_text", "models_text"

BETTER, WORSE, EQUIVALENT = "better", "worse", "equivalent"
INCONCLUSIVE, NEEDS_SEEDS, BASELINE = "inconclusive", "needs seeds", "baseline"
#: What a comparison with the baseline can conclude.
VERDICTS = (BETTER, WORSE, EQUIVALENT, INCONCLUSIVE, NEEDS_SEEDS)
#: What a row of ``variants`` may say (``None``: not compared, e.g. no baseline on disk).
ROW_VERDICTS = (*VERDICTS, BASELINE, None)
#: Matched seed pairs a verdict about recipes needs: a t with k - 1 = 2 degrees of freedom.
MIN_SEEDS = 3
#: Default equivalence margin: one point of accuracy (TOST within +-margin).
DEFAULT_MARGIN = 0.01
ALPHA = 0.05

#: Keys every row of ``variants`` has, and every comparison with the baseline.
ROW_KEYS = ("model", "label", "versions", "accuracy", "ci95", "seeds", VERDICT, VERDICT_TEXT)
COMPARISON_KEYS = ("a", "b", "seed_pairs", "diff", "diff_ci95", "p_holm", VERDICT, VERDICT_TEXT)


class ComparisonError(ValueError):
    """A document that is not a comparison this code can read; the message says what is wrong."""


def points(value: float) -> str:
    """A share as signed points: 0.021 -> ``+2.1``."""
    return f"{100 * value:+.1f}"


def seeds_word(count: int) -> str:
    return f"{count} seed{'' if count == 1 else 's'}"


def verdict_text(verdict: str | None, baseline: str, *, seed_pairs: int = 0,
                 margin: float = DEFAULT_MARGIN, mde: float | None = None) -> str:
    """A verdict in the words every reader shows (the md, csv, png, page and CLI)."""
    if verdict == BASELINE:
        return "the baseline"
    if verdict is None:
        return f"not compared with {baseline}"
    if verdict in (BETTER, WORSE):
        return f"{verdict} than {baseline} (over {seeds_word(seed_pairs)})"
    if verdict == EQUIVALENT:
        return f"equivalent to {baseline} within ±{100 * margin:.1f} points " \
               f"(over {seeds_word(seed_pairs)})"
    if verdict == INCONCLUSIVE:
        size = "" if mde is None else f": a difference under {100 * mde:.1f} points could " \
                                      f"not be seen with {seeds_word(seed_pairs)}"
        return f"inconclusive against {baseline}{size}"
    if verdict == NEEDS_SEEDS:
        return (f"needs seeds: {seeds_word(seed_pairs)} matched with {baseline}; a verdict "
                f"about the recipes needs {MIN_SEEDS} (train with --seeds {MIN_SEEDS})")
    raise ValueError(f"unknown verdict {verdict!r}; one of {', '.join(map(str, ROW_VERDICTS))}")


def models_text(a: str, b: str, only_a: int, only_b: int, p_mcnemar: float) -> str:
    """What the exact McNemar test says, worded as being about two trained models only."""
    return (f"about the trained models {a} and {b} only (not their recipes): {only_a} test "
            f"images only {a} got right, {only_b} only {b}; exact McNemar p {p_mcnemar:.2g}")


def parse_comparison(data: Any) -> dict[str, Any]:
    """``data`` (parsed JSON) checked to be a comparison of this schema; returned unchanged.

    Raises :class:`ComparisonError` naming the first problem: every reader calls this once.
    """
    if not isinstance(data, Mapping):
        raise ComparisonError(f"a comparison is a JSON object, not {type(data).__name__}")
    if data.get(SCHEMA) != SCHEMA_VERSION:
        raise ComparisonError(f"{SCHEMA} is {data.get(SCHEMA)!r}, this reader needs "
                              f"{SCHEMA_VERSION}")
    if not isinstance(data.get(BASELINE_KEY), str):
        raise ComparisonError(f"'{BASELINE_KEY}' must be a variant name")
    rows = data.get(VARIANTS)
    if not isinstance(rows, Mapping):
        raise ComparisonError(f"'{VARIANTS}' must be an object of rows by variant")
    for name, row in rows.items():
        _check(row, ROW_KEYS, ROW_VERDICTS, f"{VARIANTS}.{name}")
    for key, allowed in ((COMPARISONS, VERDICTS), (OTHER_PAIRS, VERDICTS)):
        items = data.get(key)
        if not isinstance(items, list):
            raise ComparisonError(f"'{key}' must be a list")
        for index, item in enumerate(items):
            _check(item, COMPARISON_KEYS, allowed, f"{key}[{index}]")
    if not isinstance(data.get("missing", []), list):
        raise ComparisonError("'missing' must be a list")
    return dict(data)


def _check(item: Any, keys: tuple[str, ...], verdicts: tuple, where: str) -> None:
    if not isinstance(item, Mapping):
        raise ComparisonError(f"{where} must be an object")
    absent = [key for key in keys if key not in item]
    if absent:
        raise ComparisonError(f"{where} lacks {', '.join(absent)}")
    if item[VERDICT] not in verdicts:
        raise ComparisonError(f"{where}.{VERDICT} is {item[VERDICT]!r}, not one of "
                              f"{', '.join(map(str, verdicts))}")
