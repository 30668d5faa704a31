"""Reports: curves, comparison chart and results table, rebuilt from the metadata on disk."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from analysis.reports import (
    COMPARISON_PNG,
    CSV_COLUMNS,
    PRUNING_PNG,
    RESULTS_CSV,
    RESULTS_MD,
    SPARSITY_PNG,
    ReportError,
    build_reports,
    collect_results,
)
from analysis.robustness import ROBUSTNESS_JSON, ROBUSTNESS_MD
from regserve_contracts import layout
from regserve_contracts.variants import VARIANT_NAMES, VARIANTS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reports(models_dir, tmp_path_factory):
    """Reports of the session's trained models, written beside them, not into them."""
    return build_reports(models_dir, tmp_path_factory.mktemp("reports"))


def fake_version(models: Path, source: Path, version: int, **changes) -> Path:
    """A version folder holding ``source``'s metadata with top-level ``changes`` (no model:
    the reports read only metadata)."""
    metadata = {**layout.read_metadata(source), **changes}
    target = models / metadata["variant"]["name"] / str(version)
    target.mkdir(parents=True)
    (target / layout.SAVED_MODEL_FILE).write_bytes(b"")
    (target / layout.METADATA_FILE).write_text(json.dumps(metadata))
    return target


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_every_report_file_is_written(reports):
    """Curves for each variant, the comparison (json, md, csv, chart), the sparsity chart,
    results.md and results.csv; PNGs are real images; no temporary files are left behind."""
    names = {path.name for path in reports.reports_dir.iterdir()}
    expected = {COMPARISON_PNG, "comparison.json", "comparison.md", "comparison.csv",
                SPARSITY_PNG, RESULTS_MD, RESULTS_CSV, PRUNING_PNG}
    expected |= {ROBUSTNESS_MD, ROBUSTNESS_JSON}
    expected |= {f"curves_{name}.png" for name in VARIANT_NAMES}
    assert names == expected
    for path in reports.reports_dir.glob("*.png"):
        assert path.read_bytes()[:8] == PNG_MAGIC, path.name


def test_curves_have_two_panels_side_by_side(reports):
    """A training-curves image is wider than tall: loss and accuracy panels side by side."""
    from matplotlib.image import imread

    height, width, _ = imread(reports.reports_dir / "curves_none.png").shape
    assert width > 1.5 * height


def test_csv_matches_each_variants_metadata(reports, models_dir):
    """results.csv has the documented columns and one row per variant, with the values of the
    newest version's metadata.json."""
    rows = read_csv(reports.reports_dir / RESULTS_CSV)
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row["variant"] for row in rows] == list(VARIANT_NAMES)
    for row, variant in zip(rows, VARIANTS, strict=True):
        newest = layout.newest_version(models_dir / variant.name)
        metadata = layout.read_metadata(newest)
        assert int(row["version"]) == int(newest.name)
        assert (row["penalty"], row["where"]) == (variant.penalty, variant.where)
        assert float(row["lambda"]) == variant.lam
        assert float(row["test_accuracy"]) == pytest.approx(metadata["test"]["accuracy"])
        assert float(row["test_loss"]) == pytest.approx(metadata["test"]["loss"])
        overall = metadata["weight_sparsity"]["all"]
        assert float(row["weight_sparsity_lt_1e-3"]) == pytest.approx(overall["<1e-03"])
        assert float(row["weight_sparsity_eq_0"]) == pytest.approx(overall["==0"])
        activations = metadata["activation_sparsity_test"].values()
        assert float(row["activation_sparsity_test"]) == pytest.approx(
            sum(activations) / len(activations))
        assert int(row["epochs"]) == metadata["training"]["epochs"]
        assert int(row["train_samples"]) == metadata["training"]["train_samples"]
        assert row["data_source"] == metadata["data"]["name"]
        assert float(row["ece"]) == pytest.approx(metadata["calibration"]["ece"])
        interval = metadata["calibration"]["ece_interval"]
        assert (float(row["ece_low"]), float(row["ece_high"])) == pytest.approx(
            (interval["low"], interval["high"]))
        assert float(row["nll"]) == pytest.approx(metadata["calibration"]["nll"])


