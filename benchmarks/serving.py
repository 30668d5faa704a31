"""Serving benchmark: RegServe's gunicorn server against the naive Flask baseline, same models.

Both servers are started here, one after the other, on the same models folder with the same
worker count, and driven by :mod:`benchmarks.loadgen` in its own process with the same canvas-like
PNGs at each concurrency. RegServe is measured with every variant per request and with one.
:mod:`benchmarks.serving_report` turns the result into tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.loadgen import CANVAS_SIDE, canvas_png, sample_characters
from benchmarks.naive_server import naive_command
from benchmarks.report import REPO_ROOT, BenchmarkError, child_env, log, machine_info, tail
from regserve_contracts import layout
from server import launcher

#: Uncounted requests per load thread before each level: opens its connection, wakes a worker.
WARMUP_PER_THREAD = 1


@dataclass(frozen=True)
class ServingSettings:
    """What to measure: which models, how many requests, at which concurrencies."""

    models_dir: Path
    requests: int = 400
    concurrency: tuple[int, ...] = (1, 4, 16)
    workers: int = 2
    time_cap: float = 60.0
    single_variant: str | None = None
    inputs: int = 16
    ready_timeout: float = 300.0
    naive: bool = True


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server and which request paths to measure on it."""

    key: str
    title: str
    command: Callable[[str], Sequence[str]]  # "127.0.0.1:<port>" -> the command line
    paths: tuple[str, ...]


def server_specs(settings: ServingSettings, variant: str) -> list[ServerSpec]:
    """RegServe (its own gunicorn config) and, if wanted, the naive app (plain sync workers)."""
    specs = [ServerSpec(
        "regserve", "RegServe (server/gunicorn.conf.py)",
        lambda bind: launcher.gunicorn_command(bind, settings.workers),
        ("/predict", f"/predict?variant={variant}"),
    )]
    if settings.naive:
        specs.append(ServerSpec(
            "naive", "naive Flask (gunicorn sync workers)",
            lambda bind: naive_command(bind, settings.workers, settings.ready_timeout),
            ("/predict",),
        ))
    return specs


def measure_server(spec: ServerSpec, settings: ServingSettings, inputs: list[Path],
                   workdir: Path) -> dict[str, Any]:
    """Start one server, run the load generator against it, stop it; return what was measured."""
    phases = [{"path": path, "concurrency": level, "requests": settings.requests,
               "warmup": WARMUP_PER_THREAD, "time_cap": settings.time_cap}
              for path in spec.paths for level in settings.concurrency]
    plan_path, out_path = workdir / f"{spec.key}-plan.json", workdir / f"{spec.key}-out.json"
    log_path = workdir / f"{spec.key}.log"
    log(f"starting {spec.title} with {settings.workers} worker(s) ...")
    try:
        server = launcher.start(log_path, models_dir=settings.models_dir, command=spec.command,
                                timeout=settings.ready_timeout)
    except launcher.ServerStartError as error:
        raise BenchmarkError(f"{spec.title} did not start: {error}") from None
    with server:
        command = list(server.process.args)
        plan = {"label": spec.key, "url": server.url, "first_path": spec.paths[0],
                "inputs": [str(path) for path in inputs],
                "ready_timeout": settings.ready_timeout, "phases": phases}
        plan_path.write_text(json.dumps(plan))
        loadgen = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loadgen", str(plan_path), str(out_path)],
            cwd=REPO_ROOT, env=child_env())
        try:
            while loadgen.poll() is None:
                if server.process.poll() is not None:
                    raise BenchmarkError(f"{spec.title} exited with {server.process.returncode}:"
                                         f"\n{tail(log_path)}")
                time.sleep(0.2)
        finally:
            launcher.stop_process(loadgen)
    if loadgen.returncode != 0 or not out_path.exists():
        raise BenchmarkError(f"the load generator failed against {spec.title} "
                             f"(exit {loadgen.returncode}); server log:\n{tail(log_path)}")
    result = json.loads(out_path.read_text())
    result.pop("ready_monotonic")  # the launcher waited for /readyz and timed it
    result["ready_seconds"] = round(server.ready_seconds, 2)
    answer = result["first"].pop("answer")
    result["first"]["predictions"] = first_predictions(answer)
    result["first"]["answer_excerpt"] = answer[:300]
    return {"title": spec.title, "command": command, "workers": settings.workers,
            "paths": list(spec.paths), **result}


def first_predictions(answer: str) -> dict[str, str] | None:
    """``{variant: predicted character}`` from either server's answer, or ``None``."""
    try:
        body = json.loads(answer)
    except ValueError:
        return None
    for key in ("variants", "predictions"):  # RegServe's answer, then the naive one's
        if isinstance(body, dict) and isinstance(body.get(key), dict):
            return {name: item.get("prediction") for name, item in body[key].items()
                    if isinstance(item, dict)}
    return None


def run_serving(settings: ServingSettings) -> dict[str, Any]:
    """Measure both servers and return the full result (machine, settings, phases)."""
    if not settings.concurrency or min(settings.concurrency) < 1 or settings.requests < 1:
        raise BenchmarkError("concurrency levels and the request count must be at least 1")
    variants = [path.name for path in layout.variant_dirs(settings.models_dir)]
    if not variants:
        raise BenchmarkError(f"no trained models in {settings.models_dir}: run "
                             "`python -m trainer --all` first or pass --models-dir")
    single = settings.single_variant or ("none" if "none" in variants else variants[0])
    if single not in variants:
        raise BenchmarkError(f"variant {single!r} is not in {settings.models_dir}")
    characters, source = sample_characters(settings.inputs)
    machine = machine_info()
    servers: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="regserve-bench-") as tmp:
        workdir = Path(tmp)
        inputs = []
        for index, pixels in enumerate(characters):
            inputs.append(workdir / f"input-{index:02d}.png")
            inputs[-1].write_bytes(canvas_png(pixels))
        for spec in server_specs(settings, single):
            servers[spec.key] = measure_server(spec, settings, inputs, workdir)
        png_bytes = [path.stat().st_size for path in inputs]
    machine["load_average_after"] = machine_info()["load_average"]
    return {
        "benchmark": "serving",
        "machine": machine,
        "settings": {**asdict(settings), "models_dir": str(settings.models_dir)},
        "variants": variants,
        "single_variant": single,
        "inputs": {"source": source, "count": len(png_bytes), "canvas": CANVAS_SIDE,
                   "format": "PNG, RGBA, dark ink on white",
                   "mean_bytes": sum(png_bytes) // len(png_bytes)},
        "servers": servers,
    }
