"""A sweep's numbers: its trainings read back from disk, mean +- standard error per point, and
the two picks per family, ``best`` and ``one_se`` (glmnet's lambda.min and lambda.1se).

Shared by the sweep report (tables, JSON) and its chart, as analysis/results.py is by the
regular reports and plots.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.results import SPARSITY_KEY, ResultRow
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.repeats import read_repeat
from regserve_contracts.variants import Variant, family

#: Two scores closer than this are a tie (float noise, not a difference).
TIE = 1e-9
#: The chart's panels: accuracy (validation and test, mean +- SE) and the two sparsities.
METRICS = (("accuracy", "accuracy, mean +- 1 SE"),
           ("weight_sparsity", "weights |w| < 1e-3"),
           ("activation_sparsity", "zero activations (test set)"))
#: How the report states the rule it picks by.
RULE = ("`best`: the highest mean validation accuracy (ties to the larger lambda). `one_se`: the "
        "largest lambda whose mean validation accuracy is within one standard error of the "
        "best's, i.e. the most regularized model not measurably worse (glmnet's lambda.1se). "
        "Standard error: the sample standard deviation over seeds / sqrt(seeds); with one seed, "
        "the binomial sqrt(p(1-p)/n) of the validation accuracy p on n validation images. "
        "Only validation accuracy picks; test accuracy is shown beside it (it picks only where "
        "no validation images were held out, --validation-split 0).")


@dataclass(frozen=True)
class Family:
    """One penalty x place across its lambdas (points aggregated over seeds) and its picks."""

    name: str
    sparsity: str  # the sparsity this family is about: weight_sparsity or activation_sparsity
    points: tuple[dict[str, Any], ...]  # ascending lambda, see :func:`aggregate`
    best: dict[str, Any]
    one_se: dict[str, Any]


def summarise(version_dir: Path, metadata: dict[str, Any], reused: bool) -> dict[str, Any]:
    """The numbers a sweep reports for a point, from its exported metadata."""
    variant = Variant.from_dict(metadata["variant"])
    history = metadata.get("history", {})
    activations = list(metadata.get("activation_sparsity_test", {}).values())
    sweep = metadata.get(md.SWEEP, {})
    repeat = read_repeat(metadata)
    return {
        "point": variant.name, "family": family(variant), "penalty": variant.penalty,
        "where": variant.where, "lam": variant.lam, "version_dir": str(version_dir),
        "test_accuracy": float(metadata["test"]["accuracy"]),
        "val_accuracy": float((history.get("val_accuracy") or [float("nan")])[-1]),
        "weight_sparsity": float(metadata["weight_sparsity"]["all"][SPARSITY_KEY]),
        "activation_sparsity": sum(activations) / len(activations) if activations else 0.0,
        "training_seconds": float(metadata.get("training_seconds", 0.0)),
        "node": sweep.get("node", ""), "pid": sweep.get("pid", 0),
        "started": sweep.get("started", 0.0), "finished": sweep.get("finished", 0.0),
        "reused": reused,
        "seed": int(metadata.get(md.TRAINING, {}).get("seed", 0)),
        "group": repeat.group if repeat else None,
        "index": repeat.index if repeat else 1, "of": repeat.of if repeat else 1,
    }


def collect(models_dir: Path, sweep: str) -> tuple[list[dict[str, Any]], list[ResultRow]]:
    """Every training this sweep exported: per point and seed its newest version, with rows."""
    runs, rows = [], []
    for variant_dir in layout.variant_dirs(Path(models_dir)):
        seen: set[int] = set()
        for version in reversed(layout.versions(variant_dir)):
            version_dir = variant_dir / str(version)
            try:
                metadata = layout.read_metadata(version_dir)
                if metadata.get(md.SWEEP, {}).get("name") != sweep:
                    continue
                run = summarise(version_dir, metadata, reused=True)
                if run["seed"] in seen:
                    continue  # the same seed trained again: its newest version counts
                seen.add(run["seed"])
                run["val_samples"] = int(metadata.get(md.TRAINING, {}).get("validation_samples", 0))
                run["test_samples"] = int(metadata.get(md.DATA, {}).get("test_size", 0))
                runs.append(run)
                rows.append(ResultRow.from_metadata(version_dir, metadata))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # unreadable metadata: the regular reports list those
    return runs, rows


def standard_error(values: list[float], samples: int) -> float:
    """SE of the mean of ``values``: sd / sqrt(k) over k >= 2 seeds; for one accuracy p, the
    binomial sqrt(p (1 - p) / samples) (NaN without samples)."""
    if len(values) >= 2:
        return statistics.stdev(values) / math.sqrt(len(values))
    p = values[0]
    return math.sqrt(p * (1 - p) / samples) if samples > 0 and math.isfinite(p) else math.nan


def aggregate(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per point: means over its seeds and the standard errors of the accuracies."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault(run["point"], []).append(run)
    points = []
    for members in grouped.values():
        members.sort(key=lambda run: run["seed"])
        first = members[0]
        val = [run["val_accuracy"] for run in members]
        validated = all(math.isfinite(v) for v in val)
        test = [run["test_accuracy"] for run in members]
        points.append({
            **{key: first[key] for key in ("point", "family", "penalty", "where", "lam")},
            "seeds": [run["seed"] for run in members],
            "versions": [int(Path(run["version_dir"]).name) for run in members],
            "val_accuracy": statistics.fmean(val) if validated else math.nan,
            "val_se": standard_error(val, first["val_samples"]) if validated else math.nan,
            "test_accuracy": statistics.fmean(test),
            "test_se": standard_error(test, first["test_samples"]),
            "val_per_seed": val, "test_per_seed": test,
            **{key: statistics.fmean(run[key] for run in members)
               for key in ("weight_sparsity", "activation_sparsity", "training_seconds")},
            "nodes": sorted({run["node"] for run in members if run["node"]}),
        })
    return points


def score(point: dict[str, Any]) -> tuple[float, float]:
    """What picks: mean validation accuracy and its SE (test accuracy where none was held out)."""
    if math.isfinite(point["val_accuracy"]):
        return point["val_accuracy"], point["val_se"]
    return point["test_accuracy"], point["test_se"]


def pick(points: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``best`` (highest mean score, ties to the larger lambda) and ``one_se`` (the largest
    lambda whose mean score is at least the best's minus the best's standard error)."""
    top = max(score(p)[0] for p in points)
    best = max((p for p in points if score(p)[0] >= top - TIE), key=lambda p: p["lam"])
    mean, se = score(best)
    floor = mean - (se if math.isfinite(se) else 0.0) - TIE
    one_se = max((p for p in points if score(p)[0] >= floor), key=lambda p: p["lam"])
    return best, one_se


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
        found.append(Family(name, kind, tuple(members), *pick(members)))
    return found


def pick_summary(point: dict[str, Any], sparsity: str) -> dict[str, Any]:
    """A pick as ``sweep_<name>.json`` stores it: its lambda, validation and test figures."""
    return {"lambda": point["lam"], "point": point["point"], "seeds": len(point["seeds"]),
            "val_accuracy": point["val_accuracy"], "val_se": point["val_se"],
            "test_accuracy": point["test_accuracy"], "test_se": point["test_se"],
            "sparsity": point[sparsity]}
