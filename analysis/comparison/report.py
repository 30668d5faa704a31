"""The comparison's files in ``models/reports/``: comparison.json, .md, .csv and its chart."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from analysis.comparison.document import BASELINE_VERDICT, build_comparison
from analysis.results import is_synthetic
from regserve_contracts import layout

COMPARISON_MD = "comparison.md"
COMPARISON_CSV = "comparison.csv"
COMPARISON_PNG = "comparison.png"
CSV_COLUMNS = ("variant", "model", "seeds", "accuracy", "ci95_low", "ci95_high", "sd",
               "diff_vs_baseline", "diff_ci95_low", "diff_ci95_high", "p_holm", "verdict")
#: Marker colours by verdict (colour-blind safe: Okabe-Ito), grey for "no difference".
COLOURS = {"better": "#009E73", "worse": "#D55E00", BASELINE_VERDICT: "#0072B2"}
NEUTRAL = "#6b6b6b"


def write_comparison(models_dir: Path, reports_dir: Path, baseline: str = "none") -> list[Path]:
    """Build the comparison of the models on disk and write its four files; return their paths."""
    document = build_comparison(models_dir, baseline)
    reports_dir.mkdir(parents=True, exist_ok=True)
    layout.write_json_atomic(reports_dir / layout.COMPARISON_FILE, document)
    for name, text in ((COMPARISON_MD, comparison_markdown(document)),
                       (COMPARISON_CSV, comparison_csv(document))):
        data = text.encode()
        layout.write_atomic(reports_dir / name, lambda handle, data=data: handle.write(data))
    layout.write_atomic(reports_dir / COMPARISON_PNG, lambda handle: draw_intervals(document,
                                                                                    handle))
    return [reports_dir / name for name in (layout.COMPARISON_FILE, COMPARISON_MD,
                                            COMPARISON_CSV, COMPARISON_PNG)]


def verdict_words(name: str, row: dict[str, Any], baseline: str) -> str:
    """A variant's verdict against the baseline in words."""
    verdict = row.get("verdict")
    if verdict == BASELINE_VERDICT:
        return "the baseline"
    if verdict is None:
        return f"not compared with {baseline}"
    if verdict == "no detectable difference":
        return f"not measurably different from {baseline}"
    return f"{verdict} than {baseline}"


def comparison_markdown(document: dict[str, Any]) -> str:
    """The comparison for people: a row per variant, every pair, Cochran's Q, the rule."""
    baseline, test = document["baseline"], document["test_set"]
    lines = ["# Is the difference real?", ""]
    if test["fingerprint"]:
        lines += [f"Test set: **{_source(test['data_source'])}**, {test['size']:,} images "
                  f"(fingerprint `{test['fingerprint'][:12]}`). Baseline: `{baseline}`.", ""]
    lines += ["| variant | model | seeds | accuracy (95% CI) | sd over seeds | "
              f"vs {baseline} (95% CI) | p (Holm) | verdict |", "|---|---|---|---|---|---|---|---|"]
    for name, row in document["variants"].items():
        diff = (f"{_points(row['diff'])} [{_points(row['diff_ci95'][0])}, "
                f"{_points(row['diff_ci95'][1])}]") if "diff" in row else "-"
        lines.append(f"| `{name}` | {row['model']} | {row['seeds']} | {_share(row['accuracy'])} "
                     f"[{_share(row['ci95'][0])}, {_share(row['ci95'][1])}] | "
                     f"{_share(row['sd']) if row['sd'] is not None else '-'} | {diff} | "
                     f"{_p(row.get('p_holm'))} | {verdict_words(name, row, baseline)} |")
    lines += ["", "Accuracies and differences in percent (points).", "", "## Every pair", "",
              "| A | B | both right | only A | only B | both wrong | diff (95% CI) | p McNemar | "
              "p Holm | per-seed diffs | verdict |", "|" + "---|" * 11]
    for pair in document["pairs"]:
        seeds = ", ".join(_points(d) for d in pair["seed_diffs"])
        lines.append(f"| {pair['a']} | {pair['b']} | {pair['both_right']} | {pair['only_a']} | "
                     f"{pair['only_b']} | {pair['both_wrong']} | {_points(pair['diff'])} "
                     f"[{_points(pair['diff_ci95'][0])}, {_points(pair['diff_ci95'][1])}] | "
                     f"{_p(pair['p_mcnemar'])} | {_p(pair['p_holm'])} | {seeds} | "
                     f"{pair['verdict']} |")
    cochran = document["cochran_q"]
    if cochran:
        lines += ["", f"Cochran's Q over all {cochran['k']} variants: Q = {cochran['q']:.2f}, "
                      f"df = {cochran['df']}, p = {_p(cochran['p'])}."]
    lines += ["", f"**Rule.** {document['rule']}", "", f"![accuracy with 95% intervals]"
              f"({COMPARISON_PNG})", ""]
    if document["missing"]:
        lines += ["## Not compared", ""]
        lines += [f"- `{item['model'] or item['variant']}`: {item['reason']}"
                  for item in document["missing"]]
        lines.append("")
    return "\n".join(lines)


