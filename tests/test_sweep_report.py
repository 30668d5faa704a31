"""The sweep report's picks: ``best`` by mean validation accuracy, ``one_se`` by glmnet's rule,
and the standard errors they rest on, checked against computations typed here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.sweep.results import aggregate, families, pick, standard_error


def point(lam, val, se=0.01, weights=0.5, activations=0.5, where="kernel_bias"):
    return {"point": f"l1_{where}_{lam:g}", "family": f"l1_{where}", "penalty": "l1",
            "where": where, "lam": lam, "val_accuracy": val, "val_se": se,
            "test_accuracy": val - 0.01, "test_se": se, "weight_sparsity": weights,
            "activation_sparsity": activations, "seeds": [0]}


def test_best_is_the_highest_mean_and_one_se_the_largest_lambda_within_one_se():
    """Best 0.850 +- 0.010: 0.842 (1e-4) is within, 0.839 (1e-3) is not, 0.845 (1e-2) is again;
    the largest lambda within wins, even past a dip (glmnet takes the largest, not the first)."""
    path = [point(1e-6, 0.830), point(1e-5, 0.850), point(1e-4, 0.842), point(1e-3, 0.839),
            point(1e-2, 0.845), point(1e-1, 0.300)]
    best, one_se = pick(path)
    assert best["lam"] == 1e-5 and one_se["lam"] == 1e-2
    assert one_se["lam"] >= best["lam"]


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


def test_without_a_validation_split_the_test_accuracy_picks():
    path = [{**point(1e-4, 0.8), "val_accuracy": math.nan, "val_se": math.nan},
            {**point(1e-3, 0.9), "val_accuracy": math.nan, "val_se": math.nan}]
    assert pick(path)[0]["lam"] == 1e-3


def test_activity_families_are_judged_by_activation_sparsity():
    points = [point(1e-5, 0.8, where="activity"), point(1e-4, 0.8, where="activity"),
              {**point(0, 0.9), "penalty": "none", "family": "none"}]
    (family,) = families(points)
    assert family.name == "l1_activity" and family.sparsity == "activation_sparsity"
    assert [p["lam"] for p in family.points] == [1e-5, 1e-4]


def test_the_standard_error_over_seeds_is_the_sample_sd_over_root_k():
    values = [0.81, 0.84, 0.79, 0.83]
    mean = sum(values) / 4
    by_hand = math.sqrt(sum((v - mean) ** 2 for v in values) / 3) / 2
    assert standard_error(values, samples=1000) == pytest.approx(by_hand, rel=1e-12)
    assert standard_error(values, samples=1000) == pytest.approx(
        np.std(values, ddof=1) / np.sqrt(4), rel=1e-12)


def test_with_one_seed_the_standard_error_is_the_binomial_one():
    assert standard_error([0.8], samples=400) == pytest.approx(0.02, rel=1e-12)  # sqrt(.16/400)
    assert standard_error([0.5], samples=2500) == pytest.approx(0.01, rel=1e-12)
    assert math.isnan(standard_error([0.5], samples=0))


def run(lam, seed, val, test, samples=200):
    return {"point": f"p{lam:g}", "family": "l1_kernel_bias", "penalty": "l1",
            "where": "kernel_bias", "lam": lam, "seed": seed, "version_dir": f"/m/p/{seed + 1}",
            "val_accuracy": val, "test_accuracy": test, "weight_sparsity": 0.1,
            "activation_sparsity": 0.2, "training_seconds": 1.0, "node": "n",
            "val_samples": samples, "test_samples": 100}


def test_aggregate_takes_means_and_standard_errors_over_each_points_seeds():
    runs = [run(1e-3, 1, 0.70, 0.60), run(1e-3, 0, 0.80, 0.64), run(1e-2, 0, 0.5, 0.5)]
    two, one = sorted(aggregate(runs), key=lambda p: p["lam"])
    assert two["seeds"] == [0, 1] and two["versions"] == [1, 2]
    assert two["val_accuracy"] == pytest.approx(0.75)
    assert two["val_se"] == pytest.approx(0.05)  # sd = 0.0707.. over sqrt(2)
    assert two["test_se"] == pytest.approx(0.02)
    assert one["val_se"] == pytest.approx(math.sqrt(0.25 / 200))
    assert one["test_se"] == pytest.approx(math.sqrt(0.25 / 100))
