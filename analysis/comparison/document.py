"""The comparison document (``comparison.json``): intervals, paired tests and a verdict per pair.

Built from :mod:`analysis.comparison.models`' entries with :mod:`analysis.stats`; everything a
report, the server or a person needs is in the returned dict, rule included.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from analysis import stats
from analysis.comparison.models import Entry, Model, collect_entries, missing

#: Significance level of a verdict, after Holm's adjustment over every pair of the report.
ALPHA = 0.05
BOOTSTRAP_SEED = 0
BASELINE_VERDICT = "baseline"
RULE = (
    "A pair's verdict is 'better' (A more accurate than B) or 'worse' when its exact McNemar "
    "p-value, Holm-adjusted over all {pairs} pairs of this report, is below {alpha} and, where "
    "both were trained with several seeds, every seed pair's accuracy difference has the same "
    "sign; otherwise 'no detectable difference'. Seed pairs match equal seeds (else the i-th "
    "seed of each) and their discordant counts are summed before the test. A variant's "
    "accuracy is the mean over its seeds; its 95% interval is Wilson's for that mean over the "
    "{size} test images (test-set sampling only: the spread over seeds is given as sd). "
    "diff_ci95 is a paired bootstrap over the test images ({resamples} resamples, seed {seed}; "
    "not adjusted for the number of pairs, so it may exclude 0 where the verdict does not). "
    "One test set: a verdict says nothing about other data, and about training randomness only "
    "through the seeds."
)


def build_comparison(models_dir: Path, baseline: str = "none") -> dict[str, Any]:
    """The comparison document of the models under ``models_dir`` against ``baseline``."""
    entries, left_out = collect_entries(models_dir)
    return comparison_document(entries, left_out, baseline)


def comparison_document(entries: list[Entry], left_out: list[dict],
                        baseline: str) -> dict[str, Any]:
    """Pair the entries that share the reference test set; say why the others are missing."""
    reference = _reference(entries, baseline)
    paired = [entry for entry in entries if entry.fingerprint == reference]
    left_out = list(left_out)
    for entry in entries:
        if entry.fingerprint != reference:
            left_out.append(missing(entry.name, entry.key, (
                f"answered another test set ({entry.size} images, fingerprint "
                f"{entry.fingerprint[:12]}, data {entry.data_source}) than this report's "
                f"({paired[0].size} images, fingerprint {reference[:12]}); never paired")))
    if baseline not in {entry.name for entry in paired} and baseline not in {
            item["variant"] for item in left_out}:
        left_out.append(missing(baseline, None, "the baseline is not on disk; train it or pass "
                                "--baseline NAME"))
    pairs = [_pair(*_oriented(a, b, baseline)) for a, b in itertools.combinations(paired, 2)]
    for pair, adjusted in zip(pairs, stats.holm([p["p_mcnemar"] for p in pairs]), strict=True):
        pair["p_holm"] = adjusted
        pair["verdict"] = stats.verdict(adjusted, pair["diff"], pair["seed_diffs"], ALPHA)
    size = paired[0].size if paired else None
    return {
        "baseline": baseline,
        "test_set": {"fingerprint": reference, "size": size,
                     "data_source": paired[0].data_source if paired else None},
        "rule": RULE.format(pairs=len(pairs), alpha=ALPHA, size=size,
                            resamples=stats.BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED),
        "alpha": ALPHA,
        "variants": {entry.name: _row(entry, baseline, pairs) for entry in paired},
        "pairs": pairs,
        "cochran_q": _cochran(paired),
        "missing": left_out,
    }


def _reference(entries: list[Entry], baseline: str) -> str | None:
    """The test set of the report: the baseline's, else the one most models answered."""
    for entry in entries:
        if entry.name == baseline:
            return entry.fingerprint
    counts = Counter(entry.fingerprint for entry in entries)
    return counts.most_common(1)[0][0] if counts else None


def _oriented(a: Entry, b: Entry, baseline: str) -> tuple[Entry, Entry]:
    """Pairs with the baseline read "variant vs baseline", so 'better' means better than it."""
    return (b, a) if a.name == baseline else (a, b)


def _row(entry: Entry, baseline: str, pairs: list[dict]) -> dict[str, Any]:
    accuracies = [model.predictions.accuracy for model in entry.models]
    mean, sd = stats.mean_sd(accuracies)
    row = {
        "model": entry.key,
        "versions": [model.version for model in entry.models],
        "accuracy": mean,
        "ci95": list(stats.wilson_interval(mean * entry.size, entry.size)),
        "sd": sd,
        "seeds": len(entry.models),
        "seed_accuracies": accuracies,
        "seed_values": [model.seed for model in entry.models],
        "group": entry.group,
        "verdict": None,
    }
    if entry.name == baseline:
        row["verdict"] = BASELINE_VERDICT
    for pair in pairs:
        if pair["a"] == entry.key and pair["b"].split("@")[0] == baseline:
            row.update(verdict=pair["verdict"], diff=pair["diff"], diff_ci95=pair["diff_ci95"],
                       p_holm=pair["p_holm"])
    return row


def matched(entries: list[Entry]) -> list[tuple[Model, ...]]:
    """The entries' models matched seed by seed: on the seeds they all have (trained with the
    same --seed and --seeds, the usual case), else the i-th seed of each with the i-th."""
    by_seed = [entry.by_seed() for entry in entries]
    common = sorted(set.intersection(*(set(seeds) for seeds in by_seed)) - {None})
    if common:
        return [tuple(seeds[seed] for seeds in by_seed) for seed in common]
    return list(zip(*(entry.models for entry in entries), strict=False))


def _pair(a: Entry, b: Entry) -> dict[str, Any]:
    """Seed pairs matched by :func:`matched`, their tables summed; the bootstrap over images."""
    pairs = matched([a, b])
    tables = [stats.pair_table(x.predictions.correct, y.predictions.correct) for x, y in pairs]
    total = tables[0]
    for table in tables[1:]:
        total = total + table
    differences = stats.paired_differences(np.stack([x.predictions.correct for x, _ in pairs]),
                                           np.stack([y.predictions.correct for _, y in pairs]))
    seed_diffs = [table.diff for table in tables]
    return {
        "a": a.key, "b": b.key,
        "both_right": total.both_right, "only_a": total.only_a, "only_b": total.only_b,
        "both_wrong": total.both_wrong,
        "p_mcnemar": stats.mcnemar_exact(total.only_a, total.only_b),
        "p_holm": None,
        "diff": float(np.mean(seed_diffs)),
        "diff_ci95": list(stats.bootstrap_mean_interval(differences, seed=BOOTSTRAP_SEED)),
        "seed_pairs": [{"a": f"{a.name}@{x.version}", "b": f"{b.name}@{y.version}",
                        "seeds": [x.seed, y.seed], "only_a": t.only_a, "only_b": t.only_b,
                        "diff": t.diff} for (x, y), t in zip(pairs, tables, strict=True)],
        "seed_diffs": seed_diffs,
        "verdict": None,
    }


def _cochran(entries: list[Entry]) -> dict[str, Any] | None:
    """Cochran's Q over every variant, once per matched seed; q and p are the first seed's."""
    if len(entries) < 2:
        return None
    per_seed = []
    for models in matched(entries):
        q, p = stats.cochran_q(np.stack([model.predictions.correct for model in models]))
        per_seed.append({"seeds": [model.seed for model in models], "q": q, "p": p})
    return {**per_seed[0], "df": len(entries) - 1, "k": len(entries), "per_seed": per_seed}
