"""The comparison's chart: each variant's difference from the baseline, interval and verdict."""

from __future__ import annotations

import textwrap
from typing import Any

from analysis.results import is_synthetic
from regserve_contracts import comparison as contract

#: Marker colours by verdict (colour-blind safe: Okabe-Ito); grey for inconclusive, needs seeds.
COLOURS = {contract.BETTER: "#009E73", contract.WORSE: "#D55E00",
           contract.EQUIVALENT: "#0072B2"}
NEUTRAL = "#6b6b6b"


def source_name(name: str) -> str:
    return f"{name} (offline set, NOT EMNIST)" if is_synthetic(name) else name


def comparison_figure(document: dict[str, Any]):
    """A matplotlib Figure (no pyplot): one row per variant compared with the baseline, its
    difference in points as a dot (gid: the variant's name) with its interval over seeds and
    test images, the ±margin band of ``equivalent`` shaded; 600 px wide for a phone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    baseline = document[contract.BASELINE_KEY]
    rows = [(name, row) for name, row in document[contract.VARIANTS].items()
            if row.get("diff") is not None][::-1]  # the first variant on top
    figure = Figure(figsize=(6.0, 1.6 + 0.6 * max(len(rows), 1)), layout="constrained")
    FigureCanvasAgg(figure)  # no display, no global figure state
    ax = figure.subplots()
    margin = 100 * document["margin"]
    ax.axvspan(-margin, margin, color=COLOURS[contract.EQUIVALENT], alpha=0.10, lw=0)
    ax.axvline(0, color="#333333", lw=1, ls="--")
    for position, (name, row) in enumerate(rows):
        colour = COLOURS.get(row[contract.VERDICT], NEUTRAL)
        diff = 100 * row["diff"]
        if row.get("diff_ci95"):
            low, high = (100 * value for value in row["diff_ci95"])
            ax.errorbar(diff, position, xerr=[[diff - low], [high - diff]], fmt="o",
                        color=colour, capsize=4, lw=2, gid=name)
        else:  # one seed pair: a hollow dot, no interval to draw
            ax.plot(diff, position, "o", mfc="white", color=colour, gid=name)
    ax.set_yticks(range(len(rows)), [
        f"{row['label']}\n" + "\n".join(textwrap.wrap(row[contract.VERDICT_TEXT], 36))
        for _, row in rows], fontsize=7)
    ax.set_xlabel(f"points against {baseline}, 95% over seeds and images")
    ax.grid(axis="x", alpha=0.3)
    test = document["test_set"]
    title = (f"{source_name(test['data_source'])}, {test['size']:,} test images"
             if test["fingerprint"] else "no model with test-set predictions")
    ax.set_title(f"Against {baseline} (shaded: within ±{margin:.1f} points)\n{title}",
                 fontsize=10)
    if not rows:
        ax.set_yticks([])
        ax.text(0.5, 0.5, f"nothing to compare with {baseline}", ha="center", va="center",
                transform=ax.transAxes)
    return figure


def draw_intervals(document: dict[str, Any], handle) -> None:
    """Write :func:`comparison_figure` as a PNG to ``handle``."""
    comparison_figure(document).savefig(handle, format="png", dpi=100)