def comparison_csv(document: dict[str, Any]) -> str:
    """One row per variant with its comparison against the baseline, full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, row in document["variants"].items():
        low, high = row.get("diff_ci95") or ("", "")
        writer.writerow([name, row["model"], row["seeds"], row["accuracy"], *row["ci95"],
                         "" if row["sd"] is None else row["sd"], row.get("diff", ""), low, high,
                         row.get("p_holm", ""), row["verdict"] or ""])
    return buffer.getvalue()


def draw_intervals(document: dict[str, Any], handle) -> None:
    """Each variant's accuracy as a dot with its 95% interval, coloured by verdict; narrow
    enough (600 px) to read on a phone, one row per variant."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = list(document["variants"].items())[::-1]  # the first variant on top
    baseline = document["baseline"]
    figure = Figure(figsize=(6.0, 1.4 + 0.45 * max(len(rows), 1)), layout="constrained")
    FigureCanvasAgg(figure)  # no pyplot: no display, no global figure state
    ax = figure.subplots()
    base = document["variants"].get(baseline)
    if base:
        ax.axvspan(*base["ci95"], color=COLOURS[BASELINE_VERDICT], alpha=0.12, lw=0)
        ax.axvline(base["accuracy"], color=COLOURS[BASELINE_VERDICT], lw=1, ls="--")
    for position, (_, row) in enumerate(rows):
        colour = COLOURS.get(row["verdict"], NEUTRAL)
        low, high = row["ci95"]
        ax.errorbar(row["accuracy"], position, xerr=[[row["accuracy"] - low], [high - row[
            "accuracy"]]], fmt="o", color=colour, capsize=4, lw=2)
    ax.set_yticks(range(len(rows)), [f"{name}{_seeds(row)}\n{verdict_words(name, row, baseline)}"
                                     for name, row in rows], fontsize=8)
    ax.set_xlabel("test accuracy, 95% interval")
    ax.grid(axis="x", alpha=0.3)
    test = document["test_set"]
    title = (f"{_source(test['data_source'])}, {test['size']:,} test images"
             if test["fingerprint"] else "no model with test-set predictions")
    ax.set_title(f"Accuracy against {baseline}\n{title}", fontsize=10)
    if not rows:
        ax.text(0.5, 0.5, "nothing to compare yet", ha="center", va="center",
                transform=ax.transAxes)
    figure.savefig(handle, format="png", dpi=100)


def _seeds(row: dict[str, Any]) -> str:
    return f" ({row['seeds']} seeds)" if row["seeds"] > 1 else ""


def _source(name: str) -> str:
    return f"{name} (offline set, NOT EMNIST)" if is_synthetic(name) else name


def _share(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"
