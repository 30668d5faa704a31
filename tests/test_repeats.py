"""Repeats over seeds: what makes a group, the jobs of a run, and the guard that keeps a run from
silently replacing a variant trained with other settings."""

from __future__ import annotations

import hashlib
import json

import pytest

from regserve_contracts import layout
from regserve_contracts.repeats import (
    group_digest,
    read_repeat,
    settings_differences,
)
from regserve_contracts.variants import get_variant
from tests.support.sweep import tiny_npz
from trainer.__main__ import main
from trainer.repeats import expand

VARIANT = {"name": "l2_activity", "penalty": "l2", "where": "activity", "lam": 0.01,
           "label": "L2 on activations, lambda 0.01"}
DATA = {"name": "npz:tiny.npz", "description": "a path", "train_size": 300, "test_size": 94,
        "fingerprint": "f" * 64}
TRAINING = {"epochs": 1, "batch_size": 50, "limit": None, "validation_split": 0.2, "seed": 42}
QUICK = ("--epochs", "1", "--batch-size", "50")


def cli(*args, capsys) -> tuple[int, str, str]:
    try:
        status = main([str(arg) for arg in args])
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_group_digest_is_a_sha256_of_the_settings_without_the_seed():
    """Typed here: the canonical JSON the digest stands for (sorted keys, no spaces)."""
    canonical = {"data": {"fingerprint": "f" * 64, "name": "npz:tiny.npz", "test_size": 94,
                          "train_size": 300},
                 "training": {"batch_size": 50, "epochs": 1, "limit": None,
                              "validation_split": 0.2},
                 "variant": {"lam": 0.01, "name": "l2_activity", "penalty": "l2",
                             "where": "activity"}}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    assert group_digest(VARIANT, DATA, TRAINING) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert group_digest(VARIANT, DATA, {**TRAINING, "seed": 7}) == group_digest(
        VARIANT, DATA, TRAINING)
    assert group_digest(VARIANT, {**DATA, "description": "elsewhere"}, TRAINING) == \
        group_digest(VARIANT, DATA, TRAINING)  # the same file moved is the same data


@pytest.mark.parametrize("block, key, value", [
    ("variant", "lam", 0.1), ("variant", "penalty", "l1"), ("data", "fingerprint", "e" * 64),
    ("data", "train_size", 299), ("training", "epochs", 2), ("training", "batch_size", 32),
    ("training", "limit", 2000), ("training", "validation_split", 0.1),
])
def test_every_other_setting_makes_another_group(block, key, value):
    blocks = {"variant": VARIANT, "data": DATA, "training": TRAINING}
    changed = {**blocks, block: {**blocks[block], key: value}}
    assert group_digest(**changed) != group_digest(**blocks)


def test_an_older_export_or_a_malformed_block_joins_no_group():
    assert read_repeat({"variant": VARIANT}) is None
    assert read_repeat({"repeat": {"group": "g", "seed": "x", "index": 1, "of": 1}}) is None
    repeat = read_repeat({"repeat": {"group": "g", "seed": 43, "index": 2, "of": 3}})
    assert (repeat.group, repeat.seed, repeat.index, repeat.of) == ("g", 43, 2, 3)


def test_settings_differences_name_each_change_and_skip_what_an_old_export_lacks():
    stored = {"variant": VARIANT, "data": {k: v for k, v in DATA.items() if k != "fingerprint"},
              "training": {**TRAINING, "epochs": 3}}
    assert settings_differences(stored, VARIANT, DATA, {**TRAINING, "seed": 1}) == [
        "epochs 3 -> 1"]
    assert settings_differences({"variant": VARIANT, "data": DATA, "training": TRAINING},
                                VARIANT, {**DATA, "fingerprint": "e" * 64}, TRAINING) == [
        "data fingerprint ffffffff -> eeeeeeee"]


def test_jobs_run_seeds_s_to_s_plus_n_minus_1_variant_by_variant():
    jobs = expand([get_variant("none"), get_variant("l2_activity")], seed=42, seeds=3)
    assert [(j.variant.name, j.seed, j.index, j.of) for j in jobs] == [
        ("none", 42, 1, 3), ("none", 43, 2, 3), ("none", 44, 3, 3),
        ("l2_activity", 42, 1, 3), ("l2_activity", 43, 2, 3), ("l2_activity", 44, 3, 3)]
    assert jobs[1].label == "none (repeat 2 of 3, seed 43)"
    assert expand([get_variant("none")], 5, 1)[0].label == "none"


