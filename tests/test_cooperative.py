"""The gevent worker's two rules, each in a fresh process patched as gunicorn's gevent worker
patches its own (``gevent.monkey.patch_all()`` before the app is imported):

- the batcher closes a batch when no other greenlet is ready, so requests that arrive together
  run as one call (and without the idle rule they would not: the control);
- a large image is decoded on a real thread, so the worker's other greenlets run meanwhile.

The same code without gevent (this test process) keeps the thread behaviour: checked too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("gevent")

BATCHING = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, sys
    import gevent
    import numpy as np
    from server import cooperative
    from server.runtime.batcher import MicroBatcher

    if sys.argv[1] == "no-idle":  # the control: a batch closes as soon as it has its first job
        cooperative.idle = lambda: (lambda: None)

    calls = []

    class Engine:
        def run_packed(self, images, names):
            calls.append(len(images))
            return {name: images.reshape(len(images), -1)[:, :1] for name in names}

    engine, batcher = Engine(), MicroBatcher(window=0.0, max_batch=32)

    def request(index):
        with batcher.ticket() as ticket:
            gevent.sleep(0)  # reading its body: a switch before it reaches the queue
            image = np.full((1, 28, 28, 1), index, np.float32)
            out = ticket.run_packed(engine, ["none"], image)
        return float(out["none"][0, 0])

    answers = [greenlet.get() for greenlet in
               [gevent.spawn(request, index) for index in range(int(sys.argv[2]))]]
    print(json.dumps({"cooperative": cooperative.cooperative(), "calls": calls,
                      "answers": answers}))
""")

OFF_LOOP = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, os, threading
    import gevent
    from server.cooperative import off_loop

    read_end, write_end = os.pipe()  # os.read is not patched: it blocks a real thread

    def blocking():
        return os.read(read_end, 1), threading.get_ident()

    def other_request():
        os.write(write_end, b"x")  # only runs if the loop is free while blocking() waits

    helper = gevent.spawn_later(0.05, other_request)
    with gevent.Timeout(10, False):
        data, ident = off_loop(blocking)
        print(json.dumps({"data": data.decode(), "other_thread": ident != threading.get_ident()}))
    helper.kill()
""")


def run(script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines, f"no result (the loop was blocked?): {done.stderr[-2000:]}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("requests", [8, 40])
def test_requests_that_arrive_together_run_as_one_call_under_gevent(requests):
    """Eight greenlets that each read a body then predict: one call of 8 images; forty: calls of
    at most 32 (max_batch) covering 40. Every request gets its own image's answer back."""
    result = run(BATCHING, "idle", str(requests))
    assert result["cooperative"] is True
    assert sum(result["calls"]) == requests
    assert result["calls"] == ([8] if requests == 8 else [32, 8])
    assert result["answers"] == [float(index) for index in range(requests)]


def test_without_the_idle_rule_the_batch_closes_early():
    """The control: the same eight greenlets, a batch closed at its first job, is not one call."""
    result = run(BATCHING, "no-idle", "8")
    assert sum(result["calls"]) == 8
    assert len(result["calls"]) > 1, result["calls"]


def test_a_large_decode_leaves_the_loop_free():
    """off_loop runs its function on a real thread while the other greenlets go on: here the
    function waits for a byte that only another greenlet writes (on the loop it would hang)."""
    assert run(OFF_LOOP) == {"data": "x", "other_thread": True}


def test_without_gevent_everything_runs_here():
    """In a plain process (this one) off_loop is a plain call and there is no idle rule."""
    import threading

    from server import cooperative

    assert cooperative.cooperative() is False
    assert cooperative.idle() is None
    assert cooperative.off_loop(threading.get_ident) == threading.get_ident()


def test_both_worker_classes_serve_the_same_answers(models_dir, png, tmp_path):
    """A real gunicorn with each worker class (its log names it) answers the same PNG with the
    same labels and probabilities (to 1e-5: a batch's size may move the last float digits),
    one request at a time and eight at once."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from server.launcher import start

    def predict(url: str) -> dict:
        answer = requests.post(url + "/predict", data=png, timeout=60,
                               headers={"Content-Type": "image/png"})
        assert answer.status_code == 200, answer.text[:300]
        return {name: [(top["label"], top["probability"]) for top in body["top"]]
                for name, body in answer.json()["variants"].items()}

    answers = []
    for worker_class in ("gevent", "gthread"):
        log = tmp_path / f"{worker_class}.log"
        with start(log, models_dir=models_dir,
                   env={"GUNICORN_WORKER_CLASS": worker_class}) as server:
            answers.append(predict(server.url))
            with ThreadPoolExecutor(8) as pool:
                answers.extend(pool.map(predict, [server.url] * 8))
        assert f"Using worker: {worker_class}" in log.read_text()
    reference = answers[0]
    for answer in answers[1:]:
        assert answer.keys() == reference.keys()
        for name, tops in answer.items():
            assert [label for label, _ in tops] == [label for label, _ in reference[name]]
            assert [p for _, p in tops] == pytest.approx([p for _, p in reference[name]],
                                                         abs=1e-5)


@pytest.mark.slow
def test_two_hundred_slow_clients_do_not_stop_the_bare_server(models_dir, tmp_path):
    """Without nginx in front: 200 connections trickling a byte a second (half their header,
    half a body) hold greenlets, not the worker, so /healthz and /predict keep answering in
    under 1 s. (With GUNICORN_WORKER_CLASS=gthread, 16 such clients stopped both workers: 5 s
    timeouts, measured by hand.)"""
    from server.launcher import start
    from tests.support.slow_clients import worst_latencies

    with start(tmp_path / "server.log", models_dir=models_dir, workers=2) as server:
        worst, held = worst_latencies(server.url, int(server.url.rsplit(":", 1)[1]), 200, 5.0)
    print("\n200 slow clients on the bare server: worst latency "
          + ", ".join(f"{path} {seconds * 1000:.0f} ms" for path, seconds in worst.items()))
    assert held >= 5, "the slow clients did not keep trickling during the probes"
    assert max(worst.values()) < 1.0, worst
