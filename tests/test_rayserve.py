"""RegServe on Ray Serve: two real Ray nodes on 127.0.0.1, one replica on each, the same answers
as gunicorn, hot reload in every replica, and a replica killed under load while the other serves.

One cluster for the module (ray.cluster_utils, never `ray start`); the tests run in file order,
the kill last.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import pytest
import requests

from benchmarks.drawing import draw, encode
from regserve_contracts import layout
from server.launcher import free_port
from server.scale.deploy import ScaleOptions, deploy, prepare_environment, replica_environ
from server.scale.replica import NODE_HEADER, PID_HEADER
from server.settings import load_settings

prepare_environment(loopback=True)  # before Ray is imported: every node on 127.0.0.1
ray = pytest.importorskip("ray", reason="Ray Serve needs the scale extra (ray[serve], asgiref)")
pytest.importorskip("asgiref", reason="Ray Serve needs the scale extra (ray[serve], asgiref)")

pytestmark = [
    pytest.mark.slow,
    # Ray Serve's own models still use pydantic 1-style Field arguments.
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
]
PNG = encode(draw("A"))
#: Clients sending /predict at once while a replica is killed; each has one request in flight.
CLIENTS = 4


@pytest.fixture(scope="module")
def cluster(models_dir, tmp_path_factory):
    """Two Ray nodes with one CPU each, and two one-CPU replicas: one lands on each node. They
    serve a copy of the session's models, reloaded every half second."""
    from ray import serve
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        pytest.skip("another test left Ray running in this process; the cluster needs its own")
    models = tmp_path_factory.mktemp("ray_models") / "models"
    shutil.copytree(models_dir, models)
    try:
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    except Exception as error:  # Ray could not start here at all
        pytest.skip(f"Ray cannot start on this machine: {error}")
    try:
        cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        ray.init(address=cluster.address, log_to_driver=False)
        options = ScaleOptions(models_dir=models, port=free_port(), replicas=2)
        environ = replica_environ(load_settings(models_dir=models),
                                  {"REGSERVE_RELOAD_INTERVAL": "0.5", "WEB_CONCURRENCY": "1"})
        url = deploy(options, environ, timeout=240)
        nodes = {node.node_id for node in [cluster.head_node, *cluster.worker_nodes]}
        yield {"url": url, "nodes": nodes, "models": models}
    finally:
        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()
        cluster.shutdown()


def origins(url: str, count: int, path: str = "/readyz") -> list[tuple[str, int, dict]]:
    """(node id, pid, body) of ``count`` answers to GET ``path``."""
    seen = []
    for _ in range(count):
        answer = requests.get(url + path, timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        seen.append((answer.headers[NODE_HEADER], int(answer.headers[PID_HEADER]),
                     answer.json()))
    return seen


def test_replicas_on_both_nodes_answer(cluster):
    """Answers come from both Ray nodes of the cluster (the headers name the node)."""
    nodes = {node for node, _, _ in origins(cluster["url"], 40)}
    assert nodes == cluster["nodes"]


@pytest.mark.parametrize("request_args", [
    {"files": {"image": ("a.png", PNG, "image/png")}, "params": {"top": "5"}},
    {"json": {"pixels": [[(x * y) % 256 for x in range(28)] for y in range(28)]}},
    {"data": PNG, "headers": {"Content-Type": "image/png"}, "params": {"include": "stability"}},
    {"data": b"not an image", "headers": {"Content-Type": "image/png"}},
    {"files": {"image": ("a.png", PNG, "image/png")}, "params": {"colour": "blue"}},
], ids=["multipart", "pixels", "raw-with-stability", "bad-image", "unknown-parameter"])
def test_predict_answers_as_gunicorn_does_on_the_same_models(cluster, live_server, request_args):
    """The same body gets the same status and the same JSON from Serve and from gunicorn."""
    ours = requests.post(cluster["url"] + "/predict", timeout=60, **request_args)
    theirs = requests.post(live_server.url + "/predict", timeout=60, **request_args)
    assert (ours.status_code, ours.json()) == (theirs.status_code, theirs.json())


@pytest.mark.parametrize("path", ["/openapi.json", "/v2/models/none", "/variants/none", "/"])
def test_the_api_document_v2_and_the_page_are_the_same_app(cluster, live_server, path):
    ours = requests.get(cluster["url"] + path, timeout=30)
    theirs = requests.get(live_server.url + path, timeout=30)
    assert ours.status_code == theirs.status_code == 200
    assert ours.content == theirs.content


def test_every_replica_picks_up_a_new_version_by_itself(cluster):
    """A version published into the shared folder is served by each replica within seconds."""
    variant_dir = cluster["models"] / "none"
    newest = layout.newest_version(variant_dir)
    staging = variant_dir / f"{layout.STAGING_PREFIX}test"
    shutil.copytree(newest, staging)
    os.rename(staging, variant_dir / str(int(newest.name) + 1))
    deadline = time.monotonic() + 60
    updated: set[int] = set()  # replicas (pids) seen serving the new version
    while len(updated) < 2 and time.monotonic() < deadline:
        updated |= {pid for _, pid, body in origins(cluster["url"], 5)
                    if body["loaded"]["none"] == int(newest.name) + 1}
        time.sleep(0.2)
    assert len(updated) == 2, f"only replica(s) {updated} served the new version"


class Load:
    """``CLIENTS`` threads posting /predict until stopped; each answer's time, status, pid."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.results: list[tuple[float, int | None, int | None]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def run(self) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            try:
                answer = session.post(self.url + "/predict", data=PNG, timeout=30,
                                      headers={"Content-Type": "image/png"})
                pid = answer.headers.get(PID_HEADER)
                self.results.append((time.monotonic(), answer.status_code,
                                     int(pid) if pid else None))
            except requests.RequestException:
                self.results.append((time.monotonic(), None, None))
                session = requests.Session()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_a_replica_killed_under_load_loses_at_most_its_requests_in_flight(cluster):
    """SIGKILL one replica while four clients post /predict: the other keeps answering, and
    the requests lost are at most those the clients had in flight (one each)."""
    pids = {pid for _, pid, _ in origins(cluster["url"], 20)}
    assert len(pids) == 2
    victim = min(pids)
    load = Load(cluster["url"])
    try:
        time.sleep(2)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        time.sleep(5)
    finally:
        load.close()
    before = [r for r in load.results if r[0] < killed_at]
    after = [r for r in load.results if r[0] >= killed_at]
    lost = [r for r in after if r[1] != 200]
    # An answer recorded just after the kill may have left the victim just before it.
    survivors = {pid for at, status, pid in after if status == 200 and at > killed_at + 0.5}
    print(f"\n{len(before)} answers before the kill, {len(after)} after: {len(lost)} lost "
          f"({sorted({r[1] for r in lost}, key=str)}), survivors {survivors}")
    assert before and all(status == 200 for _, status, _ in before)
    assert survivors and victim not in survivors
    assert len(after) - len(lost) >= 10, "the surviving replica stopped answering"
    assert len(lost) <= CLIENTS
