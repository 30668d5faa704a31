"""A sweep's specification: lambda ranges, point names, and misuse as one line with exit 2."""

from __future__ import annotations

import math

import pytest

from regserve_contracts import layout
from tests.support.sweep import sweep, tiny_npz
from trainer.sweep import engines
from trainer.sweep.spec import (
    SpecError,
    SweepSpec,
    lambda_text,
    parse_choices,
    parse_lambdas,
    point_name,
)


def test_a_range_gives_n_log_spaced_lambdas_with_both_ends():
    assert parse_lambdas("1e-6..1e-2:5") == (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
    eleven = parse_lambdas("1e-6..1e-1:11")
    assert len(eleven) == 11 and eleven[0] == 1e-6 and eleven[-1] == 0.1
    ratios = [b / a for a, b in zip(eleven, eleven[1:], strict=False)]
    assert all(math.isclose(r, 10 ** 0.5, rel_tol=0.01) for r in ratios)


def test_a_comma_list_is_sorted_and_each_value_kept_once():
    assert parse_lambdas("0.01, 1e-4,0.0001") == (1e-4, 0.01)


def test_lambdas_are_rounded_to_the_precision_of_their_names():
    (lam,) = parse_lambdas("0.000316227766")
    assert lam == 3.16e-4 and point_name("l1", "activity", lam) == "l1_activity_3.16e-04"


def test_point_names_follow_penalty_place_lambda():
    assert point_name("l1", "kernel_bias", 1e-4) == "l1_kernel_bias_1e-04"
    assert lambda_text(0.25) == "2.5e-01" and lambda_text(1e-6) == "1e-06"


def test_points_are_the_baseline_then_every_penalty_place_and_lambda():
    spec = SweepSpec("s", ("l1", "l2"), ("activity",), (1e-3, 1e-2))
    names = [v.name for v in spec.points()]
    assert names == ["none.s", "l1_activity_1e-03", "l1_activity_1e-02", "l2_activity_1e-03",
                     "l2_activity_1e-02"]
    assert spec.points()[2].lam == 1e-2 and spec.points()[2].penalty == "l1"
    assert [v.name for v in SweepSpec("s", ("l1",), ("activity",), (1e-3,), False).points()] \
        == ["l1_activity_1e-03"]


def test_the_baseline_is_named_after_its_sweep_never_the_registered_none():
    assert SweepSpec("My-Sweep.2", ("l1",), ("activity",), (1e-3,)).points()[0].name \
        == "none.my-sweep.2"
    assert SweepSpec.from_dict({"name": "old", "penalties": ["l1"], "places": ["activity"],
                                "lambdas": [1e-3], "baseline": True}).baseline_name == "none"
    with pytest.raises(SpecError, match="too long"):
        SweepSpec("x" * 60, ("l1",), ("activity",), (1e-3,))
    assert SweepSpec("x" * 60, ("l1",), ("activity",), (1e-3,), False).points()


def test_penalty_and_place_lists_accept_all_and_keep_registry_order():
    assert parse_choices("elasticnet,l1", ("l1", "l2", "elasticnet"), "--penalty") == \
        ("l1", "elasticnet")
    assert parse_choices("all", ("l1", "l2"), "--penalty") == ("l1", "l2")


@pytest.mark.parametrize("text, words", [
    ("1e-6..1e-2", "LO..HI:N"), ("0..1:3", "> 0"), ("1e-2..1e-6:3", "LO must not exceed HI"),
    ("abc", "not a number"), ("1e-3..1e-2:x", "whole number"), ("1e-3..1e-2:0", "1 to 64"),
    ("-1", "> 0"), ("nan", "> 0"), ("1e-3..1e-2:1", "LO == HI"),
])
def test_bad_lambda_specs_say_what_is_wrong(text, words):
    with pytest.raises(SpecError, match=words.replace("(", r"\(")):
        parse_lambdas(text)


@pytest.mark.parametrize("args, words", [
    (["--lambdas", "1e-6..1e-2"], "a range looks like LO..HI:N"),
    (["--penalty", "l3"], "'l3' is not one of l1, l2, elasticnet"),
    (["--where", "bias"], "'bias' is not one of kernel_bias, activity"),
    (["--name", "bad name!"], "--name 'bad name!'"),
    (["--engine", "local", "--address", "auto"], "need --engine ray"),
    (["--resume"], "--resume needs the --name"),
    (["--resume", "--name", "nothing"], "no sweep 'nothing' to resume"),
    (["--cpus-per-trial", "0"], "at least 1"),
    (["--seeds", "0"], "at least 1"),
    (["--name", "n" * 64], "too long for the baseline's name"),
    (["--engine", "dask"], "invalid choice"),
])
def test_misuse_is_one_line_and_exit_2(args, words, tmp_path, capsys):
    status, out, err = sweep(*args, "--models-dir", tmp_path, capsys=capsys)
    assert status == 2, err
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / ".sweeps").exists() or not list((tmp_path / ".sweeps").iterdir())


