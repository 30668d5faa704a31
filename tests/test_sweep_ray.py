"""The ray engine: an embedded Ray on 127.0.0.1 and a two-node cluster, both really running.

Ray reads part of its settings when first imported, so this module prepares them before
anything imports Ray (the sweep's own CLI does the same). The two-node test comes first: it
needs no embedded Ray, and the session's embedded one starts only when a later test asks.
"""

from __future__ import annotations

import contextlib
import os
from io import StringIO
from pathlib import Path

import pytest

from regserve_contracts import layout
from tests.support.procnet import LOOPBACK_V4, descendants, listeners
from tests.support.sweep import staging_left, sweep, tiny_npz
from trainer.sweep.__main__ import parse_options
from trainer.sweep.cli import run
from trainer.sweep.engines import prepare_ray_environment

prepare_ray_environment(embedded=True)
ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow
QUICK = ("--epochs", "1", "--batch-size", "50", "--seed", "0", "--cpus-per-trial", "1",
         "--penalty", "l1", "--where", "kernel_bias", "--lambdas", "1e-4,1e-2", "--no-baseline")
POINTS = ("l1_kernel_bias_1e-04", "l1_kernel_bias_1e-02")
LOOPBACK_V6 = {"0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return tiny_npz(tmp_path_factory.mktemp("sweep_ray_data") / "tiny.npz")


def sweep_metadata(models: Path) -> dict[str, dict]:
    return {name: layout.read_metadata(models / name / "1")["sweep"] for name in POINTS}


def test_a_sweep_joins_a_two_node_cluster_by_address_and_both_nodes_export(tiny_data, tmp_path,
                                                                          capsys):
    """Two Ray nodes on 127.0.0.1 (ray.cluster_utils, never `ray start`), one CPU each; the
    sweep joins by address, and each node trains one point into the one models folder."""
    from ray.cluster_utils import Cluster

    assert not ray.is_initialized()  # this test must run before the embedded Ray starts
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        node_ids = {node.node_id for node in [cluster.head_node, *cluster.worker_nodes]}
        models = tmp_path / "models"
        status, out, err = sweep("--address", cluster.address, "--name", "two-nodes",
                                 "--data", tiny_data, "--models-dir", models, *QUICK,
                                 capsys=capsys)
    finally:
        cluster.shutdown()
    assert status == 0, err
    assert not ray.is_initialized()  # the sweep let go of the cluster it joined
    seen = sweep_metadata(models)
    assert {meta["node"] for meta in seen.values()} == node_ids
    assert {meta["engine"] for meta in seen.values()} == {"ray"}
    assert (models / layout.REPORTS_DIR / "sweep_two-nodes.md").is_file()
    assert not staging_left(models)


@pytest.fixture(scope="session")
def embedded_ray():
    """One embedded Ray for the session: 2 CPUs, 127.0.0.1 only, no dashboard, no usage stats."""
    from trainer.sweep.ray_engine import start_embedded

    start_embedded(num_cpus=2)
    yield ray
    ray.shutdown()


def is_ray(pid: int) -> bool:
    """Ray's own processes (GCS, raylet, agents, workers) name Ray on their command line."""
    try:
        return b"ray" in Path(f"/proc/{pid}/cmdline").read_bytes().lower()
    except OSError:
        return False


def test_embedded_ray_listens_on_127_0_0_1_only(embedded_ray):
    """Every socket Ray's processes listen on (and this driver's, which serves Ray too)."""
    pids = {os.getpid()} | {pid for pid in descendants(os.getpid()) if is_ray(pid)}
    sockets = [(found.address, found.family) for found in listeners(pids)]
    assert len(pids) > 3 and len(sockets) >= 3, (pids, sockets)  # GCS, raylet, workers...
    exposed = [(address, family) for address, family in sockets
               if address not in ({LOOPBACK_V4} if family == "tcp" else LOOPBACK_V6)]
    assert not exposed, f"Ray listens beyond loopback: {exposed}"
    assert ray.util.get_node_ip_address() == "127.0.0.1"


def test_the_trainer_fans_its_repeats_out_on_ray(embedded_ray, tiny_data, tmp_path, capsys):
    """``python -m trainer --engine ray --seeds 2`` on the session's embedded Ray: two trials,
    two versions of one group (seeds 0 and 1), one progress line each naming its repeat."""
    from trainer.__main__ import main

    models = tmp_path / "models"
    status = main(["--variant", "none", "--seeds", "2", "--seed", "0", "--engine", "ray",
                   "--cpus-per-trial", "1", "--data", str(tiny_data), "--epochs", "1",
                   "--batch-size", "50", "--models-dir", str(models)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert layout.versions(models / "none") == [1, 2]
    repeats = [layout.read_metadata(models / "none" / v)["repeat"] for v in ("1", "2")]
    assert sorted((r["seed"], r["index"], r["of"]) for r in repeats) == [(0, 1, 2), (1, 2, 2)]
    assert repeats[0]["group"] == repeats[1]["group"]
    for index in (1, 2):
        assert f"none (repeat {index} of 2, seed {index - 1}): lambda -" in err
    assert str(models / "none" / "2") in out and (models / ".runs").is_dir()
    assert not staging_left(models)


BLOCKED = "l1_kernel_bias_1e-01"  # trained last: the grid runs the points in lambda order
THREE = (*QUICK[:-2], "1e-4,1e-2,1e-1", "--no-baseline")


@pytest.fixture(scope="module")
def flaky_sweep(embedded_ray, tiny_data, tmp_path_factory):
    """Three points on the 2-CPU embedded Ray, one CPU each; a file sits where the folder of
    the third belongs, so that point fails (twice) while the first two train side by side."""
    models = tmp_path_factory.mktemp("flaky") / "models"
    models.mkdir()
    (models / BLOCKED).write_text("not a folder")
    out, err = StringIO(), StringIO()
    argv = ["--name", "flaky", "--data", str(tiny_data), "--models-dir", str(models), *THREE]
    with contextlib.redirect_stderr(err):  # Tune's callbacks write to sys.stderr
        status = run(parse_options(argv, "sweep"), out, err)
    return models, status, out.getvalue(), err.getvalue()


def test_two_one_cpu_trials_run_at_the_same_time_in_different_processes(flaky_sweep):
    models, _, _, _ = flaky_sweep
    seen = sweep_metadata(models)
    pids = {meta["pid"] for meta in seen.values()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert max(m["started"] for m in seen.values()) < min(m["finished"] for m in seen.values())
    assert {meta["cpus"] for meta in seen.values()} == {1}
    assert {meta["engine"] for meta in seen.values()} == {"ray"}


def test_a_failing_point_is_reported_retried_once_and_the_others_finish(flaky_sweep):
    models, status, out, err = flaky_sweep
    assert status == 1
    assert f"{BLOCKED}: failed, retrying once" in err and f"{BLOCKED}: FAILED" in err
    finished = [line for line in err.splitlines() if line.startswith("[") and "accuracy" in line]
    assert len(finished) == 2
    assert f"FAILED {BLOCKED}" in out and "2 of 3 points exported" in out
    assert [layout.versions(models / name) for name in POINTS] == [[1], [1]]
    assert not staging_left(models) and (models / BLOCKED).is_file()


def test_resume_trains_only_the_failed_point_and_then_nothing(flaky_sweep, capsys):
    models, _, _, _ = flaky_sweep
    (models / BLOCKED).unlink()
    status, out, err = sweep("--resume", "--name", "flaky", "--models-dir", models,
                             capsys=capsys)
    assert status == 0, err
    assert "3 of 3 points exported (1 trained now)" in out
    assert [layout.versions(models / n) for n in (*POINTS, BLOCKED)] == [[1], [1], [1]]
    before = (models / POINTS[0] / "1" / layout.METADATA_FILE).stat().st_mtime
    status, out, err = sweep("--resume", "--name", "flaky", "--models-dir", models,
                             capsys=capsys)
    assert status == 0 and "(0 trained now)" in out
    assert [layout.versions(models / n) for n in (*POINTS, BLOCKED)] == [[1], [1], [1]]
    assert (models / POINTS[0] / "1" / layout.METADATA_FILE).stat().st_mtime == before
    assert not staging_left(models)
