"""The verdicts benchmark, small: equal recipes at a hard setting claim no winner, a real gain is
found, and the fabricated answers look as the simulation says."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import verdicts
from benchmarks.verdicts_sim import VARIANTS, Noise, entries_of, measure_noise, simulate
from regserve_contracts import comparison as contract

#: Few images, much seed noise, images weakly shared: where false claims come easiest.
HARD = Noise(seed_sd=1.5, images=2000, disagreement=0.15)


@pytest.mark.slow
def test_two_hundred_reports_on_equal_recipes_claim_a_winner_at_most_five_percent_of_the_time():
    rng = np.random.default_rng(28)
    found = verdicts.run_setting(rng, HARD, (0.0,) * len(VARIANTS), 3, 200, 0.01)
    claims = sum(any(v in (contract.BETTER, contract.WORSE) for v in report) for report in found)
    assert len(found) == 200 and claims / 200 <= 0.05


def test_a_five_point_gain_with_five_seeds_is_mostly_found_and_the_others_stay_quiet():
    rng = np.random.default_rng(5)
    found = verdicts.run_setting(rng, HARD, (0.0, 0.05, 0.0, 0.0), 5, 40, 0.01)
    assert sum(report[0] == contract.BETTER for report in found) / 40 >= 0.6
    assert all(v != contract.WORSE for report in found for v in report)


def test_the_fabricated_answers_have_the_settings_accuracy_seed_sd_and_disagreement():
    """Many seeds of one recipe on many images: the measured noise is the simulated noise."""
    noise = Noise(seed_sd=1.0, images=40_000, disagreement=0.10)
    right = simulate(np.random.default_rng(3), noise, (0.0,), 24, 1)[0]
    (measured,) = measure_noise(entries_of(right))
    assert np.mean(right) == pytest.approx(0.81, abs=0.01)
    assert measured["disagreement"] == pytest.approx(0.10, abs=0.01)
    assert measured["seed_sd"] == pytest.approx(0.010, abs=0.004)


def test_the_seed_sd_takes_the_test_image_noise_out_by_the_formula():
    """Two seeds on 10 images, right on 7 and 5, disagreeing on 4: the squared difference is
    0.04, the image noise 0.4 / 10 = 0.04, so nothing is left for the seeds; the raw sd is
    |0.7 - 0.5| / sqrt(2)."""
    right = np.zeros((1, 2, 10), dtype=bool)
    right[0, 0, 0:7] = True  # seed 1: images 0-6
    right[0, 1, 3:8] = True  # seed 2: images 3-7; they disagree on 0, 1, 2 and 7
    (measured,) = measure_noise(entries_of(right))
    assert measured["accuracies"] == pytest.approx([0.7, 0.5])
    assert measured["disagreement"] == pytest.approx(0.4)
    assert measured["sd"] == pytest.approx(0.2 / np.sqrt(2))
    assert measured["seed_sd"] == pytest.approx(0.0, abs=1e-9)


def test_the_table_says_pass_or_miss_against_the_goals():
    """12 of 200 (6%) is not shown to exceed 5%: its Wilson interval starts at 3.5%; 30 of
    200 (15%) is."""
    def result(false_claims: float) -> dict:
        return {"margin": 0.01, "reports": 200, "seconds": 1.0, "machine": {},
                "null": [{"seeds": 3, **HARD.__dict__, "reports": 200,
                          "false_claims": false_claims, "equivalent": 0.0}],
                "power": [{"seeds": 5, "gain": 0.025, **verdicts.REALISTIC.__dict__,
                           "reports": 200, "better": 0.7}]}

    text = verdicts.render_verdicts(result(0.06))
    assert "| 3 | 1.5 | 2,000 | 15% | 200 | 6.0% [3.5, 10.2] | 0.0% |" in text
    assert "pooled over the grid: 3 seeds 6.0% [3.5, 10.2] of 200." in text
    assert "lies above 5%: 0 (goal: none, PASS)" in text
    assert "better in 70.0% (goal >= 60%: PASS)" in text
    assert "lies above 5%: 1 (goal: none, MISS)" in verdicts.render_verdicts(result(0.15))
