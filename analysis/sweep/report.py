"""The sweep report in ``models/reports/``: per family, accuracy (mean +- SE over seeds) and
sparsity against lambda, with the two picks (``best``, ``one_se``).

Built from the exported metadata of the sweep's points (any engine, any node), never from a
run in memory, so ``--resume`` and a report rebuilt later show the same thing.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from analysis.reports import ReportError, source_notes
from analysis.results import ResultRow
from analysis.sweep.results import (
    RULE,
    Family,
    aggregate,
    collect,
    families,
    pick_summary,
    se_note,
)
from regserve_contracts import layout
from regserve_contracts import sweep as contract


def build_sweep_report(models_dir: Path, sweep: str, command: str = "") -> list[Path]:
    """Write ``sweep_<name>.{md,csv,png,json}`` into the reports folder; the files written."""
    runs, rows = collect(models_dir, sweep)
    if not runs:
        raise ReportError(f"sweep {sweep!r} has no exported points under {models_dir}")
    points = aggregate(runs)
    baseline = next((p for p in points if p["penalty"] == "none"), None)
    found = families(points)
    folder = Path(models_dir) / layout.REPORTS_DIR
    stem = contract.file_name(sweep).removesuffix(contract.SUFFIX)
    written = []

    def save(suffix: str, data: bytes) -> None:
        layout.write_atomic(folder / f"{stem}{suffix}", lambda handle: handle.write(data))
        written.append(folder / f"{stem}{suffix}")

    if found:
        from analysis.sweep.charts import draw_sweep

        layout.write_atomic(folder / f"{stem}.png",
                            lambda handle: draw_sweep(found, baseline, rows, handle))
        written.append(folder / f"{stem}.png")
    save(".md", markdown(sweep, found, baseline, rows, stem, command).encode())
    save(".csv", table(sweep, points, found).encode())
    page = contract.parse(finite(page_data(sweep, found, baseline, rows, stem)))
    save(contract.SUFFIX, json.dumps(page, indent=1, allow_nan=False).encode())
    return written


def plus_minus(point: dict[str, Any], key: str) -> str:
    """``0.8123 +- 0.0040`` for an accuracy and its standard error (``key``: val or test)."""
    mean, se = point[f"{key}_accuracy"], point[f"{key}_se"]
    return f"{mean:.4f} +- {se:.4f}" if math.isfinite(se) else f"{mean:.4f}"


def markdown(sweep: str, found: list[Family], baseline: dict | None, rows: list[ResultRow],
             stem: str, command: str) -> str:
    """The report for people: the two picks per family, then every point."""
    seeds = max((len(p["seeds"]) for f in found for p in f.points), default=1)
    lines = [f"# Lambda sweep `{sweep}`", "", *[f"{line}\n" for line in source_notes(rows)]]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    lines += [f"Every point trained {seeds} time(s) (seeds {seed_list(found, baseline)}); "
              "figures are means +- one standard error.", "", f"Picks per family: {RULE} "
              "Sparsity is the family's own: weights |w| < 1e-3 for kernel penalties, zero "
              "activations for activity penalties.", ""]
    if len(found) > 1:
        lines += [f"This sweep has {len(found)} families; each has its own two picks (a lambda "
                  "of one penalty says nothing about another's).", ""]
    if baseline:
        lines += [f"Baseline `{baseline['point']}` (no penalty): validation accuracy "
                  f"{plus_minus(baseline, 'val')}, test accuracy {plus_minus(baseline, 'test')}, "
                  f"weights |w|<1e-3 {baseline['weight_sparsity']:.3f}, zero activations "
                  f"{baseline['activation_sparsity']:.3f}.", ""]
    for fam in found:
        if fam.refusal:
            lines += [f"`{fam.name}`: {fam.refusal}.", ""]
        elif se_note(fam):
            lines += [f"`{fam.name}`: {se_note(fam)}", ""]
    lines += ["| family | pick | lambda | val acc | test acc | sparsity |", "|" + "---|" * 6]
    for fam in found:
        if fam.refusal:
            lines.append(f"| `{fam.name}` | none | - | - | - | - |")
            continue
        for name, chosen in (("best", fam.best), ("one_se", fam.one_se)):
            lines.append(f"| `{fam.name}` | {name} | {chosen['lam']:.3g} | "
                         f"{plus_minus(chosen, 'val')} | {plus_minus(chosen, 'test')} | "
                         f"{chosen[fam.sparsity]:.3f} |")
    lines += ["", "| point | lambda | seeds | val acc | test acc | weights \\|w\\|<1e-3 "
              "| zero activations |", "|---|---|---|---|---|---|---|"]
    for point in ([baseline] if baseline else []) + [p for f in found for p in f.points]:
        lam = "-" if point["penalty"] == "none" else f"{point['lam']:.3g}"
        mark = " (collapsed: at chance)" if point.get("collapsed") else ""
        lines.append(f"| `{point['point']}`{mark} | {lam} | {len(point['seeds'])} | "
                     f"{plus_minus(point, 'val')} | {plus_minus(point, 'test')} | "
                     f"{point['weight_sparsity']:.3f} | {point['activation_sparsity']:.3f} |")
    if found:
        lines += ["", f"![accuracy and sparsity against lambda]({stem}.png)"]
    return "\n".join(lines) + "\n"


def seed_list(found: list[Family], baseline: dict | None) -> str:
    """The seeds the sweep's points were trained with, e.g. ``42, 43``."""
    seeds = {seed for f in found for p in f.points for seed in p["seeds"]}
    seeds |= set(baseline["seeds"]) if baseline else set()
    return ", ".join(str(seed) for seed in sorted(seeds))


