"""The comparison document (``comparison.json``): each recipe against the baseline, seed by seed.

Built from :mod:`analysis.comparison.models`' entries with :mod:`analysis.stats`; its keys and
verdict words come from :mod:`regserve_contracts.comparison`, and everything a report, the
server or a person needs is in the returned dict, rule and method included.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from analysis import stats
from analysis.comparison.models import Entry, collect_entries, matched, missing
from analysis.comparison.pairs import compare, decide
from regserve_contracts import comparison as contract

METHOD = ("paired t over matched seed pairs (Student's t, k - 1 degrees of freedom) whose "
          "variance adds the test-image term; Holm over the comparisons with the baseline; "
          "TOST (Schuirmann 1987) for equivalence")
RULE = (
    "The unit is the seed: seed pairs match equal seeds (else the i-th seed of each), and the k "
    "pairs give k accuracy differences on one test set. The difference's variance is the "
    "between-seed variance of those k differences over k plus the variance of the per-image "
    "differences (averaged over the pairs) over the {size} test images; its 95% interval and "
    "test use Student's t with k - 1 degrees of freedom (after Nadeau & Bengio 2003 and "
    "Bouthillier et al. 2021: training randomness and test images both count). 'better' or "
    "'worse': the test's p, Holm-adjusted over {family}, is below {alpha}. 'equivalent': "
    "otherwise, TOST (Schuirmann 1987) within ±{margin:.1f} points, Holm-adjusted over the same "
    "family, is below {alpha}. 'inconclusive': neither; the smallest difference the seeds could "
    "see is the one the test would find 80% of the time at {alpha} over the family's size. "
    "'needs seeds': fewer than {min_seeds} seed pairs. The table between the other variants is "
    "a Holm family of its own. McNemar's exact test is about two trained models, never about "
    "their recipes. One test set: a verdict says nothing about other data."
)


def build_comparison(models_dir: Path, baseline: str = "none",
                     margin: float = contract.DEFAULT_MARGIN) -> dict[str, Any]:
    """The comparison document of the models under ``models_dir`` against ``baseline``;
    ``margin`` (a share: 0.01 is one point) bounds ``equivalent``."""
    entries, left_out = collect_entries(models_dir)
    return comparison_document(entries, left_out, baseline, margin)


def comparison_document(entries: list[Entry], left_out: list[dict], baseline: str,
                        margin: float = contract.DEFAULT_MARGIN) -> dict[str, Any]:
    """Pair the entries that share the reference test set; say why the others are missing."""
    if not 0 < margin < 1:
        raise ValueError(f"the equivalence margin is a share between 0 and 1, got {margin}")
    reference = _reference(entries, baseline)
    paired = [entry for entry in entries if entry.fingerprint == reference]
    left_out = list(left_out)
    for entry in entries:
        if entry.fingerprint != reference:
            left_out.append(missing(entry.name, entry.key, (
                f"answered another test set ({entry.size} images, fingerprint "
                f"{entry.fingerprint[:12]}, data {entry.data_source}) than this report's "
                f"({paired[0].size} images, fingerprint {reference[:12]}); never paired")))
    base = next((entry for entry in paired if entry.name == baseline), None)
    if base is None and baseline not in {item["variant"] for item in left_out}:
        left_out.append(missing(baseline, None, "the baseline is not on disk; train it or pass "
                                "--baseline NAME"))
    others = [entry for entry in paired if entry.name != baseline]
    comparisons = [compare(entry, base, margin) for entry in others] if base else []
    family = decide(comparisons, margin)
    pairs = [compare(a, b, margin) for a, b in itertools.combinations(others, 2)]
    decide(pairs, margin)
    size = paired[0].size if paired else None
    rows = {entry.name: _row(entry, baseline, comparisons) for entry in paired}
    names = [entry.name for entry in paired]
    return {
        contract.SCHEMA: contract.SCHEMA_VERSION,
        contract.BASELINE_KEY: baseline,
        "method": METHOD,
        "alpha": contract.ALPHA, "margin": margin, "min_seeds": contract.MIN_SEEDS,
        "test_set": {"fingerprint": reference, "size": size,
                     "data_source": paired[0].data_source if paired else None},
        "rule": RULE.format(size=size, family=_family_words(family), min_seeds=contract.MIN_SEEDS,
                            alpha=contract.ALPHA, margin=100 * margin),
        "nothing_to_compare": _nothing_to_compare(names) if not comparisons + pairs else None,
        contract.VARIANTS: rows,
        contract.COMPARISONS: comparisons,
        contract.OTHER_PAIRS: pairs,
        "cochran_q": _cochran(paired),
        "missing": left_out,
    }


def _family_words(size: int) -> str:
    what = f"with the baseline that have at least {contract.MIN_SEEDS} seed pairs"
    if not size:
        return f"the comparisons {what} (none yet)"
    return f"the {size} comparison{'' if size == 1 else 's'} {what}"


def _nothing_to_compare(names: list[str]) -> str:
    """Why a report holds no comparison at all: one variant on this test set, or none."""
    if not names:
        return "Nothing to compare: no model with test-set predictions on this test set."
    return (f"Nothing to compare: only {names[0]} answered this test set; train another "
            f"variant with the same --data and --seeds to compare it with {names[0]}.")


def _reference(entries: list[Entry], baseline: str) -> str | None:
    """The test set of the report: the baseline's, else the one most models answered (the
    first such in the report's order on a tie)."""
    for entry in entries:
        if entry.name == baseline:
            return entry.fingerprint
    counts = Counter(entry.fingerprint for entry in entries)
    return counts.most_common(1)[0][0] if counts else None


def label(entry: Entry) -> str:
    """``none@3`` for one model; ``none (3 seeds: v1, v2, v3)`` for a mean over seeds."""
    if len(entry.models) == 1:
        return entry.key
    versions = ", ".join(f"v{model.version}" for model in entry.models)
    return f"{entry.name} ({contract.seeds_word(len(entry.models))}: {versions})"


def _row(entry: Entry, baseline: str, comparisons: list[dict]) -> dict[str, Any]:
    accuracies = [model.predictions.accuracy for model in entry.models]
    mean, sd = stats.mean_sd(accuracies)
    row = {
        "model": entry.key,
        "label": label(entry),
        "versions": [model.version for model in entry.models],
        "accuracy": mean,
        "ci95": list(stats.wilson_interval(mean * entry.size, entry.size)),
        "sd": sd,
        "seeds": len(entry.models),
        "seed_accuracies": accuracies,
        "seed_values": [model.seed for model in entry.models],
        "group": entry.group,
        contract.VERDICT: contract.BASELINE if entry.name == baseline else None,
    }
    row[contract.VERDICT_TEXT] = contract.verdict_text(row[contract.VERDICT], baseline)
    for item in comparisons:
        if item["a"] == entry.name:
            row.update({key: item[key] for key in (
                contract.VERDICT, contract.VERDICT_TEXT, contract.MODELS_TEXT, "diff",
                "diff_ci95", "p_holm", "p_equivalence_holm", "mde")})
            row["seed_pairs"] = len(item["seed_pairs"])
    return row


def _cochran(entries: list[Entry]) -> dict[str, Any] | None:
    """Cochran's Q over every variant's trained models, once per matched seed."""
    if len(entries) < 2:
        return None
    per_seed = []
    for models in matched(entries):
        q, p = stats.cochran_q(np.stack([model.predictions.correct for model in models]))
        per_seed.append({"seeds": [model.seed for model in models], "q": q, "p": p})
    return {**per_seed[0], "df": len(entries) - 1, "k": len(entries), "per_seed": per_seed}
