"""``sweep_<name>.json`` and its siblings, built from exports written here: a one-seed sweep
without validation images refuses to pick in every file, and the contract's parser refuses a
document that is not a sweep report, naming what is wrong."""

from __future__ import annotations

import csv
import json
import math

import pytest

from analysis.sweep.report import build_sweep_report
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts import sweep as contract


def export(models, name, lam, *, val, test, seed=0, version=1, val_samples=200, test_size=300,
           sweep="paths", penalty="l1"):
    """A version folder as the trainer leaves it, as far as the sweep report reads it."""
    folder = models / name / str(version)
    folder.mkdir(parents=True)
    (folder / layout.SAVED_MODEL_FILE).write_bytes(b"")
    history = {"accuracy": [0.5], "loss": [1.0]}
    if val is not None:
        history.update(val_accuracy=[val], val_loss=[1.0])
    metadata = {
        md.SCHEMA: md.SCHEMA_VERSION, md.LABELS: {},
        md.VARIANT: {"name": name, "penalty": penalty, "where": "kernel_bias", "lam": lam},
        md.DATA: {"name": "fixture", "test_size": test_size},
        md.TRAINING: {"seed": seed, "validation_samples": val_samples, "epochs": 1},
        md.HISTORY: history, md.TEST: {"accuracy": test, "loss": 1.0},
        md.WEIGHT_SPARSITY: {md.SPARSITY_ALL: {"<1e-03": lam * 10, "==0": 0.0}},
        md.ACTIVATION_SPARSITY_TEST: {"conv1": 0.4}, md.SWEEP: {"name": sweep},
    }
    layout.write_json_atomic(folder / layout.METADATA_FILE, metadata)


def read(models, suffix):
    return (models / layout.REPORTS_DIR / f"sweep_paths{suffix}").read_text()


def test_a_one_seed_sweep_without_validation_images_refuses_to_pick_in_every_file(tmp_path):
    """Test accuracy favours 1e-3 (0.80 against 0.60), and it must not pick it."""
    export(tmp_path, "l1_1e-05", 1e-5, val=None, test=0.60, val_samples=0)
    export(tmp_path, "l1_1e-03", 1e-3, val=None, test=0.80, val_samples=0)
    build_sweep_report(tmp_path, "paths")
    document = contract.parse(json.loads(read(tmp_path, ".json")))
    (family,) = document["families"]
    assert family["picks"] is None and family["best"] is None and document["picks"] is None
    assert "no validation images" in family["refusal"] == document["refusal"]
    assert "--validation-split" in family["refusal"]
    assert all(p["val_accuracy"] is None for p in family["points"])
    text = read(tmp_path, ".md")
    assert "no pick" in text and "never on test accuracy" in text
    assert "| none |" in text  # the picks table says there is none
    with open(tmp_path / layout.REPORTS_DIR / "sweep_paths.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["best"] for row in rows} == {row["one_se"] for row in rows} == {"False"}


def test_a_sweep_with_validation_images_picks_and_says_where_its_standard_error_comes_from(
        tmp_path):
    """Two seeds: the threshold rests on the binomial SE of one split, and the report says so;
    1e-5 wins on validation although 1e-3 wins on test."""
    for seed in (0, 1):
        export(tmp_path, "l1_1e-05", 1e-5, val=0.80, test=0.60, seed=seed, version=seed + 1)
        export(tmp_path, "l1_1e-03", 1e-3, val=0.70, test=0.80, seed=seed, version=seed + 1)
    build_sweep_report(tmp_path, "paths")
    document = contract.parse(json.loads(read(tmp_path, ".json")))
    (family,) = document["families"]
    assert family["refusal"] is None and family["best"] == "l1_1e-05"
    assert family["picks"]["one_se"]["point"] == "l1_1e-05"
    assert family["se_source"] == "binomial" and "binomial" in family["se_note"]
    assert family["picks"]["best"]["val_se"] == pytest.approx(math.sqrt(0.8 * 0.2 / 200))
    assert "binomial standard error of one validation split" in read(tmp_path, ".md")


def test_a_point_at_chance_is_marked_in_the_json_and_the_markdown(tmp_path):
    export(tmp_path, "l1_1e-05", 1e-5, val=0.80, test=0.60)
    export(tmp_path, "l1_1e-01", 1e-1, val=0.03, test=0.02)
    build_sweep_report(tmp_path, "paths")
    (family,) = contract.parse(json.loads(read(tmp_path, ".json")))["families"]
    assert [p["collapsed"] for p in family["points"]] == [False, True]
    assert "`l1_1e-01` (collapsed: at chance)" in read(tmp_path, ".md")


def valid() -> dict:
    return {contract.SCHEMA: contract.SCHEMA_VERSION, "sweep": "s", "baseline": None,
            "families": [{"family": "l1_kernel_bias", "points": [{"point": "p", "lam": 0.1}],
                          "picks": None, "refusal": "no pick: why"}]}


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop(contract.SCHEMA), "schema 1"),
    (lambda d: d.update(families={}), "families is dict"),
    (lambda d: d["families"][0].update(refusal=None), "neither"),
    (lambda d: d["families"][0].update(picks={"best": {"lambda": 1}, "one_se": {"lambda": 1}}),
     "both"),
    (lambda d: d["families"][0]["points"][0].update(lam=True), "lam is bool"),
    (lambda d: d["families"][0].update(se_source="guess"), "se_source"),
    (lambda d: d.update(baseline={}), "baseline has no 'point'"),
])
def test_the_parser_names_what_is_wrong(change, message):
    contract.parse(valid())
    document = valid()
    change(document)
    with pytest.raises(contract.SweepReportError, match=message):
        contract.parse(document)


def test_sweep_file_names_round_trip():
    assert contract.sweep_name(contract.file_name("lr_path")) == "lr_path"
    assert contract.sweep_name("comparison.json") is None


def test_get_sweeps_serves_what_parses_and_names_what_does_not(app, tmp_path, monkeypatch):
    """The server reads sweep reports through the contract: a schema-1 report (which could
    have picked on test accuracy) and a broken file are listed with the reason, not served."""
    import jsonschema

    from server.routes.openapi import DOCUMENT
    from tests.support.api import override_settings

    export(tmp_path, "l1_1e-05", 1e-5, val=None, test=0.60, val_samples=0)
    build_sweep_report(tmp_path, "paths")
    reports = tmp_path / layout.REPORTS_DIR
    (reports / "sweep_old.json").write_text(json.dumps({"sweep": "old", "families": []}))
    (reports / "sweep_torn.json").write_text('{"sweep": ')
    override_settings(monkeypatch, app, models_dir=tmp_path)
    body = app.test_client().get("/sweeps").get_json()
    assert [s["sweep"] for s in body["sweeps"]] == ["paths"]
    assert "no validation images" in body["sweeps"][0]["families"][0]["refusal"]
    details = {item["file"]: item["detail"] for item in body["unreadable"]}
    assert set(details) == {"sweep_old.json", "sweep_torn.json"}
    assert "schema 1" in details["sweep_old.json"] and "rebuild" in details["sweep_old.json"]
    schema = DOCUMENT["paths"]["/sweeps"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]}) \
        .validate(body)
