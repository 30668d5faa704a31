"""The sweep chart: one row per family, accuracy and sparsity against lambda on a log axis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainer.results import ResultRow
    from trainer.sweep.report import Family


def draw_sweep(found: list[Family], baseline: dict[str, Any] | None, rows: list[ResultRow],
               handle) -> None:
    """Test accuracy, weight sparsity and activation sparsity per family, ``none`` as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from trainer.results import is_synthetic
    from trainer.sweep.report import METRICS

    figure = Figure(figsize=(13, 2.9 * len(found) + 0.8), layout="constrained")
    FigureCanvasAgg(figure)  # the Agg canvas: no display, no pyplot state
    axes = figure.subplots(len(found), len(METRICS), squeeze=False)
    for row_axes, fam in zip(axes, found, strict=True):
        lams = [p["lam"] for p in fam.points]
        for ax, (key, title) in zip(row_axes, METRICS, strict=True):
            ax.plot(lams, [p[key] for p in fam.points], marker="o", label=fam.name)
            ax.plot([fam.best["lam"]], [fam.best[key]], marker="*", markersize=14,
                    linestyle="none", color="tab:green", label="best (validation)")
            if baseline is not None:
                ax.axhline(baseline[key], color="gray", linestyle="--", label="none (baseline)")
            ax.set_xscale("log")
            ax.set(title=f"{fam.name}: {title}", xlabel="lambda", ylim=(-0.02, 1.02))
            ax.grid(alpha=0.3)
        row_axes[0].legend(fontsize=8, loc="best")
    sources = sorted({row.data_source for row in rows})
    offline = any(is_synthetic(source) for source in sources)
    figure.suptitle(f"Lambda sweep; data: {', '.join(sources)}"
                    + (" (offline set, NOT EMNIST)" if offline else ""))
    figure.savefig(handle, format="png", dpi=90)
