"""The comparison document (``comparison.json``): intervals, paired tests and a verdict per pair.

Built from :mod:`trainer.comparison.models`' entries with :mod:`trainer.stats`; everything a
report, the server or a person needs is in the returned dict, rule included.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from trainer import stats
from trainer.comparison.models import Entry, collect_entries, missing

#: Significance level of a verdict, after Holm's adjustment over every pair of the report.
ALPHA = 0.05
BOOTSTRAP_SEED = 0
BASELINE_VERDICT = "baseline"
RULE = (
    "A pair's verdict is 'better' (A more accurate than B) or 'worse' when its exact McNemar "
    "p-value, Holm-adjusted over all {pairs} pairs of this report, is below {alpha} and, where "
    "both were trained with several seeds, every seed pair's accuracy difference has the same "
    "sign; otherwise 'no detectable difference'. Seeds are paired by repeat index and their "
    "discordant counts summed before the test. A variant's accuracy is the mean over its seeds; "
    "its 95% interval is Wilson's for that mean over the {size} test images (test-set sampling "
    "only: the spread over seeds is given as sd). diff_ci95 is a paired bootstrap over the test "
    "images ({resamples} resamples, seed {seed}). One test set: a verdict says nothing about "
    "other data, and about training randomness only through the seeds."
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
    pairs, unpairable = [p for p in pairs if "reason" not in p], [p for p in pairs if "reason" in p]
    left_out += [missing(p["a"].split("@")[0], p["a"], f"cannot pair with {p['b']}: "
                         f"{p['reason']}") for p in unpairable]
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


def _pair(a: Entry, b: Entry) -> dict[str, Any]:
    """Seed pairs matched by repeat index, their tables summed; the bootstrap over images."""
    first, second = a.by_index(), b.by_index()
    common = sorted(set(first) & set(second))
    if not common:
        return {"a": a.key, "b": b.key, "reason": "no repeat index in common"}
    tables = [stats.pair_table(first[i].predictions.correct, second[i].predictions.correct)
              for i in common]
    total = tables[0]
    for table in tables[1:]:
        total = total + table
    differences = stats.paired_differences(
        np.stack([first[i].predictions.correct for i in common]),
        np.stack([second[i].predictions.correct for i in common]))
    seed_diffs = [table.diff for table in tables]
    return {
        "a": a.key, "b": b.key,
        "both_right": total.both_right, "only_a": total.only_a, "only_b": total.only_b,
        "both_wrong": total.both_wrong,
        "p_mcnemar": stats.mcnemar_exact(total.only_a, total.only_b),
        "p_holm": None,
        "diff": float(np.mean(seed_diffs)),
        "diff_ci95": list(stats.bootstrap_mean_interval(differences, seed=BOOTSTRAP_SEED)),
        "seed_pairs": [{"index": i, "a": f"{a.name}@{first[i].version}",
                        "b": f"{b.name}@{second[i].version}", "only_a": t.only_a,
                        "only_b": t.only_b, "diff": t.diff}
                       for i, t in zip(common, tables, strict=True)],
        "seed_diffs": seed_diffs,
        "verdict": None,
    }


def _cochran(entries: list[Entry]) -> dict[str, Any] | None:
    """Cochran's Q over every variant, once per repeat index they all have; the lowest first."""
    if len(entries) < 2:
        return None
    common = sorted(set.intersection(*(set(entry.by_index()) for entry in entries)))
    per_index = []
    for index in common:
        q, p = stats.cochran_q(np.stack([entry.by_index()[index].predictions.correct
                                         for entry in entries]))
        per_index.append({"index": index, "q": q, "p": p})
    if not per_index:
        return None
    return {**per_index[0], "df": len(entries) - 1, "k": len(entries), "per_index": per_index}
