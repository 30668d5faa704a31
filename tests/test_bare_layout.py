"""The serving benchmark's bare layout (/predict outside Flask's request cycle) answers exactly
what the server answers, so its row measures Flask's cost and nothing else; and its report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from werkzeug.test import Client

from benchmarks.bare_predict import BarePredict
from benchmarks.bodies import body_sets, multipart
from benchmarks.serving_report import floor_limit, layout_table
from server.state import EXTENSION


class Counted:
    """A WSGI app that counts the requests it passes on to ``app``."""

    def __init__(self, app) -> None:
        self.app, self.calls = app, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def bare_app(app):
    layout = BarePredict(app)
    layout.flask_app = Counted(layout.flask_app)
    return layout


@pytest.fixture(scope="module")
def bare(bare_app):
    return Client(bare_app)


@pytest.fixture(scope="module")
def bodies():
    rng = np.random.default_rng(3)
    characters = [(rng.integers(0, 256, (28, 28)) * (rng.random((28, 28)) > 0.6)).astype(np.uint8)
                  for _ in range(2)]
    return body_sets(characters)


def requests_counted(app, status: str) -> float:
    metrics = app.extensions[EXTENSION].metrics
    return metrics.requests.labels("/predict", "POST", status)._value.get()


def cases(bodies):
    canvas, canvas_type = multipart("image", "character.png", bodies["canvas"][0])
    pixels = bodies["pixels"][0]
    return [
        ("/predict", pixels, "application/json"),
        ("/predict?variant=none,l1_kernel_bias&top=3", bodies["pixels"][1], "application/json"),
        ("/predict", canvas, canvas_type),
        ("/predict", bodies["photo"][0], "image/png"),
        # Errors: answered again by Flask, with its handlers.
        ("/predict?variant=nope", pixels, "application/json"),
        ("/predict?topk=3", pixels, "application/json"),
        ("/predict", b"{not json", "application/json"),
        ("/predict", b"GIF89a not really", "image/gif"),
    ]


def test_the_bare_layout_answers_every_body_and_error_as_the_server_does(app, client, bare,
                                                                          bare_app, bodies):
    for path, body, content_type in cases(bodies):
        ours = client.post(path, data=body, content_type=content_type)
        passed_on = bare_app.flask_app.calls
        theirs = bare.post(path, data=body, content_type=content_type)
        assert theirs.status_code == ours.status_code, path
        assert theirs.headers["Content-Type"] == ours.headers["Content-Type"], path
        assert json.loads(theirs.data) == json.loads(ours.data), path
        # A 200 is the bare path's own answer; only errors go to Flask.
        assert bare_app.flask_app.calls - passed_on == (ours.status_code != 200), path
    assert bare.get("/healthz").get_json() == client.get("/healthz").get_json()


def test_the_bare_layout_counts_its_answers_as_the_app_s_hook_does(app, bare, bodies):
    before = {status: requests_counted(app, status) for status in ("200", "404")}
    assert bare.post("/predict", data=bodies["pixels"][0],
                     content_type="application/json").status_code == 200
    assert bare.post("/predict?variant=nope", data=bodies["pixels"][0],
                     content_type="application/json").status_code == 404
    assert requests_counted(app, "200") == before["200"] + 1
    assert requests_counted(app, "404") == before["404"] + 1  # once: by Flask's hook


def run(kind: str, rate: float, p99: float) -> dict:
    return {"kind": kind, "variants": "all", "closed": {"requests_per_second": rate,
                                                        "p99_ms": p99}, "open": []}


def test_the_layout_table_sets_each_body_s_rates_side_by_side_against_one_floor():
    floor = {"bodies": {kind: {"decode_ms": 0.1, "preprocess_ms": 0.4} for kind in
                        ("canvas", "photo", "pixels")}, "model_all_ms": 0.5, "model_one_ms": 0.1}
    result = {"machine": {"cores": 2}, "floor": floor, "servers": {
        "regserve": {"healthz": {"requests_per_second": 2000.0},
                     "runs": [run("pixels", 600.0, 20.0), run("canvas", 400.0, 30.0)]},
        "regserve_bare": {"runs": [run("pixels", 720.0, 15.0)]}}}
    table = layout_table(result).splitlines()
    assert len(table) == 3, "a header, its rule and pixels: canvas has no bare row"
    limit = floor_limit(result, "pixels", True)
    assert limit == pytest.approx(2000 / (1.0 + 0.1 + 0.4 + 0.5))
    cells = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert cells == ["JSON pixels, preprocessed", "600.0", "720.0", "1.20", "20.0", "15.0",
                     f"{600 / limit:.2f}", f"{720 / limit:.2f}"]
    del result["servers"]["regserve_bare"]
    assert layout_table(result) is None


def measured_round(rates: list[float], healthz: float, rss: list[float]) -> dict:
    kinds = [("pixels", "all"), ("pixels", "none")]
    return {"ready_seconds": healthz / 1000, "healthz": {"requests_per_second": healthz},
            "worker_rss_mib_after_load": rss,
            "runs": [{"kind": kind, "variants": variants, "open": [],
                      "closed": {"requests_per_second": rate, "p99_ms": rate / 100}}
                     for (kind, variants), rate in zip(kinds, rates, strict=True)]}


def test_rounds_merge_to_each_row_s_median_round_with_its_own_latencies():
    from benchmarks.serving import merge_rounds

    rounds = [measured_round([900.0, 2000.0], 5000.0, [150.0, 160.0]),
              measured_round([1100.0, 1800.0], 6000.0, [170.0, 150.0]),
              measured_round([1000.0, 2200.0], 5500.0, [140.0, 140.0])]
    merged = merge_rounds(rounds)
    first, second = (run["closed"] for run in merged["runs"])
    assert first == {"requests_per_second": 1000.0, "p99_ms": 10.0,
                     "rounds_requests_per_second": [900.0, 1100.0, 1000.0]}
    assert second["requests_per_second"] == 2000.0 and second["p99_ms"] == 20.0
    assert merged["healthz"]["requests_per_second"] == 5500.0
    assert merged["ready_seconds"] == 5.5 and merged["rounds"] == 3
    assert merged["worker_rss_mib_after_load"] == [170.0, 150.0]  # the round that peaked
    # Two rounds: the lower middle one, not their mean.
    assert merge_rounds(rounds[:2])["runs"][0]["closed"]["requests_per_second"] == 900.0
    assert merge_rounds(rounds[:1]) is rounds[0]
    rounds[2]["runs"][1]["variants"] = "l1_kernel_bias"
    with pytest.raises(Exception, match="different scenarios"):
        merge_rounds(rounds)
