"""The sweep report in ``models/reports/``: per family, accuracy and sparsity against lambda.

Built from the exported metadata of the sweep's points (any engine, any node), never from a
run in memory, so ``--resume`` and a report rebuilt later show the same thing.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regserve_contracts import layout
from trainer.reports import ReportError, source_notes
from trainer.results import ResultRow
from trainer.sweep.trial import summarise

#: "Within 1 point": validation accuracies this close to the best count as just as good.
CLOSE = 0.01
_TIE = 1e-9
METRICS = (("test_accuracy", "test accuracy"),
           ("weight_sparsity", "weights |w| < 1e-3"),
           ("activation_sparsity", "zero activations (test set)"))


@dataclass(frozen=True)
class Family:
    """One penalty x place across its lambdas, with the picks the report makes."""

    name: str
    sparsity: str  # the sparsity this family is about: weight_sparsity or activation_sparsity
    points: tuple[dict[str, Any], ...]  # ascending lambda
    best: dict[str, Any]
    sparsest_close: dict[str, Any]


def collect(models_dir: Path, sweep: str) -> tuple[list[dict[str, Any]], list[ResultRow]]:
    """Every point this sweep exported (its newest version each), with its report row."""
    points, rows = [], []
    for variant_dir in layout.variant_dirs(Path(models_dir)):
        for version in reversed(layout.versions(variant_dir)):
            version_dir = variant_dir / str(version)
            try:
                metadata = layout.read_metadata(version_dir)
                if metadata.get("sweep", {}).get("name") != sweep:
                    continue
                points.append(summarise(version_dir, metadata, reused=True))
                rows.append(ResultRow.from_metadata(version_dir, metadata))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # unreadable metadata: the regular reports list those
            break
    return points, rows


def score(point: dict[str, Any]) -> float:
    """What picks the best lambda: validation accuracy (test accuracy if there was none)."""
    value = point["val_accuracy"]
    return value if math.isfinite(value) else point["test_accuracy"]


def families(points: list[dict[str, Any]]) -> list[Family]:
    """Group the penalized points by family and make the two picks for each."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        if point["penalty"] != "none":
            grouped.setdefault(point["family"], []).append(point)
    found = []
    for name, members in sorted(grouped.items()):
        members.sort(key=lambda p: p["lam"])
        kind = "activation_sparsity" if members[0]["where"] == "activity" else "weight_sparsity"
        found.append(Family(name, kind, tuple(members), *pick(members, kind)))
    return found


