"""The sweep report's picks: ``best`` by mean validation accuracy, ``one_se`` by glmnet's rule,
the standard errors they rest on, and the refusals (no validation images, every point at
chance), checked against computations typed here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.sweep.results import aggregate, families, pick, score, standard_error


def point(lam, val, se=0.01, weights=0.5, activations=0.5, where="kernel_bias", test=None,
          collapsed=False):
    return {"point": f"l1_{where}_{lam:g}", "family": f"l1_{where}", "penalty": "l1",
            "where": where, "lam": lam, "val_accuracy": val, "val_se": se,
            "test_accuracy": val - 0.01 if test is None else test, "test_se": se,
            "weight_sparsity": weights, "activation_sparsity": activations, "seeds": [0],
            "se_source": "binomial", "collapsed": collapsed}


def test_best_is_the_highest_mean_and_one_se_the_largest_lambda_within_one_se():
    """Best 0.850 +- 0.010: 0.842 (1e-4) is within, 0.839 (1e-3) is not, 0.845 (1e-2) is again;
    the largest lambda within wins, even past a dip (glmnet takes the largest, not the first)."""
    path = [point(1e-6, 0.830), point(1e-5, 0.850), point(1e-4, 0.842), point(1e-3, 0.839),
            point(1e-2, 0.845), point(1e-1, 0.300)]
    best, one_se = pick(path)
    assert best["lam"] == 1e-5 and one_se["lam"] == 1e-2
    assert one_se["lam"] >= best["lam"]


def test_a_smaller_lambda_that_wins_on_validation_is_best_even_where_a_larger_wins_on_test():
    """1e-5 leads on validation (0.86 against 0.80), 1e-3 on test (0.90 against 0.70): best
    is 1e-5, and one_se stays there (0.80 is more than one SE below 0.86)."""
    path = [point(1e-5, 0.86, test=0.70), point(1e-3, 0.80, test=0.90)]
    best, one_se = pick(path)
    assert best["point"] == one_se["point"] == "l1_kernel_bias_1e-05"


def test_a_larger_lambda_that_wins_on_validation_is_best_even_where_a_smaller_wins_on_test():
    path = [point(1e-5, 0.80, test=0.90), point(1e-3, 0.86, test=0.70)]
    assert pick(path)[0]["point"] == "l1_kernel_bias_0.001"


def test_one_se_takes_a_point_just_inside_the_threshold_and_not_one_just_outside():
    """Best 0.850 with SE 0.010: the threshold is 0.840."""
    inside = [point(1e-5, 0.850), point(1e-4, 0.8401), point(1e-3, 0.8399)]
    assert pick(inside)[1]["lam"] == 1e-4
    assert pick([point(1e-5, 0.850), point(1e-4, 0.8399)])[1]["lam"] == 1e-5


def test_one_se_is_never_a_smaller_lambda_than_best_on_any_path():
    rng = np.random.default_rng(7)
    for _ in range(200):
        lams = sorted(rng.choice([10.0 ** k for k in range(-7, 0)], size=4, replace=False))
        path = [point(lam, float(rng.uniform(0, 1)), float(rng.uniform(0, 0.1))) for lam in lams]
        best, one_se = pick(path)
        assert one_se["lam"] >= best["lam"]
        assert one_se["val_accuracy"] >= best["val_accuracy"] - best["val_se"] - 1e-9


def test_a_tie_for_best_goes_to_the_larger_lambda():
    best, _ = pick([point(1e-5, 0.85), point(1e-4, 0.85), point(1e-3, 0.5)])
    assert best["lam"] == 1e-4


def test_without_validation_images_the_family_refuses_to_pick_and_test_accuracy_never_picks():
    path = [{**point(1e-4, 0.8), "val_accuracy": math.nan, "val_se": math.nan},
            {**point(1e-3, 0.9), "val_accuracy": math.nan, "val_se": math.nan}]
    (family,) = families(path)
    assert family.best is None and family.one_se is None
    assert "no validation images" in family.refusal and "never on test accuracy" in family.refusal
    assert "`l1_kernel_bias_0.0001`" in family.refusal
    assert math.isnan(score(path[1])[0])  # what picks is validation accuracy alone


def test_one_point_without_validation_is_enough_to_refuse():
    path = [point(1e-4, 0.8), {**point(1e-3, 0.9), "val_accuracy": math.nan}]
    (family,) = families(path)
    assert family.best is None and "`l1_kernel_bias_0.001`" in family.refusal
    assert "l1_kernel_bias_0.0001`" not in family.refusal


def test_a_collapsed_point_is_never_picked_even_with_the_highest_validation_accuracy():
    path = [point(1e-5, 0.80), point(1e-4, 0.79), point(1e-2, 0.90, collapsed=True)]
    (family,) = families(path)
    assert family.best["lam"] == 1e-5 and family.one_se["lam"] == 1e-4


def test_a_family_whose_every_point_is_at_chance_refuses_to_pick():
    (family,) = families([point(1e-3, 0.02, collapsed=True), point(1e-2, 0.021, collapsed=True)])
    assert family.best is None and "at chance" in family.refusal


def test_activity_families_are_judged_by_activation_sparsity():
    points = [point(1e-5, 0.8, where="activity"), point(1e-4, 0.8, where="activity"),
              {**point(0, 0.9), "penalty": "none", "family": "none"}]
    (family,) = families(points)
    assert family.name == "l1_activity" and family.sparsity == "activation_sparsity"
    assert [p["lam"] for p in family.points] == [1e-5, 1e-4]


def test_with_three_seeds_or_more_the_standard_error_is_the_sample_sd_over_root_k():
    for values in ([0.81, 0.84, 0.79, 0.83], [0.81, 0.84, 0.79]):
        k = len(values)
        mean = sum(values) / k
        by_hand = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1)) / math.sqrt(k)
        assert standard_error(values, samples=1000) == pytest.approx(by_hand, rel=1e-12)


def test_with_fewer_than_three_seeds_the_standard_error_is_the_binomial_one_of_the_mean():
    assert standard_error([0.8], samples=400) == pytest.approx(0.02, rel=1e-12)  # sqrt(.16/400)
    assert standard_error([0.5], samples=2500) == pytest.approx(0.01, rel=1e-12)
    # Two seeds: p = 0.5 on 2,500 images, not the sd of 0.4 and 0.6 over sqrt(2) (0.1).
    assert standard_error([0.4, 0.6], samples=2500) == pytest.approx(0.01, rel=1e-12)
    assert math.isnan(standard_error([0.5], samples=0))


def run(lam, seed, val, test, samples=200):
    return {"point": f"p{lam:g}", "family": "l1_kernel_bias", "penalty": "l1",
            "where": "kernel_bias", "lam": lam, "seed": seed, "version_dir": f"/m/p/{seed + 1}",
            "val_accuracy": val, "test_accuracy": test, "weight_sparsity": 0.1,
            "activation_sparsity": 0.2, "training_seconds": 1.0, "node": "n",
            "val_samples": samples, "test_samples": 100}


def test_aggregate_takes_means_and_the_standard_error_the_seed_count_allows():
    runs = [run(1e-3, 1, 0.70, 0.60), run(1e-3, 0, 0.80, 0.64), run(1e-2, 0, 0.5, 0.5),
            run(1e-1, 0, 0.6, 0.5), run(1e-1, 1, 0.7, 0.6), run(1e-1, 2, 0.8, 0.7)]
    two, one, three = sorted(aggregate(runs), key=lambda p: p["lam"])
    assert two["seeds"] == [0, 1] and two["versions"] == [1, 2]
    assert two["val_accuracy"] == pytest.approx(0.75)
    assert two["val_se"] == pytest.approx(math.sqrt(0.75 * 0.25 / 200))
    assert two["test_se"] == pytest.approx(math.sqrt(0.62 * 0.38 / 100))
    assert two["se_source"] == one["se_source"] == "binomial"
    assert one["val_se"] == pytest.approx(math.sqrt(0.25 / 200))
    assert three["val_se"] == pytest.approx(0.1 / math.sqrt(3))  # sd of .6 .7 .8 is 0.1
    assert three["se_source"] == "seeds"


def test_a_point_at_chance_on_its_test_set_is_marked_collapsed():
    """Chance is 1/47 = 0.021; on 100 test images 0.03 cannot be told from it, 0.5 can."""
    low, high = sorted(aggregate([run(1e-3, 0, 0.5, 0.03), run(1e-2, 0, 0.5, 0.5)]),
                       key=lambda p: p["test_accuracy"])
    assert low["collapsed"] is True and high["collapsed"] is False
