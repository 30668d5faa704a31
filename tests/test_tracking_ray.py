"""``--track`` where trainings run in Ray's workers and their runs are written by the driver:
a sweep on the Ray engine is one parent run with one child per trial; the trainer's own Ray
engine hands its outcomes to the tracker
(tests/test_tracking.py checks that a resumed sweep logs no run twice)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from regserve_contracts import layout
from tests.support.sweep import sweep, tiny_npz
from tests.support.tracking import store_runs, train
from trainer.sweep.engines import prepare_ray_environment

prepare_ray_environment(embedded=True)  # before Ray is first imported, as the sweep does
ray = pytest.importorskip("ray")
pytest.importorskip("mlflow")

POINTS = ("l1_kernel_bias_1e-04", "l1_kernel_bias_1e-02")
QUICK = ("--epochs", "2", "--batch-size", "50", "--seed", "0", "--cpus-per-trial", "1",
         "--penalty", "l1", "--where", "kernel_bias", "--lambdas", "1e-4,1e-2",
         "--no-baseline", "--engine", "ray", "--track")


@pytest.fixture(scope="module")
def ray_on_loopback():
    """The session's embedded Ray when tests/test_sweep_ray.py started it, else one of our own
    (127.0.0.1 only, 2 CPUs), stopped by handle when this module is done."""
    if ray.is_initialized():
        yield ray
        return
    from trainer.sweep.ray_engine import start_embedded

    start_embedded(num_cpus=2)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_a_tracked_ray_sweep_is_a_parent_run_with_one_child_per_trial(ray_on_loopback,
                                                                      tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    models = tmp_path / "models"
    data = tiny_npz(tmp_path / "tiny.npz")
    status, out, err = sweep("--name", "tracked", "--data", data, "--models-dir", models,
                             *QUICK, capsys=capsys)
    assert status == 0, err
    assert "warning" not in err, err
    runs = store_runs(f"sqlite:///{models / layout.TRACKING_DB}")
    (parent,) = [run for run in runs if run.data.tags.get("kind") == "sweep"]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId")]
    assert len(runs) == 3 and parent.info.status == "FINISHED"
    assert parent.data.tags["sweep"] == "tracked" and parent.data.params["lambdas"] == "0.0001,0.01"
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    assert sorted(run.data.tags["export_path"] for run in children) == sorted(
        str(models / name / "1") for name in POINTS)
    for run in children:
        meta = layout.read_metadata(Path(run.data.tags["export_path"]))
        assert run.info.status == "FINISHED" and run.data.tags["sweep"] == "tracked"
        assert run.data.params["lambda"] == str(meta["variant"]["lam"])
        assert run.data.metrics["test.accuracy"] == meta["test"]["accuracy"]
        assert run.data.metrics["val_loss"] == meta["history"]["val_loss"][-1]  # last epoch
        # The trial's own start, in its Ray worker (a process of its own), not the driver's.
        assert run.info.start_time == int(meta["sweep"]["started"] * 1000)


@pytest.mark.slow
def test_the_trainers_ray_engine_hands_every_outcome_to_the_tracker(tmp_path, monkeypatch):
    """``python -m trainer --engine ray``: what its trials give back (one exported, one
    failed) becomes one run each, written by the driver. Ray's scheduling is the sweep's,
    tested above; here run_ray answers at once."""
    import trainer.sweep.ray_engine as ray_engine
    from trainer.sweep.engines import PointOutcome

    models = tmp_path / "models"
    exported = models / "none" / "1"

    def fake_run_ray(jobs, dataset, settings, log, **options):
        from trainer.sweep.trial import run_point

        assert [job.label for job in jobs] == ["none (repeat 1 of 2, seed 0)",
                                               "none (repeat 2 of 2, seed 1)"]
        metrics = run_point(jobs[0].to_dict(), dataset, settings, "here")  # trains, exports
        return [PointOutcome(jobs[0].label, metrics=metrics),
                PointOutcome(jobs[1].label, error="OSError: the node went away")]

    monkeypatch.setattr(ray_engine, "run_ray", fake_run_ray)
    status, out, err = train("--variant", "none", "--seeds", "2", "--engine", "ray",
                             "--epochs", "1", "--batch-size", "60", "--seed", "0",
                             "--data", tiny_npz(tmp_path / "tiny.npz"), "--models-dir", models,
                             "--track", "--quiet")
    assert status == 1 and "the node went away" in err  # the run fails, and says why
    runs = {run.info.run_name: run for run in store_runs(f"sqlite:///{models / 'mlflow.db'}")}
    assert set(runs) == {"none v1", "none (repeat 2 of 2, seed 1)"}
    assert runs["none v1"].data.tags["export_path"] == str(exported)
    meta = layout.read_metadata(exported)  # the run spans the training, not the logging
    created = dt.datetime.fromisoformat(meta["created"]).timestamp()
    assert runs["none v1"].info.end_time == int(created * 1000)
    assert runs["none v1"].info.start_time == int((created - meta["training_seconds"]) * 1000)
    failed = runs["none (repeat 2 of 2, seed 1)"]
    assert failed.info.status == "FAILED" and failed.data.params["seed"] == "1"
    assert "node went away" in failed.data.tags["error"]
