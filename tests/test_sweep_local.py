"""The local engine end to end: two points on tiny data become two versions and a report."""

from __future__ import annotations

import csv
import json
import socket
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
    """One local sweep of two L1 lambdas, no baseline, one epoch on 300 random images."""
    folder = tmp_path_factory.mktemp("sweep_local")
    data = tiny_npz(folder / "tiny.npz")
    models = folder / "models"
    out, err = StringIO(), StringIO()
    argv = ["--engine", "local", "--penalty", "l1", "--where", "kernel_bias", "--lambdas",
            "1e-4,1e-2", "--no-baseline", "--name", "tiny", "--data", str(data),
            "--models-dir", str(models), *QUICK]
    status = run(parse_options(argv, "python -m trainer sweep"), out, err)
    return models, data, status, out.getvalue(), err.getvalue()


def test_two_points_become_two_versions_with_sweep_metadata(local_sweep):
    models, _, status, out, err = local_sweep
    assert status == 0, err
    for name in POINTS:
        assert layout.versions(models / name) == [1]
        metadata = layout.read_metadata(models / name / "1")
        assert metadata["sweep"]["name"] == "tiny" and metadata["sweep"]["point"] == name
        assert metadata["sweep"]["engine"] == "local"
        assert metadata["sweep"]["node"] == socket.gethostname()
        assert metadata["variant"]["penalty"] == "l1" and metadata["training"]["epochs"] == 1
    assert layout.read_metadata(models / POINTS[1] / "1")["variant"]["lam"] == 1e-2
    assert not staging_left(models)


def test_progress_is_one_line_per_point_with_lambda_accuracy_sparsity_and_eta(local_sweep):
    _, _, _, out, err = local_sweep
    lines = [line for line in err.splitlines() if line.startswith("[")]
    assert [line[:5] for line in lines] == ["[1/2]", "[2/2]"]
    for line, lam in zip(lines, ("lambda 0.0001", "lambda 0.01"), strict=True):
        assert lam in line and "test accuracy" in line and "|w|<1e-3" in line
        assert "elapsed" in line and "ETA" in line
    assert "2 of 2 points exported (2 trained now)" in out


def test_the_report_agrees_with_the_exported_metadata(local_sweep):
    """The CSV's numbers and its best pick, checked against each version's own metadata."""
    models, _, _, _, _ = local_sweep
    reports = models / layout.REPORTS_DIR
    for suffix in (".md", ".csv", ".png", ".json"):
        assert (reports / f"sweep_tiny{suffix}").stat().st_size > 0
    with open(reports / "sweep_tiny.csv", newline="") as handle:
        rows = {row["point"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(POINTS)
    val = {}
    for name in POINTS:
        metadata = layout.read_metadata(models / name / "1")
        val[name] = metadata["history"]["val_accuracy"][-1]
        assert float(rows[name]["test_accuracy"]) == pytest.approx(metadata["test"]["accuracy"])
        assert float(rows[name]["weight_sparsity_lt_1e-3"]) == pytest.approx(
            metadata["weight_sparsity"]["all"]["<1e-03"])
    top = max(val.values())
    tied = [n for n in POINTS if val[n] == top]
    sparsity = {n: float(rows[n]["weight_sparsity_lt_1e-3"]) for n in POINTS}
    expected = max(tied, key=lambda n: sparsity[n])
    assert [n for n in POINTS if rows[n]["best"] == "True"] == [expected]
    page = json.loads((reports / "sweep_tiny.json").read_text())
    assert page["families"][0]["best"] == expected and page["chart"] == "sweep_tiny.png"
    assert "python -m trainer sweep" in (reports / "sweep_tiny.md").read_text()


def test_resume_with_the_local_engine_trains_nothing_new(local_sweep, capsys):
    models, data, _, _, _ = local_sweep
    status, out, err = sweep("--resume", "--name", "tiny", "--engine", "local",
                             "--models-dir", models, capsys=capsys)
    assert status == 0, err
    assert "(0 trained now)" in out and "already done" in err
    assert all(layout.versions(models / name) == [1] for name in POINTS)
