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
from regserve_contracts import sweep as contract
from regserve_contracts.chance import is_collapsed
from regserve_contracts.labels import NUM_CLASSES
from regserve_contracts.repeats import read_repeat
from regserve_contracts.variants import Variant, family

#: Two scores closer than this are a tie (float noise, not a difference).
TIE = 1e-9
#: From this many seeds on, the standard error is the one over seeds; below it, the binomial
#: one of a single split (two seeds give an sd that is itself too noisy to set a threshold).
MIN_SEEDS_FOR_SE = 3
#: The chart's panels: accuracy (validation and test, mean +- SE) and the two sparsities.
METRICS = (("accuracy", "accuracy, mean +- 1 SE"),
           ("weight_sparsity", "weights |w| < 1e-3"),
           ("activation_sparsity", "zero activations (test set)"))
#: How the report states the rule it picks by.
RULE = ("`best`: the highest mean validation accuracy (ties to the larger lambda). `one_se`: the "
        "largest lambda whose mean validation accuracy is within one standard error of the "
        "best's, i.e. the most regularized model not measurably worse (glmnet's lambda.1se). "
        f"Standard error: with {MIN_SEEDS_FOR_SE} seeds or more, the sample standard deviation "
        "over seeds / sqrt(seeds); with fewer, the binomial sqrt(p(1-p)/n) of the mean "
        "validation accuracy p on the n validation images of one split. Only validation "
        "accuracy picks: test accuracy is shown beside it and never picks. Without validation "
        "images (--validation-split 0) the family picks nothing and says why; points at chance "
        "(collapsed) are never picked.")
#: Why a family without validation images picks nothing.
NO_VALIDATION = ("no pick: {points} held out no validation images (--validation-split 0), and "
                 "a lambda is picked on validation accuracy only, never on test accuracy; train "
                 "the sweep again with a validation split (e.g. 0.2)")
#: Why a family whose every point is at chance picks nothing.
ALL_COLLAPSED = ("no pick: every point answers at chance (collapsed), so no lambda is better "
                 "than another; try smaller lambdas")


@dataclass(frozen=True)
class Family:
    """One penalty x place across its lambdas (points aggregated over seeds) and its picks, or
    the reason it makes none (``refusal``; ``best`` and ``one_se`` are then ``None``)."""

    name: str
    sparsity: str  # the sparsity this family is about: weight_sparsity or activation_sparsity
    points: tuple[dict[str, Any], ...]  # ascending lambda, see :func:`aggregate`
    best: dict[str, Any] | None
    one_se: dict[str, Any] | None
    refusal: str | None = None

    @property
    def se_source(self) -> str | None:
        """Where the one-SE threshold's standard error came from (the best point's)."""
        return self.best["se_source"] if self.best else None


