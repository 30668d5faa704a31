"""Prediction metrics gathered in memory and written later: the same numbers as observing each
answer directly, in this process and, under gunicorn's multiprocess mode, in another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from server.metrics import LATENCY_BUCKETS, Metrics


def samples(text: bytes | str, family: str) -> dict[tuple, float]:
    """``{(sample name, sorted labels): value}`` of one family in an exposition text."""
    text = text.decode() if isinstance(text, bytes) else text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for metric in text_string_to_metric_families(text) if metric.name == family
            for sample in metric.samples}


@pytest.mark.parametrize("seed", range(3))
def test_gathered_predictions_equal_each_answer_observed_directly(seed):
    rng = np.random.default_rng(seed)
    metrics = Metrics()
    direct = CollectorRegistry()
    counter = Counter("regserve_predictions", "", ["variant"], registry=direct)
    histogram = Histogram("regserve_prediction_seconds", "", ["variant"],
                          buckets=LATENCY_BUCKETS, registry=direct)
    names = ["none", "l1_kernel_bias", "l2_activity"]
    # Latencies on every bucket's bound, between bounds and beyond the last one.
    choices = [*LATENCY_BUCKETS, *(np.array(LATENCY_BUCKETS) * 0.7), 7.5, 1e-5]
    for _ in range(200):
        asked = list(rng.choice(names, rng.integers(1, 4), replace=False))
        seconds = float(rng.choice(choices))
        metrics.observe_prediction(asked, seconds)
        for name in asked:
            counter.labels(name).inc()
            histogram.labels(name).observe(seconds)
        if rng.random() < 0.05:
            metrics.flush_predictions()  # some answers written early, the rest by render()
    ours, theirs = metrics.render(), generate_latest(direct)
    for family in ("regserve_predictions", "regserve_prediction_seconds"):
        got, want = samples(ours, family), samples(theirs, family)
        assert got.keys() == want.keys() and len(want) >= len(names)
        assert all(got[key] == pytest.approx(want[key]) for key in want), family


MULTIPROCESS = textwrap.dedent("""
    import json, sys, time
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector
    from server.metrics import FLUSH_SECONDS, Metrics

    def count():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        text = generate_latest(registry).decode()
        lines = [line for line in text.splitlines()
                 if line.startswith('regserve_predictions_total{variant="none"}')]
        return float(lines[0].split()[-1]) if lines else None

    metrics = Metrics()
    for _ in range(5):
        metrics.observe_prediction(["none"], 0.003)
    before = count()  # another process would read this before the flusher ran
    time.sleep(FLUSH_SECONDS * 4)  # this process answers nothing more: the flusher writes
    print(json.dumps({"before": before, "after": count()}))
""")


def test_the_flusher_writes_answers_for_other_workers_to_read(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", MULTIPROCESS], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    # The series is there from the first answer on; its count arrives with the flusher.
    assert found == {"before": 0.0, "after": 5.0}