def fake_export(folder, name: str, training: dict) -> None:
    """A version folder as an older trainer left it: no fingerprint, no repeat block."""
    version = folder / name / "1"
    version.mkdir(parents=True)
    (version / layout.SAVED_MODEL_FILE).write_bytes(b"")
    layout.write_json_atomic(version / layout.METADATA_FILE, {
        "variant": get_variant(name).to_dict(), "labels": {},
        "data": {"name": "npz:tiny.npz", "train_size": 300, "test_size": 94},
        "training": training})


def test_a_run_with_other_settings_is_refused_and_names_the_way_out(tmp_path, capsys):
    """Other epochs would replace the served 'none' silently: exit 2, one line naming what
    differs, --models-dir and --name-suffix; nothing is trained or written."""
    fake_export(tmp_path, "none", {**TRAINING, "epochs": 3})
    data = tiny_npz(tmp_path / "tiny.npz")
    status, _, err = cli("--variant", "none", "--data", data, *QUICK,
                         "--models-dir", tmp_path, capsys=capsys)
    assert status == 2, err
    err = err.strip().splitlines()[-1]  # the line before it names the data loaded
    assert err.startswith("python -m trainer: error:") and "Traceback" not in err
    assert "epochs 3 -> 1" in err and "--models-dir" in err and "--name-suffix" in err
    assert layout.versions(tmp_path / "none") == [1]


@pytest.mark.parametrize("args, words", [
    (["--seeds", "0"], "at least 1"),
    (["--address", "auto"], "need --engine ray"),
    (["--name-suffix", "/x"], "--name-suffix '/x'"),
    (["--engine", "dask"], "invalid choice"),
])
def test_misuse_of_the_repeat_flags_is_one_line_and_exit_2(args, words, tmp_path, capsys):
    status, _, err = cli("--variant", "none", *args, "--data", "synthetic",
                         "--models-dir", tmp_path, capsys=capsys)
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_seeds_train_each_variant_again_as_new_versions_of_one_group(tmp_path, capsys):
    """--seeds 2 beside a 'none' trained with other settings: --name-suffix trains 'none_r'
    twice (seeds 5, 6), one group; the old 'none' keeps its one version."""
    fake_export(tmp_path, "none", {**TRAINING, "epochs": 3})
    data = tiny_npz(tmp_path / "tiny.npz")
    status, out, err = cli("--variant", "none", "--seeds", "2", "--seed", "5",
                           "--name-suffix", "_r", "--data", data, *QUICK,
                           "--models-dir", tmp_path, capsys=capsys)
    assert status == 0, err
    assert "none_r (repeat 1 of 2, seed 5)" in err and "none_r (repeat 2 of 2, seed 6)" in err
    assert layout.versions(tmp_path / "none") == [1]
    assert layout.versions(tmp_path / "none_r") == [1, 2]
    first, second = (layout.read_metadata(tmp_path / "none_r" / str(v)) for v in (1, 2))
    assert first["repeat"]["group"] == second["repeat"]["group"]
    assert [(m["repeat"]["seed"], m["repeat"]["index"], m["repeat"]["of"], m["training"]["seed"])
            for m in (first, second)] == [(5, 1, 2, 5), (6, 2, 2, 6)]
    assert first["weights_sha256"] != second["weights_sha256"]  # the seed changed the training
    assert first["data"]["fingerprint"] == second["data"]["fingerprint"]
    assert str(tmp_path / "none_r" / "2") in out
    # One card per variant: the server answers with the newest repeat and says which one it is.
    from server import create_app
    from tests.support.api import TEST_SETTINGS

    client = create_app(**TEST_SETTINGS, models_dir=tmp_path, variants=("none_r",)).test_client()
    summary = client.get("/variants/none_r").get_json()
    assert summary["version"] == 2
    assert summary["repeat"] == second["repeat"]
    answer = client.post("/predict", json={"pixels": [[0] * 28] * 14 + [[255] * 28] * 14,
                                           "preprocessed": True}).get_json()
    assert answer["variants"]["none_r"]["repeat"] == {**second["repeat"]}
