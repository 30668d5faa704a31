"""The corruption report: accuracy under each corruption and the corruption error relative to the
baseline (Hendrycks & Dietterich, 2019: CE = error under c / the baseline's error under c;
mCE = their mean), as ``reports/robustness.md`` and ``robustness.json``.

Where a variant was trained with several seeds (a repeat group), its figures are means over
them, with mean +- sd over seeds of ECE, NLL, the train/test gap, the corrupted accuracy and
the mCE; every CE is relative to the baseline's error averaged over the baseline's seeds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from analysis.results import ResultRow
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.chance import is_collapsed
from regserve_contracts.labels import NUM_CLASSES
from regserve_contracts.seeds import group_members, over_seeds, spread

ROBUSTNESS_MD = "robustness.md"
ROBUSTNESS_JSON = "robustness.json"
#: The variant every corruption error is relative to.
BASELINE = "none"


def baseline_row(rows: list[ResultRow], baseline: str = BASELINE) -> ResultRow | None:
    """The baseline's row (by name, else the first unpenalized one) if it has corruptions."""
    named = [row for row in rows if row.variant == baseline]
    found = named or [row for row in rows if row.penalty == "none"]
    return found[0] if found and found[0].corruptions else None


#: Per variant, its repeat group's exports: (version folder, metadata), newest first.
Groups = Mapping[str, Sequence[tuple[Path, Mapping[str, Any]]]]


def seed_groups(models_dir: Path) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """Every variant's repeat group on disk (one member where it was trained once)."""
    return {folder.name: group_members(folder) for folder in layout.variant_dirs(Path(models_dir))}


def corruption_accuracies(members: Sequence[tuple[Path, Mapping[str, Any]]]) -> list[dict]:
    """Each member's accuracy per corruption (members without the block left out)."""
    found = []
    for _, metadata in members:
        scores = md.Metadata(metadata).block(md.ROBUSTNESS).get("corruptions")
        if isinstance(scores, Mapping) and scores:
            found.append({name: float(value) for name, value in scores.items()})
    return found