def test_markdown_names_the_source_and_warns_about_the_offline_set(reports):
    """results.md names the data source and, for the synthetic set, says it is not EMNIST;
    it has a row per variant and links the charts."""
    text = (reports.reports_dir / RESULTS_MD).read_text()
    assert "synthetic-offline" in text
    assert "not EMNIST" in text
    for name in VARIANT_NAMES:
        assert f"| `{name}` |" in text
        assert f"(curves_{name}.png)" in text
    assert f"({COMPARISON_PNG})" in text and f"({SPARSITY_PNG})" in text


def test_newest_version_and_custom_variants_are_reported(models_dir, tmp_path):
    """The newest version of each variant wins, custom variants appear after the registry's,
    and mixed data sources are pointed out."""
    source = layout.newest_version(models_dir / "none")
    models = tmp_path / "models"
    fake_version(models, source, 1)
    newer = fake_version(models, source, 2, test={"loss": 9.0, "accuracy": 0.123})
    custom = {"name": "l1_sweep_0.001", "penalty": "l1", "where": "activity", "lam": 0.001}
    data = {**layout.read_metadata(source)["data"], "name": "npz:mine.npz"}
    fake_version(models, source, 1, variant=custom, data=data)
    result = build_reports(models)
    assert [(row.variant, row.version) for row in result.rows] == [
        ("none", 2), ("l1_sweep_0.001", 1)]
    rows = read_csv(models / layout.REPORTS_DIR / RESULTS_CSV)
    assert float(rows[0]["test_accuracy"]) == pytest.approx(0.123)
    assert (rows[1]["penalty"], rows[1]["where"], float(rows[1]["lambda"])) == (
        "l1", "activity", 0.001)
    text = (models / layout.REPORTS_DIR / RESULTS_MD).read_text()
    assert "npz:mine.npz" in text and "different data sources" in text
    assert (models / layout.REPORTS_DIR / "curves_l1_sweep_0.001.png").is_file()
    assert newer.is_dir()


def test_rebuilding_drops_curves_of_variants_gone_from_disk(models_dir, tmp_path):
    """Reports mirror the disk: a variant's curves vanish once its folder does."""
    models = tmp_path / "models"
    for name in ("none", "l2_activity"):
        fake_version(models, layout.newest_version(models_dir / name), 1)
    build_reports(models)
    shutil.rmtree(models / "l2_activity")
    build_reports(models)
    curves = sorted(p.name for p in (models / layout.REPORTS_DIR).glob("curves_*.png"))
    assert curves == ["curves_none.png"]


def test_unreadable_metadata_is_listed_not_fatal(models_dir, tmp_path):
    """A version with broken metadata.json is skipped and named in results.md."""
    models = tmp_path / "models"
    fake_version(models, layout.newest_version(models_dir / "none"), 1)
    broken = models / "broken" / "1"
    broken.mkdir(parents=True)
    (broken / layout.SAVED_MODEL_FILE).write_bytes(b"")
    (broken / layout.METADATA_FILE).write_text("{not json")
    rows, skipped = collect_results(models)
    assert [row.variant for row in rows] == ["none"]
    assert len(skipped) == 1 and str(broken) in skipped[0]
    build_reports(models)
    assert str(broken) in (models / layout.REPORTS_DIR / RESULTS_MD).read_text()


def test_no_models_is_a_report_error(tmp_path):
    """Nothing trained yet: ReportError saying so, and no reports folder."""
    with pytest.raises(ReportError, match="no trained models"):
        build_reports(tmp_path)
    assert not (tmp_path / layout.REPORTS_DIR).exists()
