"""Reports for people in ``models/reports/``: training curves, the comparison, a results table.

Everything here is built from the ``metadata.json`` of the newest version of every variant on
disk (through :mod:`regserve_contracts.layout`), never from a training run in memory, so the
reports can be rebuilt at any time for any models folder, custom variants included.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from analysis import plots
from analysis.comparison import write_comparison
from analysis.comparison.report import COMPARISON_MD, COMPARISON_PNG
from analysis.results import ResultRow, is_synthetic
from analysis.robustness import (
    ROBUSTNESS_MD,
    mce_by_variant,
    seed_groups,
    write_robustness_report,
)
from regserve_contracts import layout
from regserve_contracts.comparison import DEFAULT_MARGIN
from regserve_contracts.variants import VARIANT_NAMES

RESULTS_MD = "results.md"
RESULTS_CSV = "results.csv"
SPARSITY_PNG = "sparsity.png"
PRUNING_PNG = "pruning.png"
CSV_COLUMNS = (
    "variant", "penalty", "where", "lambda", "version", "data_source", "test_loss",
    "test_accuracy", "weight_sparsity_lt_1e-3", "weight_sparsity_eq_0",
    "activation_sparsity_test", "epochs", "train_samples", "training_seconds",
    "ece", "nll", "mce",  # calibration and corruption error (trainer/beyond.py, robustness_report)
    "ece_low", "ece_high",  # the ECE's 95% interval over test images
)


class ReportError(Exception):
    """The reports cannot be built (e.g. there are no trained models)."""


@dataclass(frozen=True)
class Reports:
    """What :func:`build_reports` wrote."""

    reports_dir: Path
    rows: tuple[ResultRow, ...]
    files: tuple[Path, ...]
    skipped: tuple[str, ...]  # "<folder>: why" for versions whose metadata could not be read


def collect_results(models_dir: Path) -> tuple[list[ResultRow], list[str]]:
    """Rows for the newest version of every variant (registry order, then by name) and skips."""
    rows, skipped = [], []
    for variant_dir in layout.variant_dirs(Path(models_dir)):
        newest = layout.newest_version(variant_dir)
        try:
            rows.append(ResultRow.from_metadata(newest, layout.read_metadata(newest)))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            skipped.append(f"{newest}: unreadable metadata ({type(exc).__name__}: {exc})")
    order = {name: index for index, name in enumerate(VARIANT_NAMES)}
    rows.sort(key=lambda row: (order.get(row.variant, len(order)), row.variant))
    return rows, skipped


def build_reports(models_dir: Path, reports_dir: Path | None = None,
                  baseline: str = "none", margin: float = DEFAULT_MARGIN) -> Reports:
    """Rebuild every report from the models on disk; raise :class:`ReportError` if none.

    The comparison (analysis.comparison) tests every variant against ``baseline``.
    """
    models_dir = Path(models_dir)
    reports_dir = Path(reports_dir) if reports_dir else models_dir / layout.REPORTS_DIR
    rows, skipped = collect_results(models_dir)
    if not rows:
        raise ReportError(f"no trained models under {models_dir}; train some first, "
                          "e.g. python -m trainer --all")
    reports_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for row in rows:
        target = reports_dir / curves_file(row.variant)
        layout.write_atomic(target, lambda handle, row=row: plots.draw_curves(row, handle))
        files.append(target)
    # Curves of variants no longer on disk would mislead; they are ours to remove.
    for stale in reports_dir.glob("curves_*.png"):
        if stale not in files:
            stale.unlink()
    sources = list(data_sources(rows))
    layout.write_atomic(reports_dir / SPARSITY_PNG,
                        lambda handle: plots.draw_sparsity(rows, sources, handle))
    files += write_comparison(models_dir, reports_dir, baseline, margin)
    if any(row.pruning for row in rows):
        layout.write_atomic(reports_dir / PRUNING_PNG,
                            lambda handle: plots.draw_pruning(rows, sources, handle))
        files.append(reports_dir / PRUNING_PNG)
    markdown = results_markdown(rows, models_dir, skipped).encode()
    layout.write_atomic(reports_dir / RESULTS_MD, lambda handle: handle.write(markdown))
    table = results_csv(rows).encode()
    layout.write_atomic(reports_dir / RESULTS_CSV, lambda handle: handle.write(table))
    files += [reports_dir / name for name in (SPARSITY_PNG, RESULTS_MD, RESULTS_CSV)]
    files += write_robustness_report(rows, reports_dir, list(sources), seed_groups(models_dir))
    return Reports(reports_dir, tuple(rows), tuple(files), tuple(skipped))


def curves_file(variant: str) -> str:
    """File name of a variant's training curves inside the reports folder."""
    return f"curves_{variant}.png"


def data_sources(rows: list[ResultRow]) -> dict[str, str]:
    """Data source name -> description, in order of first appearance."""
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(row.data_source, row.data_description)
    return found