def mean_accuracies(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """The mean over seeds of each corruption's accuracy (corruptions every seed has)."""
    names = [name for name in per_seed[0] if all(name in seed for seed in per_seed)]
    return {name: sum(seed[name] for seed in per_seed) / len(per_seed) for name in names}


def errors_against(accuracies: Mapping[str, float], base: Mapping[str, float]) -> dict[str, float]:
    """CE per corruption both have; NaN where the baseline makes no error (0 / 0)."""
    errors = {}
    for name, accuracy in accuracies.items():
        if name in base:
            base_error = 1.0 - base[name]
            errors[name] = (1.0 - accuracy) / base_error if base_error > 0 else math.nan
    return errors


def corruption_errors(row: ResultRow, base: ResultRow) -> dict[str, float]:
    """CE per corruption both rows have; NaN where the baseline makes no error (0 / 0)."""
    return errors_against(row.corruptions, base.corruptions)


def mean_corruption_error(errors: dict[str, float]) -> float:
    """The mean of the finite corruption errors (NaN if there is none)."""
    finite = [value for value in errors.values() if math.isfinite(value)]
    return sum(finite) / len(finite) if finite else math.nan


def mce_by_variant(rows: list[ResultRow], baseline: str = BASELINE) -> dict[str, float]:
    """Each variant's mCE relative to the baseline (NaN without a baseline or corruptions)."""
    base = baseline_row(rows, baseline)
    return {row.variant: (mean_corruption_error(corruption_errors(row, base))
                          if base and row.corruptions else math.nan) for row in rows}


def robustness_data(rows: list[ResultRow], baseline: str = BASELINE,
                    groups: Groups | None = None) -> dict:
    """The report as JSON-ready data (NaN becomes None); ``groups`` (:func:`seed_groups`)
    turns each variant's figures into means over its seeds."""
    base = baseline_row(rows, baseline)
    names = list(dict.fromkeys(name for row in rows for name in row.corruptions))
    groups = groups or {}

    def clean(value: float) -> float | None:
        return value if math.isfinite(value) else None

    def per_seed(row: ResultRow) -> list[dict[str, float]]:
        return corruption_accuracies(groups.get(row.variant, ())) or [row.corruptions]

    base_accuracy = mean_accuracies(per_seed(base)) if base else {}
    variants = []
    for row in rows:
        seeds = per_seed(row) if row.corruptions else []
        accuracy = mean_accuracies(seeds) if seeds else {}
        errors = errors_against(accuracy, base_accuracy) if base else {}
        members = groups.get(row.variant, ())
        spreads = over_seeds(members)
        if spreads is not None and base:
            spreads["mce"] = spread([mean_corruption_error(errors_against(seed, base_accuracy))
                                     for seed in seeds])
        clean_accuracy = [md.Metadata(m).test_accuracy for _, m in members] or [row.test_accuracy]
        variants.append({
            "variant": row.variant,
            "test_accuracy": clean(sum(clean_accuracy) / len(clean_accuracy)),
            "accuracy": accuracy,
            "mean_accuracy": clean(sum(accuracy.values()) / len(accuracy)) if accuracy else None,
            "ce": {name: clean(value) for name, value in errors.items()},
            "mce": clean(mean_corruption_error(errors)) if errors else None,
            "images": row.corruption_images, "seeds": max(1, len(seeds)),
            "over_seeds": spreads, "collapsed": collapsed(row, members),
        })
    return {"baseline": base.variant if base else None, "corruptions": names,
            "baseline_seeds": len(per_seed(base)) if base else 0,
            "definition": "CE = error under c / baseline's error under c (averaged over the "
                          "baseline's seeds); mCE = mean CE; with seeds, accuracies are means "
                          "over them",
            "variants": variants}


def collapsed(row: ResultRow, members: Sequence[tuple[Path, Mapping[str, Any]]]) -> bool | None:
    """Whether the variant's newest export is at chance (``None`` when it cannot be said)."""
    if not members:
        return None
    data = md.Metadata(members[0][1]).data
    return is_collapsed(row.test_accuracy, data.get("test_size"), NUM_CLASSES)


def _name(v: dict) -> str:
    return f"`{v['variant']}`" + (" (collapsed)" if v.get("collapsed") else "")


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
    if any(v.get("collapsed") for v in data["variants"]):
        lines[-4:-4] = ["Variants marked collapsed answer at chance: whatever a corruption does, "
                        "they read it as badly, so their CE says nothing about robustness.", ""]
    for v in data["variants"]:
        lines.append(f"| {_name(v)} | {_cell(v['test_accuracy'])} | "
                     f"{_cell(v['mean_accuracy'])} | "
                     + " | ".join(_cell(v["accuracy"].get(n)) for n in names) + " |")
    lines += ["", f"## Corruption error relative to `{data['baseline']}` (CE, %)", "",
              "Error under a corruption divided by the baseline's error under it: below 100 "
              "is more robust than the baseline; mCE is the mean over corruptions.", "",
              "| variant | mCE | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 2)]
    for v in data["variants"]:
        lines.append(f"| {_name(v)} | {_cell(v['mce'], digits=0)} | "
                     + " | ".join(_cell(v["ce"].get(n), digits=0) for n in names) + " |")
    return "\n".join(lines + seeds_table(data)) + "\n"


def seeds_table(data: dict) -> list[str]:
    """Mean +- sd over seeds of each beyond-accuracy figure, for variants trained more than
    once (none: no table); the sd is training's own spread on the same test images."""
    spread_rows = [v for v in data["variants"] if v.get("over_seeds")]
    if not spread_rows:
        return []

    def pm(figure: dict | None, scale: float = 100.0, digits: int = 1) -> str:
        if not figure:
            return "–"
        return f"{scale * figure['mean']:.{digits}f} ± {scale * figure['sd']:.{digits}f}"

    lines = ["", "## Over seeds (mean ± sd)", "",
             "Each variant trained with several seeds: the mean and the sample standard "
             "deviation over its seeds, all measured on the same test images, so the sd is how "
             "much training itself moves each figure. Two variants whose ranges overlap are not "
             f"told apart by these seeds. The baseline's errors are averaged over its "
             f"{data['baseline_seeds']} seed(s).", "",
             "| variant | seeds | ECE (%) | NLL | train - test (points) | corrupted acc (%) "
             "| mCE (%) |", "|---|---|---|---|---|---|---|"]
    for v in spread_rows:
        s = v["over_seeds"]
        lines.append(f"| {_name(v)} | {s['seeds']} | {pm(s['ece'], digits=2)} | "
                     f"{pm(s['nll'], 1.0, 3)} | {pm(s['gap'])} | "
                     f"{pm(s['corrupted_accuracy'])} | {pm(s.get('mce'), digits=0)} |")
    return lines


def write_robustness_report(rows: list[ResultRow], reports_dir: Path, sources: list[str],
                            groups: Groups | None = None) -> list[Path]:
    """Write both files when some variant has corruption accuracies; return what was written."""
    targets = [reports_dir / ROBUSTNESS_MD, reports_dir / ROBUSTNESS_JSON]
    if not any(row.corruptions for row in rows):
        for stale in targets:  # an older report would describe models no longer on disk
            stale.unlink(missing_ok=True)
        return []
    data = robustness_data(rows, groups=groups)
    markdown = robustness_markdown(data, sources).encode()
    document = json.dumps(data, indent=1).encode()
    layout.write_atomic(targets[0], lambda handle: handle.write(markdown))
    layout.write_atomic(targets[1], lambda handle: handle.write(document))
    return targets
