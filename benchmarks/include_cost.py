"""What ``?include=`` costs per request: plain /predict against +activations, +stability, both.

One RegServe gunicorn worker (started by server.launcher) on the given models; one keep-alive client
sends the same canvas-like PNGs, the four kinds of request in turn (round robin), so machine
noise falls on all of them alike. Concurrency 1: the question is the cost of one answer.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.loadgen import Client, canvas_png, percentile, sample_characters
from benchmarks.report import BenchmarkError, log, machine_info, machine_line, markdown_table
from regserve_contracts import layout
from server.launcher import LOOPBACK, ServerStartError, start

#: The request kinds measured: label -> query string. Plain first: it is the baseline.
KINDS: dict[str, str] = {
    "plain": "/predict",
    "+activations": "/predict?include=activations",
    "+stability": "/predict?include=stability",
    "+both": "/predict?include=activations,stability",
}


@dataclass(frozen=True)
class IncludeSettings:
    """Which models, how many requests of each kind, how many distinct inputs."""

    models_dir: Path
    requests: int = 100
    inputs: int = 16
    warmup: int = 5
    ready_timeout: float = 300.0


def run_include_cost(settings: IncludeSettings) -> dict[str, Any]:
    """Start the server, send every kind in turn ``requests`` times, return the latencies."""
    if not layout.variant_dirs(settings.models_dir):
        raise BenchmarkError(f"no trained models in {settings.models_dir}: run "
                             "`python -m trainer --all` first or pass --models-dir")
    characters, source = sample_characters(settings.inputs)
    bodies = [canvas_png(pixels) for pixels in characters]
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="regserve-include-") as tmp:
        log("starting one RegServe worker through the launcher ...")
        try:
            server = start(Path(tmp) / "server.log", models_dir=settings.models_dir, workers=1,
                           timeout=settings.ready_timeout)
        except ServerStartError as error:
            raise BenchmarkError(str(error)) from None
        with server:
            try:
                times = _measure(Client(LOOPBACK, server.port), bodies, settings)
            except OSError as error:
                raise BenchmarkError(f"the server failed: {error}\n{server.log()[-3000:]}") \
                    from None
    machine["load_average_after"] = machine_info()["load_average"]
    return {"benchmark": "include_cost", "machine": machine, "input_source": source,
            "settings": {**asdict(settings), "models_dir": str(settings.models_dir)},
            "latency_ms": {kind: _summary(values) for kind, values in times.items()}}


def _measure(client: Client, bodies: list[bytes], settings: IncludeSettings) -> dict:
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for index in range(settings.warmup + settings.requests):
        body = bodies[index % len(bodies)]
        for kind, path in KINDS.items():
            started = time.perf_counter()
            status, answer = client.call("POST", path, body)
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                raise BenchmarkError(f"{path} answered {status}: {answer[:200]!r}")
            if index >= settings.warmup:  # the first calls trace functions: not per request
                times[kind].append(elapsed)
    return times


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 2),
            "p90": round(percentile(ordered, 90), 2),
            "mean": round(statistics.fmean(ordered), 2), "count": len(ordered)}


def render_include_cost(result: dict[str, Any]) -> str:
    """The table: median, p90 and the extra cost over plain per kind of request."""
    latency = result["latency_ms"]
    plain = latency["plain"]["median"]
    rows = [[kind, f"{row['median']:.1f}", f"{row['p90']:.1f}",
             "-" if kind == "plain" else f"+{row['median'] - plain:.1f}",
             f"{row['median'] / plain:.2f}x"] for kind, row in latency.items()]
    settings = result["settings"]
    return "\n".join([
        "## Cost of ?include= per request (all variants, concurrency 1, 1 gunicorn worker)",
        "", machine_line(result["machine"]), "",
        f"{settings['requests']} requests of each kind, interleaved; inputs: "
        f"{result['input_source']}; load after: {result['machine']['load_average_after']}", "",
        markdown_table(["request", "median ms", "p90 ms", "extra ms (median)", "vs plain"], rows),
    ])


def measure_and_render(models_dir: Path, requests: int) -> tuple[dict[str, Any], str]:
    """``python -m benchmarks include``: run it and return the result and its table."""
    result = run_include_cost(IncludeSettings(models_dir, requests))
    return result, render_include_cost(result)