def summarise(version_dir: Path, metadata: dict[str, Any], reused: bool) -> dict[str, Any]:
    """The numbers a sweep reports for a point, from its exported metadata."""
    variant = Variant.from_dict(metadata[md.VARIANT])
    history = metadata.get(md.HISTORY, {})
    activations = list(metadata.get(md.ACTIVATION_SPARSITY_TEST, {}).values())
    sweep = metadata.get(md.SWEEP, {})
    repeat = read_repeat(metadata)
    return {
        "point": variant.name, "family": family(variant), "penalty": variant.penalty,
        "where": variant.where, "lam": variant.lam, "version_dir": str(version_dir),
        "test_accuracy": float(metadata[md.TEST]["accuracy"]),
        "val_accuracy": float((history.get("val_accuracy") or [float("nan")])[-1]),
        "weight_sparsity": float(metadata[md.WEIGHT_SPARSITY][md.SPARSITY_ALL][SPARSITY_KEY]),
        "activation_sparsity": sum(activations) / len(activations) if activations else 0.0,
        "training_seconds": float(metadata.get(md.TRAINING_SECONDS, 0.0)),
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
    """SE of the mean of ``values``: sd / sqrt(k) over k >= :data:`MIN_SEEDS_FOR_SE` seeds;
    with fewer, the binomial sqrt(p (1 - p) / samples) of their mean p (NaN without samples)."""
    if len(values) >= MIN_SEEDS_FOR_SE:
        return statistics.stdev(values) / math.sqrt(len(values))
    p = statistics.fmean(values)
    return math.sqrt(p * (1 - p) / samples) if samples > 0 and math.isfinite(p) else math.nan


def se_source(seeds: int) -> str:
    """Which standard error :func:`standard_error` gives for this many seeds."""
    return contract.SE_SEEDS if seeds >= MIN_SEEDS_FOR_SE else contract.SE_BINOMIAL


def aggregate(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per point: means over its seeds, the standard errors of the accuracies and
    whether the point is at chance (its mean test accuracy on one training's test set)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault(run["point"], []).append(run)
    points = []
    for members in grouped.values():
        members.sort(key=lambda run: run["seed"])
        first = members[0]
        val = [run["val_accuracy"] for run in members]
        validated = all(math.isfinite(v) for v in val) and first["val_samples"] > 0
        test = [run["test_accuracy"] for run in members]
        points.append({
            **{key: first[key] for key in ("point", "family", "penalty", "where", "lam")},
            "seeds": [run["seed"] for run in members],
            "versions": [int(Path(run["version_dir"]).name) for run in members],
            "val_accuracy": statistics.fmean(val) if validated else math.nan,
            "val_se": standard_error(val, first["val_samples"]) if validated else math.nan,
            "test_accuracy": statistics.fmean(test),
            "test_se": standard_error(test, first["test_samples"]),
            "se_source": se_source(len(members)),
            "collapsed": bool(is_collapsed(statistics.fmean(test), first["test_samples"],
                                           NUM_CLASSES)),
            "val_per_seed": val, "test_per_seed": test,
            **{key: statistics.fmean(run[key] for run in members)
               for key in ("weight_sparsity", "activation_sparsity", "training_seconds")},
            "nodes": sorted({run["node"] for run in members if run["node"]}),
        })
    return points


def score(point: dict[str, Any]) -> tuple[float, float]:
    """What picks: mean validation accuracy and its SE (NaN where none was held out)."""
    return point["val_accuracy"], point["val_se"]


def refusal(points: list[dict[str, Any]]) -> str | None:
    """Why these points allow no pick, or ``None`` when they do."""
    unvalidated = [p["point"] for p in points if not math.isfinite(score(p)[0])]
    if unvalidated:
        return NO_VALIDATION.format(points=", ".join(f"`{name}`" for name in unvalidated))
    if all(p.get("collapsed") for p in points):
        return ALL_COLLAPSED
    return None


def pick(points: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``best`` (highest mean validation accuracy, ties to the larger lambda) and ``one_se``
    (the largest lambda whose mean is at least the best's minus the best's standard error),
    both among the points not at chance. Call only where :func:`refusal` is ``None``."""
    eligible = [p for p in points if not p.get("collapsed")]
    top = max(score(p)[0] for p in eligible)
    best = max((p for p in eligible if score(p)[0] >= top - TIE), key=lambda p: p["lam"])
    mean, se = score(best)
    floor = mean - (se if math.isfinite(se) else 0.0) - TIE
    one_se = max((p for p in eligible if score(p)[0] >= floor), key=lambda p: p["lam"])
    return best, one_se


def families(points: list[dict[str, Any]]) -> list[Family]:
    """Group the penalized points by family and make the two picks for each (or refuse)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        if point["penalty"] != "none":
            grouped.setdefault(point["family"], []).append(point)
    found = []
    for name, members in sorted(grouped.items()):
        members.sort(key=lambda p: p["lam"])
        kind = "activation_sparsity" if members[0]["where"] == "activity" else "weight_sparsity"
        why = refusal(members)
        picks = (None, None) if why else pick(members)
        found.append(Family(name, kind, tuple(members), *picks, refusal=why))
    return found


def se_note(fam: Family) -> str | None:
    """Where the one-SE threshold's standard error comes from, in one sentence."""
    if fam.best is None:
        return None
    seeds = len(fam.best["seeds"])
    if fam.se_source == contract.SE_SEEDS:
        return f"The one-SE threshold uses the standard error over {seeds} seeds."
    return (f"The one-SE threshold rests on the binomial standard error of one validation split "
            f"({seeds} seed{'s' if seeds > 1 else ''}: fewer than {MIN_SEEDS_FOR_SE}, too few "
            "to measure how much training itself varies).")


def pick_summary(point: dict[str, Any], sparsity: str) -> dict[str, Any]:
    """A pick as ``sweep_<name>.json`` stores it: its lambda, validation and test figures."""
    return {"lambda": point["lam"], "point": point["point"], "seeds": len(point["seeds"]),
            "val_accuracy": point["val_accuracy"], "val_se": point["val_se"],
            "test_accuracy": point["test_accuracy"], "test_se": point["test_se"],
            "sparsity": point[sparsity], "se_source": point["se_source"]}
