"""Charts for the reports: per-variant training curves, weight sparsity and the pruning curves.

Drawn on matplotlib's Agg canvas, never pyplot, so no display is needed and no global figure
state is shared with the caller.
"""

from __future__ import annotations

from analysis.results import ResultRow, is_synthetic


def draw_curves(row: ResultRow, handle) -> None:
    """Loss and accuracy per epoch, training vs validation, in two panels (as the original
    experiment did)."""
    figure, axes = _figure(1, 2, (11, 4.2))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for key, label in ((metric, "training"), (f"val_{metric}", "validation")):
            values = row.history.get(key, [])
            ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set(title=metric, xlabel="epoch", ylabel=metric, xlim=(0.5, row.epochs + 0.5))
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.suptitle(f"{row.variant} (version {row.version}): {row.label}\n"
                    f"data: {row.data_source}{_synthetic_mark(row.data_source)}")
    figure.savefig(handle, format="png", dpi=100)


def draw_sparsity(rows: list[ResultRow], sources: list[str], handle) -> None:
    """Weight sparsity (share of |w| < 1e-3) of every variant; accuracy, which needs its
    interval, is the comparison chart's (analysis.comparison)."""
    figure, (ax,) = _figure(1, 1, (max(6.0, 0.8 * len(rows) + 2), 4.5))
    bars = ax.bar(range(len(rows)), [row.weight_sparsity for row in rows], width=0.6)
    ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xticks(range(len(rows)), [row.variant for row in rows], rotation=30, ha="right")
    ax.set(ylim=(0, 1.1), ylabel="share of weights with |w| < 1e-3")
    names = ", ".join(f"{name}{_synthetic_mark(name)}" for name in sources)
    ax.set_title(f"Weight sparsity, newest version; data: {names}")
    figure.savefig(handle, format="png", dpi=100, bbox_inches="tight")


def draw_pruning(rows: list[ResultRow], sources: list[str], handle) -> None:
    """Test accuracy against the share of weights removed by magnitude pruning, per variant."""
    figure, (ax,) = _figure(1, 1, (9, 5.5))
    for row in rows:
        if row.pruning:
            ax.plot([p["removed_share"] for p in row.pruning],
                    [p["test_accuracy"] for p in row.pruning], marker="o", label=row.variant)
    ax.set(xlim=(-0.02, 1.02), ylim=(0, None), xlabel="share of weights removed (|w| below "
           "1e-5 .. 1e-1 set to 0)", ylabel="test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    names = ", ".join(f"{name}{_synthetic_mark(name)}" for name in sources)
    ax.set_title(f"What sparsity buys: accuracy after pruning; data: {names}")
    figure.savefig(handle, format="png", dpi=100)


def _figure(rows: int, columns: int, size: tuple[float, float]):
    """A figure on the Agg canvas: no display and no pyplot state shared with the caller."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, columns, squeeze=False).ravel()


def _synthetic_mark(source: str) -> str:
    return " (offline set, NOT EMNIST)" if is_synthetic(source) else ""