def table(sweep: str, points: list[dict[str, Any]], found: list[Family]) -> str:
    """Every point as CSV, full precision (means over seeds), with the two picks flagged."""
    best = {f.best["point"] for f in found if f.best}
    one_se = {f.one_se["point"] for f in found if f.one_se}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["sweep", "point", "family", "penalty", "where", "lambda", "seeds",
                     "versions", "val_accuracy", "val_se", "test_accuracy", "test_se",
                     "weight_sparsity_lt_1e-3", "activation_sparsity_test", "training_seconds",
                     "node", "collapsed", "best", "one_se"])
    for p in sorted(points, key=lambda p: (p["family"] != "none", p["family"], p["lam"])):
        writer.writerow([sweep, p["point"], p["family"], p["penalty"], p["where"], p["lam"],
                         " ".join(map(str, p["seeds"])), " ".join(map(str, p["versions"])),
                         p["val_accuracy"], p["val_se"], p["test_accuracy"], p["test_se"],
                         p["weight_sparsity"], p["activation_sparsity"], p["training_seconds"],
                         " ".join(p["nodes"]), bool(p.get("collapsed")), p["point"] in best,
                         p["point"] in one_se])
    return buffer.getvalue()


def page_data(sweep: str, found: list[Family], baseline: dict | None, rows: list[ResultRow],
              stem: str) -> dict[str, Any]:
    """What the page draws (regserve_contracts.sweep): every family's points (mean +- SE) and
    its two picks, or why it has none."""
    keep = contract.POINT_KEYS
    data = {
        contract.SCHEMA: contract.SCHEMA_VERSION, contract.SWEEP: sweep,
        contract.CHART: f"{stem}.png" if found else None, contract.MARKDOWN: f"{stem}.md",
        contract.DATA_SOURCES: sorted({row.data_source for row in rows}), contract.RULE: RULE,
        contract.SEEDS: max((len(p["seeds"]) for f in found for p in f.points), default=1),
        contract.BASELINE: {k: baseline.get(k) for k in keep} if baseline else None,
        contract.FAMILIES: [{
            contract.FAMILY: f.name, contract.SPARSITY: f.sparsity,
            contract.POINTS: [{k: p.get(k) for k in keep} for p in f.points],
            contract.BEST: f.best["point"] if f.best else None,
            contract.PICKS: {"best": pick_summary(f.best, f.sparsity),
                             "one_se": pick_summary(f.one_se, f.sparsity)} if f.best else None,
            contract.REFUSAL: f.refusal, contract.SE_SOURCE: f.se_source,
            contract.SE_NOTE: se_note(f)} for f in found],
    }
    if len(found) == 1:  # one family: its picks (or its refusal) are the sweep's
        family = data[contract.FAMILIES][0]
        data[contract.PICKS] = family[contract.PICKS]
        data[contract.REFUSAL] = family[contract.REFUSAL]
    return data


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity as ``None``: JSON has no NaN, browsers reject it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value
