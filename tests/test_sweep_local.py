"""The local engine end to end: two points, two seeds each, on tiny data become two versions
each and a report with mean +- SE and the two picks."""

from __future__ import annotations

import csv
import json
import math
import socket
import statistics
from io import StringIO

import pytest

from regserve_contracts import layout
from tests.support.sweep import staging_left, sweep, tiny_npz
from trainer.sweep.__main__ import parse_options
from trainer.sweep.cli import run

pytestmark = pytest.mark.slow
POINTS = ("l1_kernel_bias_1e-04", "l1_kernel_bias_1e-02")
QUICK = ("--epochs", "1", "--batch-size", "50", "--seed", "0")


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    """One local sweep of two L1 lambdas x two seeds, no baseline, one epoch on 300 random
    images of two classes (so no point is at chance)."""
    folder = tmp_path_factory.mktemp("sweep_local")
    data = tiny_npz(folder / "tiny.npz", two_classes=True)
    models = folder / "models"
    out, err = StringIO(), StringIO()
    argv = ["--engine", "local", "--penalty", "l1", "--where", "kernel_bias", "--lambdas",
            "1e-4,1e-2", "--seeds", "2", "--no-baseline", "--name", "tiny", "--data", str(data),
            "--models-dir", str(models), *QUICK]
    status = run(parse_options(argv, "python -m trainer sweep"), out, err)
    return models, data, status, out.getvalue(), err.getvalue()


def test_two_points_become_two_versions_each_with_sweep_and_repeat_metadata(local_sweep):
    models, _, status, out, err = local_sweep
    assert status == 0, err
    for name in POINTS:
        assert layout.versions(models / name) == [1, 2]
        first, second = (layout.read_metadata(models / name / v) for v in ("1", "2"))
        for index, metadata in enumerate((first, second), start=1):
            assert metadata["sweep"]["name"] == "tiny" and metadata["sweep"]["point"] == name
            assert metadata["sweep"]["engine"] == "local"
            assert metadata["sweep"]["node"] == socket.gethostname()
            assert metadata["variant"]["penalty"] == "l1" and metadata["training"]["epochs"] == 1
            assert metadata["repeat"] == {"group": first["repeat"]["group"], "seed": index - 1,
                                          "index": index, "of": 2}
            assert metadata["training"]["seed"] == index - 1
    groups = {layout.read_metadata(models / name / "1")["repeat"]["group"] for name in POINTS}
    assert len(groups) == 2  # another lambda is another group
    assert layout.read_metadata(models / POINTS[1] / "1")["variant"]["lam"] == 1e-2
    assert not staging_left(models)


def test_progress_is_one_line_per_training_naming_its_repeat(local_sweep):
    _, _, _, out, err = local_sweep
    lines = [line for line in err.splitlines() if line.startswith("[")]
    assert [line[:5] for line in lines] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    expected = [(POINTS[0], 1, 0), (POINTS[0], 2, 1), (POINTS[1], 1, 0), (POINTS[1], 2, 1)]
    for line, (name, index, seed) in zip(lines, expected, strict=True):
        assert f"{name} (repeat {index} of 2, seed {seed}): lambda" in line
        assert "test accuracy" in line and "|w|<1e-3" in line
        assert "elapsed" in line and "ETA" in line
    assert "4 of 4 trainings exported (4 trained now)" in out
    assert f"{models_line(local_sweep, POINTS[0])} versions 1, 2 (seeds 0, 1)" in out


def models_line(local_sweep, name: str) -> str:
    return f"{local_sweep[0] / name}/"


def val_accuracy(metadata: dict) -> float:
    return metadata["history"]["val_accuracy"][-1]


def test_the_report_shows_means_over_seeds_and_both_picks(local_sweep):
    """Means and standard errors recomputed from each version's own metadata (two seeds: the
    binomial SE of the mean on one validation split); best and one_se follow their rule, and
    one_se's lambda is never below best's."""
    models, _, _, _, _ = local_sweep
    reports = models / layout.REPORTS_DIR
    for suffix in (".md", ".csv", ".png", ".json"):
        assert (reports / f"sweep_tiny{suffix}").stat().st_size > 0
    with open(reports / "sweep_tiny.csv", newline="") as handle:
        rows = {row["point"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(POINTS)
    mean, se = {}, {}
    for name in POINTS:
        runs = [layout.read_metadata(models / name / v) for v in ("1", "2")]
        vals = [val_accuracy(m) for m in runs]
        mean[name] = sum(vals) / 2
        images = runs[0]["training"]["validation_samples"]
        se[name] = math.sqrt(mean[name] * (1 - mean[name]) / images)
        assert float(rows[name]["val_accuracy"]) == pytest.approx(mean[name])
        assert float(rows[name]["val_se"]) == pytest.approx(se[name], abs=1e-12)
        assert float(rows[name]["test_accuracy"]) == pytest.approx(
            statistics.fmean(m["test"]["accuracy"] for m in runs))
        assert rows[name]["seeds"] == "0 1" and rows[name]["versions"] == "1 2"
    top = max(mean.values())
    best = max((n for n in POINTS if mean[n] >= top - 1e-9),
               key=lambda n: float(rows[n]["lambda"]))
    one_se = max((n for n in POINTS if mean[n] >= mean[best] - se[best] - 1e-9),
                 key=lambda n: float(rows[n]["lambda"]))
    assert [n for n in POINTS if rows[n]["best"] == "True"] == [best]
    assert [n for n in POINTS if rows[n]["one_se"] == "True"] == [one_se]
    page = json.loads((reports / "sweep_tiny.json").read_text())
    picks = page["families"][0]["picks"]
    assert page["picks"] == picks and page["seeds"] == 2
    assert picks["best"]["point"] == best and picks["one_se"]["point"] == one_se
    assert page["families"][0]["se_source"] == "binomial" and page["refusal"] is None
    assert picks["one_se"]["lambda"] >= picks["best"]["lambda"]
    assert picks["best"]["test_accuracy"] == pytest.approx(float(rows[best]["test_accuracy"]))
    assert all(math.isfinite(picks[k]["val_se"]) for k in picks)
    text = (reports / "sweep_tiny.md").read_text()
    assert "python -m trainer sweep" in text and "one_se" in text and "+-" in text


def test_resume_with_the_local_engine_trains_nothing_new(local_sweep, capsys):
    models, data, _, _, _ = local_sweep
    status, out, err = sweep("--resume", "--name", "tiny", "--engine", "local",
                             "--models-dir", models, capsys=capsys)
    assert status == 0, err
    assert "(0 trained now)" in out and "already done" in err
    assert all(layout.versions(models / name) == [1, 2] for name in POINTS)
