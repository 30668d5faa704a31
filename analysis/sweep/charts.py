"""The sweep chart: one row per family, accuracy (mean +- SE) and sparsity against lambda on a
log axis, with the two picks (``best``, ``one_se``) marked."""

from __future__ import annotations

import math
from typing import Any

from analysis.results import ResultRow, is_synthetic
from analysis.sweep.results import METRICS, Family, score

PICKS = (("best", "tab:green", "best (validation)"), ("one_se", "tab:purple", "one SE rule"))
SERIES = (("val", "o", "tab:blue", "validation"), ("test", "s", "tab:gray", "test"))


def draw_sweep(found: list[Family], baseline: dict[str, Any] | None, rows: list[ResultRow],
               handle) -> None:
    """Per family: accuracies with error bars, weight and activation sparsity; the baseline as
    a dashed line, each pick as a vertical line, the one-SE threshold as a dotted one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 2.9 * len(found) + 0.8), layout="constrained")
    FigureCanvasAgg(figure)  # the Agg canvas: no display, no pyplot state
    axes = figure.subplots(len(found), len(METRICS), squeeze=False)
    for row_axes, fam in zip(axes, found, strict=True):
        lams = [p["lam"] for p in fam.points]
        for ax, (key, title) in zip(row_axes, METRICS, strict=True):
            if key == "accuracy":
                accuracy_panel(ax, fam, lams, baseline)
            else:
                ax.plot(lams, [p[key] for p in fam.points], marker="o", label=fam.name)
                if baseline is not None:
                    ax.axhline(baseline[key], color="gray", linestyle="--", label="baseline")
            for pick, colour, label in PICKS if fam.best else ():  # a refusal picks nothing
                ax.axvline(getattr(fam, pick)["lam"], color=colour, alpha=0.8,
                           linestyle="-" if pick == "best" else "-.", label=label)
            ax.set_xscale("log")
            ax.set(title=f"{fam.name}: {title}" + (" (no pick)" if fam.refusal else ""),
                   xlabel="lambda")
            if key != "accuracy":  # accuracy zooms in, or its error bars would not show
                ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
        row_axes[0].legend(fontsize=7, loc="best")
    sources = sorted({row.data_source for row in rows})
    offline = any(is_synthetic(source) for source in sources)
    figure.suptitle(f"Lambda sweep; data: {', '.join(sources)}"
                    + (" (offline set, NOT EMNIST)" if offline else ""))
    figure.savefig(handle, format="png", dpi=90)


def accuracy_panel(ax, fam: Family, lams: list[float], baseline: dict[str, Any] | None) -> None:
    """Validation and test accuracy with one-SE error bars, and the one-SE threshold."""
    for key, marker, colour, label in SERIES:
        errors = [p[f"{key}_se"] if math.isfinite(p[f"{key}_se"]) else 0.0 for p in fam.points]
        ax.errorbar(lams, [p[f"{key}_accuracy"] for p in fam.points], yerr=errors,
                    marker=marker, markersize=4, capsize=3, color=colour, label=label)
    collapsed = [p for p in fam.points if p.get("collapsed")]
    if collapsed:  # at chance: marked, never picked
        ax.scatter([p["lam"] for p in collapsed], [p["test_accuracy"] for p in collapsed],
                   marker="x", s=60, color="black", zorder=5, label="collapsed (at chance)")
    mean, se = score(fam.best) if fam.best else (math.nan, math.nan)
    if math.isfinite(se):
        ax.axhline(mean - se, color="tab:purple", linestyle=":", label="best - 1 SE")
    if baseline is not None:
        ax.axhline(baseline["test_accuracy"], color="gray", linestyle="--",
                   label="baseline (test)")