def source_notes(rows: list[ResultRow]) -> list[str]:
    """Markdown lines naming the data source(s), with a warning for the offline set."""
    sources = data_sources(rows)
    lines = [f"Data source: **{name}** — {description or 'no description'}"
             for name, description in sources.items()]
    if any(is_synthetic(name) for name in sources):
        lines.append("> **Warning: trained on the synthetic offline set, not EMNIST.** "
                     "These accuracies say nothing about EMNIST; train with `--data emnist` "
                     "(or a local EMNIST file) to check the experiment's claims.")
    if len(sources) > 1:
        lines.append("> **Note:** the variants below were trained on different data sources; "
                     "compare them with care.")
    return lines


def results_markdown(rows: list[ResultRow], models_dir: Path, skipped: list[str] = ()) -> str:
    """The results table for people, with the data source named at the top."""
    mixed = len(data_sources(rows)) > 1
    header = ["variant", "penalty", "where", "lambda", "version"] + (["data"] if mixed else [])
    header += ["test loss", "test accuracy", "ECE", "NLL", "mCE", "weights \\|w\\|<1e-3",
               "weights ==0",
               "activation sparsity (test)", "epochs", "train samples", "training s", "curves"]
    lines = ["# Results", "", *[f"{line}\n" for line in source_notes(rows)],
             f"Newest version of every variant in `{models_dir}`. Weight sparsity is the share "
             "of all weights and biases of the four penalized layers below the threshold; "
             "activation sparsity the mean share of zero ReLU outputs on the test set. "
             "ECE: expected calibration error (15 bins) and its 95% bootstrap interval over the "
             "test images; NLL: cross-entropy without the "
             f"penalty; mCE: mean corruption error relative to the baseline ([{ROBUSTNESS_MD}]"
             f"({ROBUSTNESS_MD})).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    mce = mce_by_variant(rows)
    for row in rows:
        cells = [f"`{row.variant}`", row.penalty, row.where, _lam(row), str(row.version)]
        cells += [row.data_source] if mixed else []
        cells += [f"{row.test_loss:.4f}", f"{row.test_accuracy:.4f}", _ece(row),
                  _num(row.nll, ".4f"), _num(mce[row.variant], ".3f"),
                  f"{row.weight_sparsity:.4f}", f"{row.weight_zero:.4f}",
                  f"{row.activation_sparsity:.4f}", str(row.epochs), f"{row.train_samples:,}",
                  f"{row.training_seconds:.1f}", f"[png]({curves_file(row.variant)})"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Is a difference real? [comparison.md]({COMPARISON_MD}): intervals, paired "
              "tests and a verdict per variant.", "",
              f"![test accuracy with 95% intervals]({COMPARISON_PNG})",
              f"![weight sparsity]({SPARSITY_PNG})", ""]
    if skipped:
        lines += ["Skipped (unreadable):", *[f"- {why}" for why in skipped], ""]
    return "\n".join(lines)


def _ece(row: ResultRow) -> str:
    """``0.0650 [0.047, 0.072]``: the ECE and its interval, where the export has one."""
    if not math.isfinite(row.ece_low):
        return _num(row.ece, ".4f")
    return f"{row.ece:.4f} [{row.ece_low:.3f}, {row.ece_high:.3f}]"


def results_csv(rows: list[ResultRow]) -> str:
    """The results table as CSV, one row per variant, full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    mce = mce_by_variant(rows)
    for row in rows:
        writer.writerow([row.variant, row.penalty, row.where, row.lam, row.version,
                         row.data_source, row.test_loss, row.test_accuracy, row.weight_sparsity,
                         row.weight_zero, row.activation_sparsity, row.epochs, row.train_samples,
                         row.training_seconds, row.ece, row.nll, mce[row.variant],
                         row.ece_low, row.ece_high])
    return buffer.getvalue()


def results_text(rows: list[ResultRow]) -> str:
    """A compact plain-text table for the terminal."""
    header = ("variant", "penalty", "where", "lambda", "ver", "test loss", "test acc",
              "|w|<1e-3", "act. zero", "ECE", "mCE")
    mce = mce_by_variant(rows)
    body = [(row.variant, row.penalty, row.where, _lam(row), str(row.version),
             f"{row.test_loss:.4f}", f"{row.test_accuracy:.4f}", f"{row.weight_sparsity:.3f}",
             f"{row.activation_sparsity:.3f}", _num(row.ece, ".3f"), _num(mce[row.variant], ".2f"))
            for row in rows]
    widths = [max(len(cells[i]) for cells in (header, *body)) for i in range(len(header))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
             for cells in (header, *body))
    return "\n".join(line.rstrip() for line in lines)


def _num(value: float, spec: str) -> str:
    """A number, or "–" where a version lacks it (exported before it was measured)."""
    return format(value, spec) if math.isfinite(value) else "–"


def _lam(row: ResultRow) -> str:
    return "-" if row.penalty == "none" else f"{row.lam:g}"
