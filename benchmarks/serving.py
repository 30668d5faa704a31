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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.loadgen import CANVAS_SIDE, canvas_png, sample_characters
from benchmarks.report import (
    REPO_ROOT,
    BenchmarkError,
    child_env,
    free_port,
    log,
    machine_info,
    stop_process,
    tail,
)
from regserve_contracts import layout

GUNICORN_CONFIG = REPO_ROOT / "server" / "gunicorn.conf.py"
#: Stands for ``127.0.0.1:<port>`` in a server's command until its port is chosen.
BIND = "{bind}"
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
    command: tuple[str, ...]
    paths: tuple[str, ...]


def server_specs(settings: ServingSettings, variant: str) -> list[ServerSpec]:
    """RegServe (its own gunicorn config) and, if wanted, the naive app (plain sync workers)."""
    python = sys.executable
    specs = [ServerSpec(
        "regserve", "RegServe (server/gunicorn.conf.py)",
        (python, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "--bind", BIND,
         "server:create_app()"),
        ("/predict", f"/predict?variant={variant}"),
    )]
    if settings.naive:
        specs.append(ServerSpec(
            "naive", "naive Flask (gunicorn sync workers)",
            (python, "-m", "gunicorn", "--workers", str(settings.workers), "--worker-class",
             "sync", "--timeout", str(int(settings.ready_timeout)), "--bind", BIND,
             "benchmarks.naive_server:create_app()"),
            ("/predict",),
        ))
    return specs


def measure_server(spec: ServerSpec, settings: ServingSettings, port: int, inputs: list[Path],
                   workdir: Path) -> dict[str, Any]:
    """Start one server, run the load generator against it, stop it; return what was measured."""
    env = child_env(MODELS_DIR=str(settings.models_dir), WEB_CONCURRENCY=str(settings.workers))
    phases = [{"path": path, "concurrency": level, "requests": settings.requests,
               "warmup": WARMUP_PER_THREAD, "time_cap": settings.time_cap}
              for path in spec.paths for level in settings.concurrency]
    plan = {"label": spec.key, "url": f"http://127.0.0.1:{port}", "first_path": spec.paths[0],
            "inputs": [str(path) for path in inputs], "ready_timeout": settings.ready_timeout,
            "phases": phases}
    plan_path, out_path = workdir / f"{spec.key}-plan.json", workdir / f"{spec.key}-out.json"
    plan_path.write_text(json.dumps(plan))
    log_path = workdir / f"{spec.key}.log"
    log(f"starting {spec.title} with {settings.workers} worker(s) on port {port} ...")
    with open(log_path, "wb") as server_log:
        started = time.monotonic()
        command = [part.replace(BIND, f"127.0.0.1:{port}") for part in spec.command]
        server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=server_log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        loadgen = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loadgen", str(plan_path), str(out_path)],
            cwd=REPO_ROOT, env=child_env())
        try:
            while loadgen.poll() is None:
                if server.poll() is not None:
                    raise BenchmarkError(f"{spec.title} exited with {server.returncode}:\n"
                                         f"{tail(log_path)}")
                time.sleep(0.2)
        finally:
            stop_process(loadgen)
            stop_process(server)
    if loadgen.returncode != 0 or not out_path.exists():
        raise BenchmarkError(f"the load generator failed against {spec.title} "
                             f"(exit {loadgen.returncode}); server log:\n{tail(log_path)}")
    result = json.loads(out_path.read_text())
    result["ready_seconds"] = round(result.pop("ready_monotonic") - started, 2)
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
            servers[spec.key] = measure_server(spec, settings, free_port(), inputs, workdir)
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
