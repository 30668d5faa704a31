"""Beyond accuracy over seeds: a repeat group read from disk, mean +- sd of ECE, NLL, the gap
and the corrupted accuracy, and the mCE relative to the baseline averaged over its seeds, each
checked against numbers typed here."""

from __future__ import annotations

import json
import statistics

import pytest

from analysis.reports import collect_results
from analysis.robustness import robustness_data, seed_groups, write_robustness_report
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.seeds import group_members


def export(models, name, version, *, seed, group="g", fog=0.8, rotate=0.5, ece=0.05,
           nll=1.0, gap=0.1, test=0.9, penalty="l2"):
    folder = models / name / str(version)
    folder.mkdir(parents=True)
    (folder / layout.SAVED_MODEL_FILE).write_bytes(b"")
    corruptions = {"fog": fog, "rotate": rotate}
    layout.write_json_atomic(folder / layout.METADATA_FILE, {
        md.SCHEMA: md.SCHEMA_VERSION, md.LABELS: {},
        md.VARIANT: {"name": name, "penalty": penalty, "where": "kernel_bias", "lam": 0.01},
        md.DATA: {"name": "fixture", "test_size": 400}, md.TRAINING: {"seed": seed},
        md.HISTORY: {}, md.TEST: {"accuracy": test, "loss": 1.0},
        md.WEIGHT_SPARSITY: {md.SPARSITY_ALL: {"<1e-03": 0.1, "==0": 0.0}},
        md.REPEAT: {"group": group, "seed": seed, "index": 1, "of": 2},
        md.CALIBRATION: {"ece": ece, "nll": nll},
        md.GENERALIZATION: {"gap": gap},
        md.ROBUSTNESS: {"corruptions": corruptions,
                        "mean_accuracy": sum(corruptions.values()) / 2, "images": 400}})


def test_a_group_is_the_newest_version_of_each_seed_of_the_newest_versions_group(tmp_path):
    export(tmp_path, "none", 1, seed=0, group="old")
    export(tmp_path, "none", 2, seed=0, ece=0.5)  # seed 0 trained again: only 4 counts
    export(tmp_path, "none", 3, seed=1)
    export(tmp_path, "none", 4, seed=0)
    members = group_members(tmp_path / "none")
    assert [folder.name for folder, _ in members] == ["4", "3"]


@pytest.fixture
def seeded(tmp_path):
    """Baseline seeds err 0.2 and 0.4 under fog (mean 0.3), 0.5 and 0.5 under rotate; the
    variant's seeds err 0.1 and 0.3 under fog, 0.25 and 0.75 under rotate."""
    export(tmp_path, "none", 1, seed=0, fog=0.8, rotate=0.5, penalty="none")
    export(tmp_path, "none", 2, seed=1, fog=0.6, rotate=0.5, penalty="none")
    export(tmp_path, "l2", 1, seed=0, fog=0.9, rotate=0.75, ece=0.04, nll=0.9, gap=0.02)
    export(tmp_path, "l2", 2, seed=1, fog=0.7, rotate=0.25, ece=0.08, nll=1.3, gap=0.06,
           test=0.8)
    rows, _ = collect_results(tmp_path)
    return tmp_path, rows


def test_over_seeds_the_report_gives_mean_and_sd_of_every_beyond_accuracy_figure(seeded):
    models, rows = seeded
    data = robustness_data(rows, groups=seed_groups(models))
    (variant,) = [v for v in data["variants"] if v["variant"] == "l2"]
    spreads = variant["over_seeds"]
    assert spreads["seeds"] == variant["seeds"] == 2 and spreads["versions"] == [1, 2]
    for name, values in (("ece", [0.04, 0.08]), ("nll", [0.9, 1.3]), ("gap", [0.02, 0.06]),
                         ("corrupted_accuracy", [0.825, 0.475])):
        assert spreads[name]["mean"] == pytest.approx(sum(values) / 2), name
        assert spreads[name]["sd"] == pytest.approx(abs(values[0] - values[1]) / 2 ** 0.5), name


def test_the_mce_is_relative_to_the_baseline_averaged_over_its_seeds(seeded):
    """fog: CE 0.1/0.3 and 0.3/0.3; rotate: 0.25/0.5 and 0.75/0.5. Per seed mCE (1/3 + 1/2)/2
    and (1 + 3/2)/2; the mCE of the means: fog 0.2/0.3, rotate 0.5/0.5."""
    models, rows = seeded
    data = robustness_data(rows, groups=seed_groups(models))
    (variant,) = [v for v in data["variants"] if v["variant"] == "l2"]
    assert data["baseline_seeds"] == 2
    assert variant["ce"] == pytest.approx({"fog": 2 / 3, "rotate": 1.0})
    assert variant["mce"] == pytest.approx(5 / 6)
    per_seed = [(1 / 3 + 1 / 2) / 2, (1 + 3 / 2) / 2]
    assert variant["over_seeds"]["mce"]["mean"] == pytest.approx(statistics.fmean(per_seed))
    assert variant["over_seeds"]["mce"]["sd"] == pytest.approx(statistics.stdev(per_seed))
    assert variant["accuracy"] == pytest.approx({"fog": 0.8, "rotate": 0.5})
    assert variant["test_accuracy"] == pytest.approx(0.85)  # clean, also a mean over seeds


def test_the_written_report_shows_the_spread_and_marks_a_model_at_chance(seeded, tmp_path):
    models, rows = seeded
    export(models, "l1", 1, seed=0, test=0.02, penalty="l1")  # one seed, 8 of 400 right
    rows, _ = collect_results(models)
    (tmp_path / "out").mkdir()
    written = write_robustness_report(rows, tmp_path / "out", ["fixture"], seed_groups(models))
    text = written[0].read_text()
    assert "## Over seeds (mean ± sd)" in text
    assert "| `l2` | 2 | 6.00 ± 2.83 | 1.100 ± 0.283 | 4.0 ± 2.8 | 65.0 ± 24.7 |" in text
    assert "`l1` (collapsed)" in text and "`l2` (collapsed)" not in text
    document = json.loads(written[1].read_text())
    assert {v["variant"]: v["collapsed"] for v in document["variants"]} == \
        {"none": False, "l1": True, "l2": False}
    assert {v["variant"]: v["over_seeds"] is None for v in document["variants"]} == \
        {"none": False, "l1": True, "l2": False}