def test_without_ray_the_ray_engine_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(engines, "ray_available", lambda: False)
    status, _, err = sweep("--engine", "ray", "--models-dir", tmp_path, capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "pip install 'regserve[sweep]'" in err and "--engine local" in err
    assert engines.default_engine() == "local"


def test_a_point_name_taken_by_another_penalty_on_disk_is_refused(tmp_path, capsys):
    """A folder called like a point but holding another penalty must not get its versions."""
    version = tmp_path / "l1_activity_1e-03" / "1"
    version.mkdir(parents=True)
    (version / layout.SAVED_MODEL_FILE).write_bytes(b"")
    layout.write_json_atomic(version / layout.METADATA_FILE, {"variant": {
        "name": "l1_activity_1e-03", "penalty": "l2", "where": "activity", "lam": 1e-3}})
    status, _, err = sweep("--engine", "local", "--penalty", "l1", "--where", "activity",
                           "--lambdas", "1e-3", "--models-dir", tmp_path, capsys=capsys)
    assert status == 2 and "another penalty" in err and len(err.strip().splitlines()) == 1


def test_a_point_trained_with_other_settings_is_refused_before_any_training(tmp_path, capsys):
    """A new version of a point would replace the one served: other epochs are refused, with
    the difference named, and no manifest is left behind (the same name can be tried again)."""
    version = tmp_path / "l1_activity_1e-03" / "1"
    version.mkdir(parents=True)
    (version / layout.SAVED_MODEL_FILE).write_bytes(b"")
    layout.write_json_atomic(version / layout.METADATA_FILE, {
        "variant": {"name": "l1_activity_1e-03", "penalty": "l1", "where": "activity",
                    "lam": 1e-3},
        "training": {"epochs": 3, "batch_size": 50, "limit": None, "validation_split": 0.2}})
    data = tiny_npz(tmp_path / "tiny.npz")
    status, _, err = sweep("--engine", "local", "--penalty", "l1", "--where", "activity",
                           "--lambdas", "1e-3", "--epochs", "1", "--batch-size", "50",
                           "--data", data, "--name", "s2", "--models-dir", tmp_path,
                           "--quiet", capsys=capsys)
    assert status == 2, err
    assert "epochs 3 -> 1" in err and "--models-dir" in err and len(err.strip().splitlines()) == 1
    assert layout.versions(version.parent) == [1]
    assert not (tmp_path / ".sweeps" / "s2.json").exists()


def test_an_existing_sweep_name_needs_resume_and_resume_keeps_its_own_settings(tmp_path,
                                                                               capsys):
    (tmp_path / ".sweeps").mkdir()
    layout.write_json_atomic(tmp_path / ".sweeps" / "s1.json", {
        "name": "s1", "spec": {"baseline": True}, "options": {
            "penalty": "l1", "where": "activity", "lambdas": "1e-3", "data": "synthetic",
            "epochs": 1, "batch_size": 50, "seed": 0, "validation_split": 0.2, "limit": 300}})
    status, _, err = sweep("--engine", "local", "--name", "s1", "--models-dir", tmp_path,
                           capsys=capsys)
    assert status == 2 and "already exists" in err and "--resume" in err
    status, _, err = sweep("--engine", "local", "--name", "s1", "--resume", "--epochs", "3",
                           "--models-dir", tmp_path, capsys=capsys)
    assert status == 2 and "--epochs 3 differs" in err
