"""The corruption report: accuracy under each corruption and the corruption error relative to the
baseline (Hendrycks & Dietterich, 2019: CE = error under c / the baseline's error under c;
mCE = their mean), as ``reports/robustness.md`` and ``robustness.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path

from analysis.results import ResultRow
from regserve_contracts import layout

ROBUSTNESS_MD = "robustness.md"
ROBUSTNESS_JSON = "robustness.json"
#: The variant every corruption error is relative to.
BASELINE = "none"


def baseline_row(rows: list[ResultRow], baseline: str = BASELINE) -> ResultRow | None:
    """The baseline's row (by name, else the first unpenalized one) if it has corruptions."""
    named = [row for row in rows if row.variant == baseline]
    found = named or [row for row in rows if row.penalty == "none"]
    return found[0] if found and found[0].corruptions else None


def corruption_errors(row: ResultRow, base: ResultRow) -> dict[str, float]:
    """CE per corruption both rows have; NaN where the baseline makes no error (0 / 0)."""
    errors = {}
    for name, accuracy in row.corruptions.items():
        if name in base.corruptions:
            base_error = 1.0 - base.corruptions[name]
            errors[name] = (1.0 - accuracy) / base_error if base_error > 0 else math.nan
    return errors


def mean_corruption_error(errors: dict[str, float]) -> float:
    """The mean of the finite corruption errors (NaN if there is none)."""
    finite = [value for value in errors.values() if math.isfinite(value)]
    return sum(finite) / len(finite) if finite else math.nan


def mce_by_variant(rows: list[ResultRow], baseline: str = BASELINE) -> dict[str, float]:
    """Each variant's mCE relative to the baseline (NaN without a baseline or corruptions)."""
    base = baseline_row(rows, baseline)
    return {row.variant: (mean_corruption_error(corruption_errors(row, base))
                          if base and row.corruptions else math.nan) for row in rows}


def robustness_data(rows: list[ResultRow], baseline: str = BASELINE) -> dict:
    """The report as JSON-ready data (NaN becomes None)."""
    base = baseline_row(rows, baseline)
    names = list(dict.fromkeys(name for row in rows for name in row.corruptions))

    def clean(value: float) -> float | None:
        return value if math.isfinite(value) else None

    variants = []
    for row in rows:
        errors = corruption_errors(row, base) if base else {}
        variants.append({
            "variant": row.variant, "test_accuracy": clean(row.test_accuracy),
            "accuracy": row.corruptions,
            "mean_accuracy": (clean(sum(row.corruptions.values()) / len(row.corruptions))
                              if row.corruptions else None),
            "ce": {name: clean(value) for name, value in errors.items()},
            "mce": clean(mean_corruption_error(errors)) if errors else None,
            "images": row.corruption_images,
        })
    return {"baseline": base.variant if base else None, "corruptions": names,
            "definition": "CE = error under c / baseline's error under c; mCE = mean CE",
            "variants": variants}


def _cell(value: float | None, scale: float = 100.0, digits: int = 1) -> str:
    return "–" if value is None else f"{scale * value:.{digits}f}"


def robustness_markdown(data: dict, sources: list[str]) -> str:
    """Two tables: accuracy (%) under each corruption, then CE (%) and mCE."""
    names = data["corruptions"]
    images = max((v["images"] for v in data["variants"]), default=0)
    margin = 1.96 * math.sqrt(0.25 / images) if images else math.nan
    lines = ["# Robustness to corruptions", "",
             f"Data source: {', '.join(f'**{s}**' for s in sources)}. Each corruption is "
             f"MNIST-C's, at MNIST-C's severity, applied to {images:,} test images; on that "
             f"many images an accuracy is known to about ±{100 * margin:.1f} points (95%).", "",
             "## Accuracy under each corruption (%)", "",
             "| variant | clean | mean | " + " | ".join(names) + " |",
             "|" + "---|" * (len(names) + 3)]
    for v in data["variants"]:
        lines.append(f"| `{v['variant']}` | {_cell(v['test_accuracy'])} | "
                     f"{_cell(v['mean_accuracy'])} | "
                     + " | ".join(_cell(v["accuracy"].get(n)) for n in names) + " |")
    lines += ["", f"## Corruption error relative to `{data['baseline']}` (CE, %)", "",
              "Error under a corruption divided by the baseline's error under it: below 100 "
              "is more robust than the baseline; mCE is the mean over corruptions.", "",
              "| variant | mCE | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 2)]
    for v in data["variants"]:
        lines.append(f"| `{v['variant']}` | {_cell(v['mce'], digits=0)} | "
                     + " | ".join(_cell(v["ce"].get(n), digits=0) for n in names) + " |")
    return "\n".join(lines) + "\n"


def write_robustness_report(rows: list[ResultRow], reports_dir: Path,
                            sources: list[str]) -> list[Path]:
    """Write both files when some variant has corruption accuracies; return what was written."""
    targets = [reports_dir / ROBUSTNESS_MD, reports_dir / ROBUSTNESS_JSON]
    if not any(row.corruptions for row in rows):
        for stale in targets:  # an older report would describe models no longer on disk
            stale.unlink(missing_ok=True)
        return []
    data = robustness_data(rows)
    markdown = robustness_markdown(data, sources).encode()
    document = json.dumps(data, indent=1).encode()
    layout.write_atomic(targets[0], lambda handle: handle.write(markdown))
    layout.write_atomic(targets[1], lambda handle: handle.write(document))
    return targets
