"""The sweep report's picks: best lambda by validation accuracy, ties to the sparser model."""

from __future__ import annotations

from trainer.sweep.report import families, pick


def point(lam, val, weights, activations=0.5, where="kernel_bias"):
    return {"point": f"l1_{where}_{lam:g}", "family": f"l1_{where}", "penalty": "l1",
            "where": where, "lam": lam, "val_accuracy": val, "test_accuracy": val - 0.01,
            "weight_sparsity": weights, "activation_sparsity": activations}


def test_the_best_lambda_has_the_highest_validation_accuracy():
    points = [point(1e-5, 0.80, 0.1), point(1e-4, 0.85, 0.2), point(1e-3, 0.70, 0.9)]
    best, _ = pick(points, "weight_sparsity")
    assert best["lam"] == 1e-4


def test_a_tie_goes_to_the_sparser_model():
    points = [point(1e-5, 0.85, 0.1), point(1e-4, 0.85, 0.4), point(1e-3, 0.5, 0.9)]
    best, _ = pick(points, "weight_sparsity")
    assert best["lam"] == 1e-4


def test_the_sparsest_lambda_within_one_point_of_the_best_is_named():
    points = [point(1e-5, 0.850, 0.1), point(1e-4, 0.842, 0.5), point(1e-3, 0.835, 0.9)]
    best, sparsest = pick(points, "weight_sparsity")
    assert best["lam"] == 1e-5 and sparsest["lam"] == 1e-4  # 0.835 is 1.5 points below


def test_activity_families_are_judged_by_activation_sparsity():
    points = [point(1e-5, 0.8, 0.9, 0.1, "activity"), point(1e-4, 0.8, 0.1, 0.6, "activity"),
              {**point(0, 0.9, 0.0), "penalty": "none", "family": "none"}]
    (family,) = families(points)
    assert family.name == "l1_activity" and family.sparsity == "activation_sparsity"
    assert family.best["lam"] == 1e-4 and [p["lam"] for p in family.points] == [1e-5, 1e-4]
