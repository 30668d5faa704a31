"""The trainer end to end: the user's command, local archives, the seed's claim, reproducibility."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from regserve_contracts import layout
from regserve_contracts.labels import NUM_CLASSES
from regserve_contracts.signature import SIGNATURE_KEY, to_model_input
from regserve_contracts.variants import VARIANT_NAMES, VARIANTS, get_variant
from tests.support import archives
from trainer.__main__ import main
from trainer.data import Dataset

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
QUICK = ["--epochs", "1", "--batch-size", "32", "--quiet"]


def cli(*args: str, capsys) -> tuple[int, str, str]:
    """Run ``python -m trainer ARGS`` in-process; return (exit status, stdout, stderr)."""
    try:
        status = main([str(arg) for arg in args])
    except SystemExit as exc:  # argparse exits by itself
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def user_command(tmp_path_factory):
    """The README's quick command, smaller: every variant, one epoch, 470 synthetic images."""
    target = tmp_path_factory.mktemp("cli") / "models"
    process = subprocess.run(
        [sys.executable, "-m", "trainer", "--all", "--data", "synthetic", "--epochs", "1",
         "--limit", "470", "--batch-size", "50", "--models-dir", str(target)],
        cwd=target.parent, env=ENV, capture_output=True, text=True, timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return target, process


@pytest.mark.slow
def test_all_variants_become_savedmodels_that_load_without_project_code(user_command):
    """Each variant's SavedModel loads with plain TensorFlow (the trainer blocked from import),
    and its serving signature turns a blank image into 47 probabilities summing to 1."""
    models, _ = user_command
    version_dirs = [layout.newest_version(models / name) for name in VARIANT_NAMES]
    assert all(version_dirs), f"missing variants in {sorted(p.name for p in models.iterdir())}"
    script = textwrap.dedent("""
        import json, sys
        class Block:  # prove the models need none of the project's modules
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("trainer", "server", "client", "tests",
                                          "regserve_contracts"):
                    raise ImportError(f"project module {name} must not be needed")
        sys.meta_path.insert(0, Block())
        import tensorflow as tf
        answers = {}
        for folder in sys.argv[1:]:
            # TF Serving's default key, spelled out: what any other client would use.
            serve = tf.saved_model.load(folder).signatures["serving_default"]
            probs = serve(image=tf.zeros([1, 28, 28, 1], tf.float32))["probabilities"].numpy()
            answers[folder] = [list(probs.shape), float(probs.sum()), float(probs.min())]
        print(json.dumps(answers))
    """)
    process = subprocess.run([sys.executable, "-I", "-c", script, *map(str, version_dirs)],
                             cwd=models.parent, env=ENV, capture_output=True, text=True,
                             timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    answers = json.loads(process.stdout.strip().splitlines()[-1])
    assert len(answers) == len(VARIANTS)
    for folder, (shape, total, smallest) in answers.items():
        assert shape == [1, NUM_CLASSES], folder
        assert total == pytest.approx(1.0, abs=1e-4), folder
        assert smallest >= 0.0, folder


@pytest.mark.slow
def test_user_command_reports_progress_models_and_results(user_command):
    """Without --quiet: Keras' epoch lines, an overall "[k/n] ... elapsed, ETA" line per
    variant, then where the models went and the results table; the reports are built."""
    models, process = user_command
    total = len(VARIANTS)
    for index, name in enumerate(VARIANT_NAMES, start=1):
        assert f"[{index}/{total}] {name}:" in process.stderr
    assert process.stderr.count("ETA") == total
    assert "val_accuracy" in process.stdout  # Keras' per-epoch line
    assert f"Models in {models}" in process.stdout
    for name in VARIANT_NAMES:
        assert str(models / name / "1") in process.stdout
    assert "Traceback" not in process.stderr
    reports = models / layout.REPORTS_DIR
    expected = {"comparison.png", "results.md", "results.csv"}
    expected |= {f"curves_{name}.png" for name in VARIANT_NAMES}
    assert expected <= {path.name for path in reports.iterdir()}


@pytest.mark.slow
def test_report_flag_rebuilds_reports_from_disk(user_command, tmp_path, capsys):
    """--report trains nothing and rebuilds every report from the metadata on disk."""
    models = tmp_path / "models"
    shutil.copytree(user_command[0], models, ignore=shutil.ignore_patterns("variables"))
    shutil.rmtree(models / layout.REPORTS_DIR)
    before = {name: layout.versions(models / name) for name in VARIANT_NAMES}
    status, out, err = cli("--report", "--models-dir", models, capsys=capsys)
    assert status == 0, err
    assert {name: layout.versions(models / name) for name in VARIANT_NAMES} == before
    results = (models / layout.REPORTS_DIR / "results.md").read_text()
    assert "synthetic-offline" in results and "not EMNIST" in results
    assert len(list((models / layout.REPORTS_DIR).glob("curves_*.png"))) == len(VARIANTS)
    assert all(name in out for name in VARIANT_NAMES)


ARCHIVES = {
    "matlab.zip": (archives.write_matlab_zip, "matlab.zip"),
    "gzip.zip": (archives.write_gzip_zip, "gzip.zip"),
    "emnist.npz": (archives.write_npz, ".npz"),
}


def assert_source_recorded(models: Path, file_name: str, arrays) -> None:
    """metadata.json and results.md name the local file the model was trained on."""
    metadata = layout.read_metadata(models / "none" / "1")
    assert file_name in metadata["data"]["name"]
    assert ARCHIVES[file_name][1] in metadata["data"]["description"]
    assert metadata["data"]["train_size"] == len(arrays[0])
    assert metadata["data"]["test_size"] == len(arrays[2])
    results = (models / layout.REPORTS_DIR / "results.md").read_text()
    assert metadata["data"]["name"] in results and "not EMNIST" not in results


@pytest.mark.parametrize("file_name", ["matlab.zip", "gzip.zip"])
def test_local_archive_trains_and_is_recorded(file_name, tmp_path, capsys):
    """--data PATH with EMNIST's matlab.zip or gzip.zip layout trains and names its source
    in metadata.json and in the results table."""
    arrays = archives.small_arrays(train_per_class=3, test_per_class=1)
    archive = ARCHIVES[file_name][0](tmp_path / file_name, arrays)
    status, out, err = cli("--variant", "none", "--data", archive, *QUICK,
                           "--models-dir", tmp_path / "models", capsys=capsys)
    assert (status, out, err) == (0, "", "")
    assert_source_recorded(tmp_path / "models", file_name, arrays)


def test_npz_trains_and_quiet_means_silent(tmp_path):
    """A real process with --data x.npz --quiet writes nothing at all to stdout or stderr
    (not even TensorFlow's start-up notes) and records the .npz as the source."""
    arrays = archives.small_arrays(train_per_class=3, test_per_class=1)
    archive = archives.write_npz(tmp_path / "emnist.npz", arrays)
    process = subprocess.run(
        [sys.executable, "-m", "trainer", "--variant", "none", "--data", str(archive), *QUICK,
         "--models-dir", str(tmp_path / "models")],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert (process.returncode, process.stdout, process.stderr) == (0, "", "")
    assert_source_recorded(tmp_path / "models", "emnist.npz", arrays)


def small_real_or_synthetic(size: int, seed: int = 0) -> Dataset:
    """A class-balanced training set of ``size`` real images when the shared sample exists."""
    from trainer.data.sources import balanced_indices, load_dataset

    if not archives.SAMPLE.is_file():
        return load_dataset("synthetic", limit=size, seed=seed, progress=False)
    with np.load(archives.SAMPLE) as npz:
        x, y, x_test, y_test = (npz[key] for key in ("x_train", "y_train", "x_test", "y_test"))
    keep = balanced_indices(y, size, seed=seed)
    return Dataset("emnist-sample", "the shared sample of real EMNIST", x[keep],
                   y[keep].astype(np.int64), x_test[:94], y_test[:94].astype(np.int64))


@pytest.fixture(scope="module")
def same_training(tmp_path_factory):
    """``none`` and ``l1_kernel_bias`` trained alike (same data, epochs, seed), then ``none``
    once more into the same folder: versions none/1, none/2 and l1_kernel_bias/1."""
    from trainer.train import TrainConfig, train_variants

    models = tmp_path_factory.mktemp("same_training")
    dataset = small_real_or_synthetic(400)
    config = TrainConfig(epochs=2, batch_size=32, seed=0, verbose=0)
    variants = [get_variant("none"), get_variant("l1_kernel_bias"), get_variant("none")]
    train_variants(variants, dataset, config, models, log=lambda line: None)
    return models


@pytest.mark.slow
def test_l1_on_kernels_leaves_more_near_zero_weights_than_no_penalty(same_training):
    """The seed's claim: after the same training, l1_kernel_bias has a larger share of
    weights with |w| < 1e-2 and < 1e-3 than the unpenalized baseline."""
    none, l1 = (layout.read_metadata(same_training / name / "1")["weight_sparsity"]["all"]
                for name in ("none", "l1_kernel_bias"))
    assert l1["<1e-02"] > none["<1e-02"]
    assert l1["<1e-03"] > none["<1e-03"]


@pytest.mark.slow
def test_second_run_adds_version_2_beside_version_1(same_training):
    """A second run never overwrites: version 2 appears beside version 1, and no staging
    folder is left behind."""
    assert layout.versions(same_training / "none") == [1, 2]
    assert not [p for p in (same_training / "none").iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_same_seed_and_data_give_the_same_model(same_training):
    """Same seed and data: same test accuracy and loss, bit-identical weights (the digest
    does tell different weights apart: l1_kernel_bias's differs)."""
    first, second, l1 = (layout.read_metadata(same_training / name / version) for name, version
                         in (("none", "1"), ("none", "2"), ("l1_kernel_bias", "1")))
    assert first["test"]["accuracy"] == second["test"]["accuracy"]
    assert first["test"]["loss"] == second["test"]["loss"]
    assert first["weights_sha256"] == second["weights_sha256"]
    assert l1["weights_sha256"] != first["weights_sha256"]


@pytest.mark.slow
def test_synthetic_trained_model_reads_real_handwriting_above_chance(real_sample, tmp_path):
    """Pipeline check across sources (orientation, scale, export): a model trained only on the
    offline set, served from its SavedModel, beats chance on real EMNIST by a wide margin.
    How close it gets to real training is benchmarks/offline_realism.py's question."""
    import tensorflow as tf

    from trainer.data.synthetic import load_synthetic
    from trainer.train import TrainConfig, train_variants

    dataset = load_synthetic(train_size=470, test_size=47, seed=0)
    [result] = train_variants([get_variant("none")], dataset,
                              TrainConfig(epochs=2, batch_size=16, verbose=0), tmp_path,
                              log=lambda line: None)
    serve = tf.saved_model.load(str(result.version_dir)).signatures[SIGNATURE_KEY]
    images = to_model_input(real_sample["x_test"])
    predicted = serve(image=tf.constant(images))["probabilities"].numpy().argmax(axis=1)
    correct = int((predicted == real_sample["y_test"]).sum())
    # Chance is 1/47; demand five binomial standard deviations above it.
    n, p = len(predicted), 1 / NUM_CLASSES
    assert correct > n * p + 5 * (n * p * (1 - p)) ** 0.5, f"{correct}/{n} correct"


# --- misuse: one clear line on stderr, a non-zero exit, no traceback ----------------------


def test_unknown_variant_lists_the_valid_names_in_one_line():
    """A real process: exit 2, one line naming every valid variant, no traceback."""
    process = subprocess.run([sys.executable, "-m", "trainer", "--variant", "nope"], env=ENV,
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 2
    assert process.stdout == ""
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and "'nope'" in lines[0], process.stderr
    assert all(name in lines[0] for name in VARIANT_NAMES)


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        ([], 2, ["--all", "--variant", "--custom"]),
        (["--custom", "l1:activity"], 2, ["PENALTY:WHERE:LAMBDA"]),
        (["--custom", "l3:activity:0.01"], 2, ["l3", "l1, l2"]),
        (["--custom", "l1:activity:abc"], 2, ["'abc'", "not a number"]),
        (["--custom", "l1:kernel_bias:-1"], 2, ["lambda"]),
        (["--custom", "l1:activity:0.01:Bad Name"], 2, ["Bad Name"]),
        (["--custom", "l1:activity:0.5:none"], 2, ["'none'"]),
        (["--all", "--epochs", "0"], 2, ["--epochs"]),
        (["--all", "--validation-split", "1"], 2, ["--validation-split"]),
        (["--all", "--limit", "-5"], 2, ["--limit"]),
        (["--report", "--all"], 2, ["--report"]),
        (["--all", "--data", "/no/such/emnist.zip"], 1, ["/no/such/emnist.zip", "emnist",
                                                         "synthetic", ".npz"]),
    ],
)
def test_misuse_gets_one_clear_line_and_a_nonzero_exit(args, status, words, tmp_path, capsys):
    """Each mistake is named in one line on stderr (exit 2 for usage, 1 for data); nothing is
    trained and nothing is written."""
    code, out, err = cli(*args, "--models-dir", tmp_path / "models", capsys=capsys)
    assert code == status
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert all(word in err for word in words), err
    assert not (tmp_path / "models").exists()


def test_report_on_an_empty_models_dir_says_there_is_nothing(tmp_path, capsys):
    """--report with no trained models: exit 1 and a hint to train first."""
    code, out, err = cli("--report", "--models-dir", tmp_path, capsys=capsys)
    assert code == 1 and out == ""
    assert "no trained models" in err and "--all" in err


def test_custom_name_with_another_penalty_on_disk_is_refused(tmp_path, capsys):
    """A custom variant may not add a version under a name whose versions hold another
    penalty: the newest version of a name must mean one penalty."""
    stored = tmp_path / "sweep" / "1"
    stored.mkdir(parents=True)
    (stored / layout.SAVED_MODEL_FILE).write_bytes(b"")
    variant = {"name": "sweep", "penalty": "l1", "where": "activity", "lam": 0.001}
    (stored / layout.METADATA_FILE).write_text(json.dumps({"variant": variant}))
    code, _, err = cli("--custom", "l1:activity:0.01:sweep", "--models-dir", tmp_path,
                       capsys=capsys)
    assert code == 2 and "sweep" in err and "another name" in err
    assert layout.versions(tmp_path / "sweep") == [1]


def test_list_shows_every_variant_with_its_penalty(capsys):
    """--list prints one row per variant (and per --custom) with penalty, place and lambda."""
    code, out, err = cli("--list", "--custom", "l2:activity:0.05:l2_sweep", capsys=capsys)
    assert code == 0 and err == ""
    rows = {line.split()[0]: line.split()[1:4] for line in out.strip().splitlines()[1:]}
    assert list(rows) == [*VARIANT_NAMES, "l2_sweep"]
    for variant in VARIANTS:
        lam = "-" if variant.penalty == "none" else f"{variant.lam:g}"
        assert rows[variant.name] == [variant.penalty, variant.where, lam]
    assert rows["l2_sweep"] == ["l2", "activity", "0.05"]


def test_too_few_images_to_split_is_one_line_not_a_traceback(tmp_path, capsys):
    """--limit 1 leaves nothing to validate on: exit 1 with one line saying so, no version."""
    archive = archives.write_npz(tmp_path / "tiny.npz", archives.small_arrays(1, 1))
    code, out, err = cli("--variant", "none", "--data", archive, "--limit", "1", *QUICK,
                         "--models-dir", tmp_path / "models", capsys=capsys)
    assert (code, out) == (1, "")
    assert len(err.strip().splitlines()) == 1 and "use more images" in err, err
    assert layout.variant_dirs(tmp_path / "models") == []
