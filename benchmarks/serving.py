"""Serving benchmark: RegServe on each runtime, the peers and the naive app; same run and bodies.

RegServe runs twice: as a user gets it (``REGSERVE_RUNTIME=auto``: ONNX Runtime on the
twins) and on TensorFlow (the SavedModels), so the two runtimes are compared in one run on the
same machine state; the peers serve the SavedModels with TensorFlow, as their users would.
Each server is started through :mod:`server.launcher` on loopback, one after the other, and
loaded by wrk (closed loop, ``--connections`` in flight) with each body kind (canvas PNG, photo
PNG, preprocessed pixels), all variants per request, and for RegServe one variant too; then by
:mod:`benchmarks.openloop` at fixed rates of 50% and 80% of the peak just measured. The floor
(:mod:`benchmarks.floor`, in a process of its own, plus ``GET /healthz`` under wrk) says what
each body must cost at least. ``--sweep`` restarts RegServe with one setting changed at a time.
:mod:`benchmarks.serving_report` turns the result into tables.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import wrk
from benchmarks.bodies import body_sets, multipart
from benchmarks.loadgen import run_phase, sample_characters
from benchmarks.report import BenchmarkError, log, machine_info
from benchmarks.serving_ray import RAY_SERVE
from benchmarks.serving_report import SWEPT_KINDS
from benchmarks.serving_servers import (
    PEERS,
    REGSERVE_APPS,
    REGSERVE_RUNTIMES,
    SWEEP,
    ServingSettings,
    available_servers,
    regserve_state,
    start_server,
    worker_rss_mib,
)
from regserve_contracts import layout
from server import launcher

KINDS = ("canvas", "photo", "pixels")


@dataclass(frozen=True)
class Scenario:
    """One request kind on one server: its path, body files and content type."""

    server: str
    kind: str
    variants: str  # "all" or the single variant's name
    path: str
    content_type: str
    files: tuple[str, ...]


def write_bodies(workdir: Path, characters) -> dict[str, dict[str, Any]]:
    """Every body kind as RegServe takes it (raw, JSON) and as BentoML takes it (multipart)."""
    written: dict[str, dict[str, Any]] = {}
    for kind, bodies in body_sets(characters).items():
        raw, peer = [], []
        for index, body in enumerate(bodies):
            raw.append(workdir / f"{kind}-{index:02d}.body")
            raw[-1].write_bytes(body)
            if kind == "pixels":
                pixels = json.loads(body)["pixels"]
                peer_body, peer_type = json.dumps({"pixels": [pixels]}).encode(), \
                    "application/json"
            else:
                peer_body, peer_type = multipart("images", f"{index}.png", body)
            peer.append(workdir / f"{kind}-{index:02d}.bentoml.body")
            peer[-1].write_bytes(peer_body)
        written[kind] = {"raw": [str(p) for p in raw], "peer": [str(p) for p in peer],
                         "raw_type": "application/json" if kind == "pixels" else "image/png",
                         "peer_type": peer_type,
                         "mean_bytes": sum(len(b) for b in bodies) // len(bodies)}
    return written


def scenarios(server: str, bodies: dict[str, dict[str, Any]], single: str) -> list[Scenario]:
    """What each server is asked: RegServe every kind, all and one variant; the others all."""
    found = []
    for kind in KINDS:
        entry = bodies[kind]
        if server in REGSERVE_RUNTIMES or server in RAY_SERVE:  # Ray Serve: the same app
            for variants, path in (("all", "/predict"), (single, f"/predict?variant={single}")):
                found.append(Scenario(server, kind, variants, path, entry["raw_type"],
                                      tuple(entry["raw"])))
        elif server in PEERS:
            path = "/predict_pixels" if kind == "pixels" else "/predict"
            found.append(Scenario(server, kind, "all", path, entry["peer_type"],
                                  tuple(entry["peer"])))
        elif kind != "pixels":  # the naive app reads only image bodies
            found.append(Scenario(server, kind, "all", "/predict", entry["raw_type"],
                                  tuple(entry["raw"])))
    return found


def closed_loop(url: str, scenario: Scenario, settings: ServingSettings, workdir: Path,
                duration: float | None = None) -> dict[str, Any]:
    """Peak throughput and latency with ``connections`` requests always in flight."""
    duration = duration or settings.duration
    if wrk.wrk_path() and not settings.python_load:
        script = wrk.write_script(workdir / "load.lua", scenario.path,
                                  [Path(f) for f in scenario.files], scenario.content_type)
        return wrk.run_wrk(url, script, settings.connections, duration)
    host, port = url.split("//")[1].split(":")
    bodies = [Path(f).read_bytes() for f in scenario.files]
    measured = run_phase(host, int(port), scenario.path, bodies, settings.connections, 10**9, 1,
                         duration, scenario.content_type)
    return {"generator": "python threads (closed loop)", **measured}


def open_loop(url: str, scenario: Scenario, rate: float, settings: ServingSettings,
              workdir: Path) -> dict[str, Any]:
    """Latency at a fixed request rate, from :mod:`benchmarks.openloop` in its own process."""
    host, port = url.split("//")[1].split(":")
    plan = {"host": host, "port": int(port), "path": scenario.path, "bodies": scenario.files,
            "content_type": scenario.content_type, "rate": rate, "duration": settings.duration}
    plan_path, out_path = workdir / "openloop-plan.json", workdir / "openloop-out.json"
    plan_path.write_text(json.dumps(plan))
    out_path.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "benchmarks.openloop", str(plan_path),
                           str(out_path)], cwd=launcher.PROJECT_ROOT, env=launcher.child_env(),
                          timeout=settings.duration * 4 + 120)
    if done.returncode != 0 or not out_path.exists():
        raise BenchmarkError(f"the open-loop generator failed (exit {done.returncode})")
    return json.loads(out_path.read_text())


def first_answer(url: str, scenario: Scenario) -> dict[str, Any]:
    """One request before the load: its latency, status and the predictions it names."""
    host, port = url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    began = time.perf_counter()
    connection.request("POST", scenario.path, body=Path(scenario.files[0]).read_bytes(),
                       headers={"Content-Type": scenario.content_type})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return {"status": response.status, "latency_ms": round((time.perf_counter() - began) * 1000, 2),
            "predictions": predictions(body)}


def predictions(answer: bytes) -> dict[str, str] | None:
    """``{variant: predicted character}`` from any measured server's answer."""
    try:
        body = json.loads(answer)
    except ValueError:
        return None
    if isinstance(body, list) and body:  # BentoML answers a batch of one
        body = body[0]
    for key in ("variants", "predictions"):  # RegServe and BentoML, then the naive app
        if isinstance(body, dict) and isinstance(body.get(key), dict):
            return {name: item.get("prediction") for name, item in body[key].items()
                    if isinstance(item, dict)}
    return None


