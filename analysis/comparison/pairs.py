"""One recipe against another, seed pair by seed pair, and the verdicts of a Holm family of them."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis import stats
from analysis.comparison.models import Entry, matched
from regserve_contracts import comparison as contract


def compare(a: Entry, b: Entry, margin: float) -> dict[str, Any]:
    """Recipe ``a`` minus recipe ``b`` over their matched seed pairs; no verdict yet.

    Every seed pair keeps its own 2x2 counts and exact McNemar p: statements about those two
    trained models. The recipe difference needs at least two pairs.
    """
    models = matched([a, b])
    right_a = np.stack([x.predictions.correct for x, _ in models])
    right_b = np.stack([y.predictions.correct for _, y in models])
    seed_pairs = []
    for (x, y), row_a, row_b in zip(models, right_a, right_b, strict=True):
        table = stats.pair_table(row_a, row_b)
        seed_pairs.append({"a": f"{a.name}@{x.version}", "b": f"{b.name}@{y.version}",
                           "seeds": [x.seed, y.seed], "only_a": table.only_a,
                           "only_b": table.only_b, "diff": table.diff,
                           "p_mcnemar": stats.mcnemar_exact(table.only_a, table.only_b)})
    first = seed_pairs[0]
    item: dict[str, Any] = {
        "a": a.name, "b": b.name, "seed_pairs": seed_pairs,
        "diff": float(np.mean([pair["diff"] for pair in seed_pairs])),
        "diff_ci95": None, "se": None, "seed_sd": None, "image_se": None, "df": None,
        "p": None, "p_holm": None, "p_equivalence": None, "p_equivalence_holm": None,
        "mde": None, contract.VERDICT: None, contract.VERDICT_TEXT: None,
        contract.MODELS_TEXT: contract.models_text(first["a"], first["b"], first["only_a"],
                                                   first["only_b"], first["p_mcnemar"]),
    }
    if len(models) >= 2 and right_a.shape[1] >= 2:  # a spread over seeds and over images
        difference = stats.recipe_difference(right_a, right_b)
        item.update(diff=difference.diff, diff_ci95=list(difference.interval()),
                    se=difference.se, seed_sd=difference.seed_sd,
                    image_se=difference.image_se, df=difference.df, p=difference.p,
                    p_equivalence=difference.p_equivalence(margin))
    return item


def decide(items: list[dict[str, Any]], margin: float, alpha: float = contract.ALPHA) -> int:
    """Give each comparison of one family its verdict; return the family's size.

    The family is the comparisons with at least :data:`contract.MIN_SEEDS` seed pairs (the
    others are never tested): Holm over their p-values, and separately over their TOST
    p-values. The smallest difference seen is at the strictest Holm level, ``alpha / size``.
    """
    tested = [item for item in items if len(item["seed_pairs"]) >= contract.MIN_SEEDS]
    adjusted = stats.holm([item["p"] for item in tested])
    equivalence = stats.holm([item["p_equivalence"] for item in tested])
    for item, p_holm, p_equivalence_holm in zip(tested, adjusted, equivalence, strict=True):
        difference = stats.RecipeDifference(item["diff"], item["se"], item["df"],
                                            item["seed_sd"], item["image_se"])
        item.update(p_holm=p_holm, p_equivalence_holm=p_equivalence_holm,
                    mde=difference.mde(alpha / len(tested)))
    for item in items:
        count = len(item["seed_pairs"])
        item[contract.VERDICT] = stats.verdict(count, item["diff"], item["p_holm"],
                                               item["p_equivalence_holm"], alpha)
        item[contract.VERDICT_TEXT] = contract.verdict_text(
            item[contract.VERDICT], item["b"], seed_pairs=count, margin=margin, mde=item["mde"])
    return len(tested)
