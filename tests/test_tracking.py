"""``--track``: every trained model an MLflow run that agrees with its metadata.json;
``--tensorboard``: weight histograms every epoch; a store that fails costs one warning."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from regserve_contracts import layout
from server.launcher import free_port, start
from tests.support.procnet import LOOPBACK_V4, descendants, listeners, wait_gone
from tests.support.sweep import tiny_npz
from tests.support.tracking import read_only_folder, store_runs, train
from trainer.tracking import record
from trainer.tracking.store import TrackingStore

pytest.importorskip("mlflow")
VARIANT = "l1_kernel_bias"
QUICK = ("--epochs", "2", "--batch-size", "60", "--seed", "0", "--quiet")
#: metadata.json's sparsity keys, as MLflow may name them (it refuses "<" and "=").
SPARSITY_NAMES = {"<1e-02": "lt1e-02", "<1e-03": "lt1e-03", "<1e-04": "lt1e-04", "==0": "eq0"}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return tiny_npz(tmp_path_factory.mktemp("tracking_data") / "tiny.npz")


@pytest.fixture(scope="module")
def tracked(tiny_data, tmp_path_factory):
    """One variant trained two epochs with two seeds (versions 1 and 2), with --track (the
    default store) and --tensorboard; the tests read version 1 (seed 0)."""
    root = tmp_path_factory.mktemp("tracked")
    status, out, err = train("--variant", VARIANT, "--seeds", "2", "--data", tiny_data, *QUICK,
                             "--models-dir", root / "models", "--track",
                             "--tensorboard", root / "tb")
    assert status == 0, err
    assert "warning" not in err, err
    version_dir = root / "models" / VARIANT / "1"
    return root, version_dir, layout.read_metadata(version_dir)


@pytest.mark.slow
def test_a_tracked_training_is_a_run_whose_params_and_metrics_are_its_metadata(tracked, tiny_data):
    root, version_dir, meta = tracked
    uri = f"sqlite:///{root / 'models' / 'mlflow.db'}"  # the default: beside the models
    run, again = store_runs(uri)
    assert run.info.status == "FINISHED" and run.info.run_name == f"{VARIANT} v1"
    variant, training, data = meta["variant"], meta["training"], meta["data"]
    assert run.data.params == {
        "variant": VARIANT, "penalty": variant["penalty"], "where": variant["where"],
        "lambda": str(variant["lam"]), "seed": "0", "epochs": "2", "batch_size": "60",
        "limit": "None", "validation_split": str(training["validation_split"]),
        "data": data["name"], "data_fingerprint": data["fingerprint"],
        "train_size": "300", "test_size": "94"}
    # The fingerprint is the arrays' own, hashed here independently of the trainer.
    with np.load(tiny_data) as arrays:
        digest = hashlib.sha256()
        for key in ("x_train", "y_train", "x_test", "y_test"):
            array = np.ascontiguousarray(arrays[key])
            digest.update(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
    assert data["fingerprint"] == digest.hexdigest()
    metrics = run.data.metrics
    assert metrics["test.accuracy"] == meta["test"]["accuracy"]
    assert metrics["test.loss"] == meta["test"]["loss"]
    assert metrics["parameters"] == meta["parameters"]
    sparsity = {f"weight_sparsity.{layer}.{SPARSITY_NAMES[key]}": share
                for layer, shares in meta["weight_sparsity"].items()
                for key, share in shares.items()}
    assert {k: v for k, v in metrics.items() if k.startswith("weight_sparsity.")} == sparsity
    assert len(sparsity) == 5 * 4  # four layers and "all", four thresholds each
    for layer, share in meta["activation_sparsity_test"].items():
        assert metrics[f"activation_sparsity_test.{layer}"] == share
    # Blocks other parts of the export add are there too, by their path in metadata.json.
    assert metrics["calibration.ece"] == meta["calibration"]["ece"]
    assert metrics["generalization.gap"] == meta["generalization"]["gap"]
    assert metrics["robustness.mean_accuracy"] == meta["robustness"]["mean_accuracy"]
    assert run.data.tags["export_path"] == str(version_dir) and run.data.tags["version"] == "1"
    # The second seed is a run of its own in the same repeat group (the MLflow UI groups by it).
    group = meta["repeat"]["group"]
    assert run.data.tags["repeat_group"] == again.data.tags["repeat_group"] == group
    assert (again.info.run_name, again.data.params["seed"]) == (f"{VARIANT} v2", "1")


@pytest.mark.slow
def test_each_epoch_is_logged_and_the_artifacts_are_the_exported_files(tracked):
    from mlflow import MlflowClient

    root, version_dir, meta = tracked
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'models' / 'mlflow.db'}")
    run, _ = store_runs(client.tracking_uri)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        logged = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
        assert logged == list(enumerate(meta["history"][key], start=1)), key
    names = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert names == {"metadata.json", f"curves_{VARIANT}.png"}
    copy = Path(client.download_artifacts(run.info.run_id, "metadata.json", str(root)))
    assert copy.read_bytes() == (version_dir / "metadata.json").read_bytes()
    # Artifacts stay beside the store, not in whatever folder the trainer ran from.
    assert run.info.artifact_uri.startswith((root / "models" / "mlartifacts").as_uri())


@pytest.mark.slow
def test_tensorboard_gets_the_histogram_of_every_weight_every_epoch(tracked):
    import tensorflow as tf

    root, _, _ = tracked
    run_dir, other = sorted((root / "tb" / VARIANT).iterdir(), key=lambda path: path.name[-1])
    assert run_dir.name.endswith("-seed0") and other.name.endswith("-seed1")  # one folder a run
    counts: dict[tuple[str, int], float] = {}
    for events in (run_dir / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "histograms":
                    buckets = tf.make_ndarray(value.tensor)  # rows: left, right, count
                    counts[(value.tag, event.step)] = float(buckets[:, 2].sum())
    conv1 = {step: count for (tag, step), count in counts.items()
             if "conv1" in tag and "kernel" in tag}
    assert conv1 == {0: 3 * 3 * 1 * 32, 1: 3 * 3 * 1 * 32}  # every kernel weight, each epoch
    assert len({tag for tag, _ in counts}) == 8  # kernel and bias of each of the four layers


@pytest.mark.slow
def test_a_store_that_cannot_be_written_costs_one_warning_and_no_model(tiny_data, tmp_path):
    models = tmp_path / "models"
    with read_only_folder(tmp_path / "store") as store:
        status, out, err = train("--variant", "none", "--variant", VARIANT, "--data", tiny_data,
                                 *QUICK, "--epochs", "1", "--models-dir", models,
                                 "--track", f"sqlite:///{store / 'mlflow.db'}")
    assert status == 0, err
    for name in ("none", VARIANT):
        assert layout.is_complete(models / name / "1")
        assert layout.read_metadata(models / name / "1")["variant"]["name"] == name
    assert err.count("\n") == 1 and err.startswith("warning: MLflow tracking is off"), err
    assert str(store) in err and "Traceback" not in err


def test_a_server_that_is_not_there_costs_one_warning_and_seconds():
    warnings: list[str] = []
    store = TrackingStore(f"http://127.0.0.1:{free_port()}", "regserve", warnings.append)
    started = time.monotonic()
    assert store.start("none", {"kind": "model"}) is None
    store.log("some-run", metrics=[("loss", 1.0, 1)])
    store.end("some-run")
    assert time.monotonic() - started < 20
    assert len(warnings) == 1 and "cannot start a run at http://127.0.0.1:" in warnings[0]


@pytest.mark.parametrize("command", [("--variant", "none"),
                                     ("sweep", "--engine", "local", "--name", "s")])
@pytest.mark.parametrize("flag,package", [("--track", "mlflow"),
                                          ("--tensorboard=tb", "tensorboard")])
def test_without_the_extra_the_flag_says_in_one_line_what_to_install(command, flag, package,
                                                                     tmp_path, capsys,
                                                                     monkeypatch):
    import importlib.util

    from trainer.__main__ import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == package else real(name, *rest))
    status = main([*command, "--data", "synthetic", "--models-dir", str(tmp_path / "m"), flag])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1, err
    assert f"{flag.split('=')[0]} needs {package}" in err and "pip install 'regserve[track]'" in err
    assert not (tmp_path / "m").exists()  # nothing trained, no sweep manifest written


def test_the_flag_wins_then_regserve_track_then_mlflows_own_variable_then_the_models_folder():
    from trainer.tracking import requested, store_uri

    assert requested("http://h:5000", {"REGSERVE_TRACK": "0"}) == "http://h:5000"
    assert requested(None, {"REGSERVE_TRACK": "1"}) == ""
    assert requested(None, {"REGSERVE_TRACK": "sqlite:///x.db"}) == "sqlite:///x.db"
    assert requested(None, {"REGSERVE_TRACK": "off"}) is None and requested(None, {}) is None
    env = {"MLFLOW_TRACKING_URI": "http://tracking:5000"}
    assert store_uri("sqlite:///given.db", Path("m"), env) == "sqlite:///given.db"
    assert store_uri("", Path("m"), env) == "http://tracking:5000"
    assert store_uri("", Path("/srv/m"), {}) == "sqlite:////srv/m/mlflow.db"


def test_the_tracking_store_and_its_artifacts_are_names_no_variant_may_take():
    from regserve_contracts.variants import RESERVED_NAMES

    assert {layout.TRACKING_DB, layout.TRACKING_ARTIFACTS_DIR} <= RESERVED_NAMES


def test_blocks_that_others_add_are_flattened_into_metrics_but_lists_and_seeds_are_not():
    metadata = {"calibration": {"ece": 0.125, "bins": [{"count": 3}]},
                "robustness": {"corruptions": {"noise": 0.5}, "mean_accuracy": 0.5, "seed": 7},
                "generalization": {"gap": -0.25, "nan": float("nan")}, "sweep": {"pid": 1}}
    assert record.final_metrics(metadata) == {
        "calibration.ece": 0.125, "robustness.corruptions.noise": 0.5,
        "robustness.mean_accuracy": 0.5, "generalization.gap": -0.25}


def test_a_resumed_sweep_keeps_its_parent_run_and_logs_each_point_once(tracked, tmp_path):
    """The driver's side of a sweep, fed the outcomes of a finished trial and a failed one
    twice (as ``--resume`` does): one parent, the exported point once, each failed try."""
    from regserve_contracts.variants import Variant
    from trainer.repeats import expand
    from trainer.sweep.engines import PointOutcome
    from trainer.sweep.spec import SweepSpec
    from trainer.sweep.trial import TrialSettings
    from trainer.tracking.runs import SweepRun

    _, version_dir, meta = tracked
    lam = Variant.from_dict(meta["variant"]).lam
    spec = SweepSpec("again", ("l1",), ("kernel_bias",), (lam, 0.5), baseline=False)
    settings = TrialSettings("again", "local", str(tmp_path), 2, 60, 0.2, 0, None, 1)
    failed = spec.points()[1].name
    outcomes = [PointOutcome(VARIANT, metrics={"version_dir": str(version_dir)}),
                PointOutcome(failed, error="OSError: disk full")]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    jobs = expand(spec.points(), 0, 1)
    for _ in range(2):
        SweepRun(TrackingStore(uri, "regserve", pytest.fail), spec, jobs, settings,
                 meta["data"]).record(outcomes)
    runs = store_runs(uri)
    (parent,) = [run for run in runs if run.data.tags["kind"] == "sweep"]
    children = [run for run in runs if run is not parent]
    names = sorted(run.info.run_name for run in children)
    assert names == sorted([failed, failed, f"{VARIANT} v1"])
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    assert parent.info.status == "FAILED"  # a point failed
    for run in children:
        if run.info.run_name == failed:
            assert run.info.status == "FAILED" and run.data.params["lambda"] == "0.5"
            assert "disk full" in run.data.tags["error"]


@pytest.mark.slow
def test_an_mlflow_server_on_loopback_lists_the_runs_over_its_rest_api(tracked, tmp_path):
    root, version_dir, _ = tracked
    uri = f"sqlite:///{root / 'models' / 'mlflow.db'}"
    expected, _ = store_runs(uri)

    def command(bind: str) -> list[str]:
        host, port = bind.split(":")
        return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
                "--host", host, "--port", port, "--workers", "1"]

    # No telemetry; no job runner (seven extra processes, for MLflow's GenAI features).
    server = start(tmp_path / "mlflow.log", command=command, ready_path="/health",
                   env={"MLFLOW_DISABLE_TELEMETRY": "true",
                        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    processes = descendants(server.pid)
    try:
        exposed = [found for found in listeners(processes) if found.address != LOOPBACK_V4]
        assert not exposed, exposed
        api = f"{server.url}/api/2.0/mlflow"
        experiment = requests.get(f"{api}/experiments/get-by-name", timeout=30,
                                  params={"experiment_name": "regserve"}).json()["experiment"]
        answer = requests.post(f"{api}/runs/search", timeout=30,
                               json={"experiment_ids": [experiment["experiment_id"]]})
        assert answer.status_code == 200, answer.text[:300]
        run = next(found for found in answer.json()["runs"]
                   if found["info"]["run_id"] == expected.info.run_id)
        assert len(answer.json()["runs"]) == 2
    finally:
        server.stop()
        for pid in processes:
            wait_gone(pid, "an mlflow server process outlived the stop", seconds=10)
    assert run["info"]["run_id"] == expected.info.run_id
    params = {item["key"]: item["value"] for item in run["data"]["params"]}
    metrics = {item["key"]: item["value"] for item in run["data"]["metrics"]}
    assert params == expected.data.params
    assert metrics["test.accuracy"] == json.loads(
        (version_dir / "metadata.json").read_text())["test"]["accuracy"]