def measure_server(server: str, settings: ServingSettings, bodies: dict, single: str,
                   workdir: Path, open_loops: bool = True) -> dict[str, Any]:
    """Start ``server``, run its scenarios closed then (``open_loops``) open loop, stop it."""
    live = start_server(server, settings, workdir)
    result: dict[str, Any] = {"ready_seconds": round(live.ready_seconds or 0, 2), "runs": []}
    try:
        found = scenarios(server, bodies, single)
        result["first"] = first_answer(live.url, found[0])
        if server in REGSERVE_RUNTIMES:
            result.update(regserve_state(live))
        if server == "regserve":
            script = wrk.write_script(workdir / "healthz.lua", "/healthz", [], "text/plain",
                                      method="GET")
            if wrk.wrk_path() and not settings.python_load:
                result["healthz"] = wrk.run_wrk(live.url, script, settings.connections,
                                                settings.duration)
        for scenario in found:
            log(f"  {server}: {scenario.kind}, {scenario.variants} variant(s), closed loop")
            run = {**asdict(scenario), "closed": closed_loop(live.url, scenario, settings,
                                                              workdir), "open": []}
            del run["files"]
            peak = run["closed"]["requests_per_second"] or 0
            if open_loops and scenario.variants == "all" and peak > 0:
                for share in settings.open_loop:
                    log(f"  {server}: {scenario.kind}, open loop at {share:.0%} of {peak:.0f}/s")
                    run["open"].append({"share": share, **open_loop(
                        live.url, scenario, peak * share, settings, workdir)})
            result["runs"].append(run)
        if server in REGSERVE_RUNTIMES:
            result["worker_rss_mib_after_load"] = worker_rss_mib(live)
    finally:
        live.stop()
    return result


def merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One server's rounds as one result: each scenario's closed loop (and the empty request)
    from its median round by req/s, so its latencies are one real round's, with every round's
    req/s beside it (``rounds_requests_per_second``); the open loops of the first round (the
    only one that runs them); the time to ready at its median; memory at its largest. With an
    even number of rounds the lower of the two middle ones counts."""
    if len(rounds) == 1:
        return rounds[0]

    def median(measured: list[dict[str, Any]]) -> dict[str, Any]:
        ordered = sorted(measured, key=lambda item: item.get("requests_per_second") or 0)
        return {**ordered[(len(ordered) - 1) // 2],
                "rounds_requests_per_second": [item.get("requests_per_second")
                                               for item in measured]}

    merged = dict(rounds[0])
    merged["runs"] = []
    for index, run in enumerate(rounds[0]["runs"]):
        same = [found["runs"][index] for found in rounds]
        if any((other["kind"], other["variants"]) != (run["kind"], run["variants"])
               for other in same):
            raise BenchmarkError("the rounds ran different scenarios; cannot merge them")
        merged["runs"].append({**run, "closed": median([other["closed"] for other in same])})
    if all(found.get("healthz") for found in rounds):
        merged["healthz"] = median([found["healthz"] for found in rounds])
    ready = sorted(found.get("ready_seconds") or 0 for found in rounds)
    merged["ready_seconds"] = ready[(len(ready) - 1) // 2]
    for key in ("worker_rss_mib_ready", "worker_rss_mib_after_load"):
        sizes = [found[key] for found in rounds if found.get(key)]
        if sizes:
            merged[key] = max(sizes, key=max)
    merged["rounds"] = len(rounds)
    return merged


def run_sweep(settings: ServingSettings, bodies: dict, single: str,
              workdir: Path) -> list[dict[str, Any]]:
    """RegServe's throughput on each body (all variants) with one setting changed at a time."""
    rows = []
    for name, env in SWEEP:
        live = start_server("regserve", settings, workdir, env=env, tag=f" sweep {name}")
        try:
            row: dict[str, Any] = {"name": name, "env": env}
            for scenario in scenarios("regserve", bodies, single):
                if scenario.variants == "all" and scenario.kind in SWEPT_KINDS:
                    log(f"  sweep {name}: {scenario.kind}")
                    row[scenario.kind] = closed_loop(live.url, scenario, settings, workdir,
                                                     duration=max(2.0, settings.duration / 2))
            rows.append(row)
        finally:
            live.stop()
    return rows


def measure_floor(settings: ServingSettings, bodies: dict, single: str, workdir: Path,
                  runtime: str = "auto") -> dict[str, Any]:
    """Per-request CPU of decode, preprocessing and ``runtime``'s model call, in a separate
    process."""
    plan = workdir / "floor-plan.json"
    plan.write_text(json.dumps({"bodies": {kind: bodies[kind]["raw"] for kind in KINDS},
                                "single": single, "seconds": min(1.0, settings.duration / 4),
                                "runtime": runtime}))
    out = workdir / "floor-out.json"
    out.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "benchmarks.floor", str(settings.models_dir),
                           str(plan), str(out)], cwd=launcher.PROJECT_ROOT,
                          env=launcher.child_env(), timeout=600)
    if done.returncode != 0 or not out.exists():
        raise BenchmarkError(f"measuring the floor failed (exit {done.returncode})")
    return json.loads(out.read_text())


def run_serving(settings: ServingSettings) -> dict[str, Any]:
    """Measure the floor, then each server in turn; return the full result."""
    if settings.connections < 1 or settings.duration <= 0:
        raise BenchmarkError("connections must be at least 1 and the duration positive")
    variants = [path.name for path in layout.variant_dirs(settings.models_dir)]
    if not variants:
        raise BenchmarkError(f"no trained models in {settings.models_dir}: run "
                             "`python -m trainer --all` first or pass --models-dir")
    single = settings.single_variant or ("none" if "none" in variants else variants[0])
    if single not in variants:
        raise BenchmarkError(f"variant {single!r} is not in {settings.models_dir}")
    servers, notes = available_servers(settings)
    characters, source = sample_characters(settings.inputs)
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="regserve-bench-") as tmp:
        workdir = Path(tmp)
        bodies = write_bodies(workdir, characters)
        log("measuring the floor (decode, preprocessing, model call) per runtime ...")
        floors = {server: measure_floor(settings, bodies, single, workdir, runtime)
                  for server, runtime in REGSERVE_RUNTIMES.items()
                  if server in servers and server not in REGSERVE_APPS}  # theirs: regserve's
        rounds: dict[str, list[dict[str, Any]]] = {server: [] for server in servers}
        for index in range(settings.rounds):
            if settings.rounds > 1:
                log(f"round {index + 1} of {settings.rounds}")
            for server in servers:  # in turn, so the host's drift meets every server alike
                rounds[server].append(measure_server(server, settings, bodies, single, workdir,
                                                     open_loops=index == 0))
        measured = {server: merge_rounds(found) for server, found in rounds.items()}
        sweep = run_sweep(settings, bodies, single, workdir) if settings.sweep else []
    machine["load_average_after"] = machine_info()["load_average"]
    return {
        "benchmark": "serving",
        "machine": machine,
        "settings": {**asdict(settings), "models_dir": str(settings.models_dir)},
        "variants": variants,
        "single_variant": single,
        "inputs": {"source": source, "count": len(characters),
                   "mean_bytes": {kind: bodies[kind]["mean_bytes"] for kind in KINDS}},
        "notes": notes,
        # The floor of each RegServe run, re-measured with the runtime it serves with; "floor"
        # is the default run's (ONNX Runtime where the models have twins).
        "floor": floors.get("regserve") or next(iter(floors.values()), None),
        "floors": floors,
        "servers": measured,
        "sweep": sweep,
    }
