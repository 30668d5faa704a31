"""The serving benchmark's Ray Serve rows: both sizes asked for by one name, and Serve's CPU per
request computed from the rates."""

from __future__ import annotations

from benchmarks.serving_ray import ray_serve_rows, with_both_sizes


def run(kind: str, rate: float) -> dict:
    return {"kind": kind, "variants": "all", "closed": {"requests_per_second": rate}}


def test_rayserve_means_one_and_two_replicas_in_that_order():
    assert with_both_sizes(["regserve", "rayserve"]) == ["regserve", "rayserve", "rayserve_2"]
    assert with_both_sizes(["regserve"]) == ["regserve"]


def test_serves_cost_per_request_is_the_cpu_time_difference_on_every_core():
    """2 cores: gunicorn 100 req/s is 20 ms per request, Serve 80 req/s is 25 ms: 5 ms more."""
    result = {"machine": {"cores": 2}, "servers": {
        "regserve": {"runs": [run("pixels", 100.0)]},
        "rayserve": {"runs": [run("pixels", 50.0)]},
        "rayserve_2": {"runs": [run("pixels", 80.0)]}}}
    headers, rows = ray_serve_rows(result)
    assert rows == [["pixels", "100", "50", "80", "0.80x", "5.0"]]
    assert len(headers) == len(rows[0])