def pick(points: list[dict[str, Any]], sparsity: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The best point (highest score, ties to the sparser) and the sparsest one whose score is
    within :data:`CLOSE` of the best (ties to the more accurate)."""
    top = max(score(p) for p in points)
    best = max((p for p in points if score(p) >= top - _TIE), key=lambda p: p[sparsity])
    close = [p for p in points if score(p) >= score(best) - CLOSE - _TIE]
    sparsest = max(close, key=lambda p: (p[sparsity], score(p)))
    return best, sparsest


def build_sweep_report(models_dir: Path, sweep: str, command: str = "") -> list[Path]:
    """Write ``sweep_<name>.{md,csv,png,json}`` into the reports folder; the files written."""
    points, rows = collect(models_dir, sweep)
    if not points:
        raise ReportError(f"sweep {sweep!r} has no exported points under {models_dir}")
    baseline = next((p for p in points if p["penalty"] == "none"), None)
    found = families(points)
    folder = Path(models_dir) / layout.REPORTS_DIR
    stem = f"sweep_{sweep}"
    written = []

    def save(suffix: str, data: bytes) -> None:
        layout.write_atomic(folder / f"{stem}{suffix}", lambda handle: handle.write(data))
        written.append(folder / f"{stem}{suffix}")

    if found:
        from trainer.sweep.charts import draw_sweep

        layout.write_atomic(folder / f"{stem}.png",
                            lambda handle: draw_sweep(found, baseline, rows, handle))
        written.append(folder / f"{stem}.png")
    save(".md", markdown(sweep, found, baseline, rows, stem, command).encode())
    save(".csv", table(sweep, points, found).encode())
    save(".json", json.dumps(page_data(sweep, found, baseline, rows, stem), indent=1).encode())
    return written


def markdown(sweep: str, found: list[Family], baseline: dict | None, rows: list[ResultRow],
             stem: str, command: str) -> str:
    """The report for people: the picks per family, then every point."""
    lines = [f"# Lambda sweep `{sweep}`", "", *[f"{line}\n" for line in source_notes(rows)]]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    lines += [f"Best lambda per family: highest validation accuracy, ties to the sparser model; "
              f"'sparsest within 1 point': the sparsest lambda whose validation accuracy is "
              f"within {CLOSE:.0%} of the best. Sparsity is the family's own: weights "
              "|w| < 1e-3 for kernel penalties, zero activations for activity penalties.", ""]
    if baseline:
        lines += [f"Baseline `none`: validation accuracy {score(baseline):.4f}, test accuracy "
                  f"{baseline['test_accuracy']:.4f}, weights |w|<1e-3 "
                  f"{baseline['weight_sparsity']:.3f}, zero activations "
                  f"{baseline['activation_sparsity']:.3f}.", ""]
    lines += ["| family | best lambda | val acc | test acc | sparsity | sparsest within 1 pt "
              "| val acc | test acc | sparsity |", "|" + "---|" * 9]
    for fam in found:
        cells = [f"`{fam.name}`"]
        for chosen in (fam.best, fam.sparsest_close):
            cells += [f"{chosen['lam']:.3g}", f"{score(chosen):.4f}",
                      f"{chosen['test_accuracy']:.4f}", f"{chosen[fam.sparsity]:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| point | lambda | val acc | test acc | weights \\|w\\|<1e-3 "
              "| zero activations |", "|---|---|---|---|---|---|"]
    for point in ([baseline] if baseline else []) + [p for f in found for p in f.points]:
        lam = "-" if point["penalty"] == "none" else f"{point['lam']:.3g}"
        lines.append(f"| `{point['point']}` | {lam} | {score(point):.4f} | "
                     f"{point['test_accuracy']:.4f} | {point['weight_sparsity']:.3f} | "
                     f"{point['activation_sparsity']:.3f} |")
    if found:
        lines += ["", f"![accuracy and sparsity against lambda]({stem}.png)"]
    return "\n".join(lines) + "\n"


def table(sweep: str, points: list[dict[str, Any]], found: list[Family]) -> str:
    """Every point as CSV, full precision, with the two picks flagged."""
    best = {f.best["point"] for f in found}
    close = {f.sparsest_close["point"] for f in found}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["sweep", "point", "family", "penalty", "where", "lambda", "version",
                     "val_accuracy", "test_accuracy", "weight_sparsity_lt_1e-3",
                     "activation_sparsity_test", "training_seconds", "node", "best",
                     "sparsest_within_1pt"])
    for p in sorted(points, key=lambda p: (p["family"] != "none", p["family"], p["lam"])):
        writer.writerow([sweep, p["point"], p["family"], p["penalty"], p["where"], p["lam"],
                         Path(p["version_dir"]).name, p["val_accuracy"], p["test_accuracy"],
                         p["weight_sparsity"], p["activation_sparsity"], p["training_seconds"],
                         p["node"], p["point"] in best, p["point"] in close])
    return buffer.getvalue()


def page_data(sweep: str, found: list[Family], baseline: dict | None, rows: list[ResultRow],
              stem: str) -> dict[str, Any]:
    """What the page needs to draw its picker: the families, their points and picks."""
    keep = ("point", "lam", "val_accuracy", "test_accuracy", "weight_sparsity",
            "activation_sparsity")
    return {
        "sweep": sweep, "chart": f"{stem}.png" if found else None, "markdown": f"{stem}.md",
        "data_sources": sorted({row.data_source for row in rows}),
        "baseline": {k: baseline[k] for k in keep} if baseline else None,
        "families": [{"family": f.name, "sparsity": f.sparsity,
                      "points": [{k: p[k] for k in keep} for p in f.points],
                      "best": f.best["point"], "sparsest_within_1pt": f.sparsest_close["point"]}
                     for f in found],
    }
