"""The floor: per-request CPU of each unavoidable step, measured alone, and the limit it implies.

For each body kind: its decode (PNG: :func:`decode_reduced`; pixels: JSON parsing and the
array check the server does), its preprocessing (:func:`image_to_emnist`; none for pixels sent
preprocessed) and the model call per image in a batch of :data:`BATCH` (the all-variant fused
function, and one variant alone), each as CPU seconds of this process over many repetitions.
The empty request (``GET /healthz`` under the same load generator) is measured by the serving
benchmark. On C cores the floor-implied limit is ``C / (empty + decode + preprocess + model)``.

Run as ``python -m benchmarks.floor MODELS_DIR BODIES.json OUT.json`` (the runtime in a process
of its own, with one thread per pool as each gunicorn worker has on 2 cores); the plan's
``runtime`` (auto, onnx, tensorflow) says which runtime's model call is measured.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts import layout
from regserve_contracts.decoding import decode_reduced
from regserve_contracts.emnist_form import image_to_emnist, pixels_to_emnist
from regserve_contracts.signature import to_model_input
from server.jsonio import loads

#: Images per model call when measuring its cost: what 16 connections on 2 workers gather.
BATCH = 8
MIN_SECONDS = 1.0


def cpu_ms(function: Callable[[Any], Any], items: list[Any], min_seconds: float = MIN_SECONDS,
           per_call: int = 1) -> float:
    """Median CPU milliseconds per item (``per_call`` items per call) over repeated rounds."""
    function(items[0])
    rounds = []
    spent = 0.0
    while spent < min_seconds or len(rounds) < 3:
        began = time.process_time()
        for item in items:
            function(item)
        took = time.process_time() - began
        spent += took
        rounds.append(took * 1000 / (len(items) * per_call))
    return float(np.median(rounds))


def body_costs(kind: str, bodies: list[bytes], seconds: float) -> dict[str, float]:
    """CPU ms per request of decoding and preprocessing one body of ``kind``."""
    if kind == "pixels":
        def parse(body: bytes) -> np.ndarray:
            return pixels_to_emnist(loads(body)["pixels"], already_emnist=True)

        return {"decode_ms": cpu_ms(parse, bodies, seconds), "preprocess_ms": 0.0}
    images = [decode_reduced(body) for body in bodies]
    return {"decode_ms": cpu_ms(decode_reduced, bodies, seconds),
            "preprocess_ms": cpu_ms(image_to_emnist, images, seconds)}


def model_costs(models_dir: Path, single: str, seconds: float,
                runtime: str = "auto") -> dict[str, float]:
    """CPU ms per image of the fused all-variant call and of one variant, in batches of BATCH,
    on ``runtime`` (as the server chooses it for these models when ``auto``)."""
    from server.runtime.loading import RuntimeOptions, build_engine, choose_runtime, load_variant

    paths = {variant_dir.name: layout.newest_version(variant_dir)
             for variant_dir in layout.variant_dirs(models_dir)}
    runtime = choose_runtime(runtime, paths.values())
    options = RuntimeOptions(runtime, 1, 1, 1)  # one thread per pool, as each worker on 2 cores
    loaded = {name: load_variant(name, path, int(path.name), options, runtime=runtime)
              for name, path in paths.items()}
    engine = build_engine(runtime, loaded, subset_cache=4, options=options)
    rng = np.random.default_rng(0)
    batches = [to_model_input(rng.integers(0, 256, (BATCH, 28, 28), dtype=np.uint8))
               for _ in range(8)]
    names = list(loaded)
    engine.run(batches[0], [single])  # starts building the one-variant function
    deadline = time.monotonic() + 30
    while single_pending(engine, single) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {
        "model_all_ms": cpu_ms(lambda batch: engine.run_packed(batch, names), batches, seconds,
                               per_call=BATCH),
        "model_one_ms": cpu_ms(lambda batch: engine.run_packed(batch, [single]), batches, seconds,
                               per_call=BATCH),
        "batch": BATCH,
        "variants": len(names),
        "runtime": runtime,
    }


def single_pending(engine, single: str) -> bool:
    """Whether the one-variant function is still being built (the engine answers meanwhile
    with the all-variant one, which would make the single variant look as dear as all)."""
    return not engine.single_direct and frozenset([single]) not in engine.ready_subsets()


def implied_limit(cores: int, *costs_ms: float) -> float | None:
    """Requests per second that ``cores`` could serve if a request cost only ``costs_ms``."""
    total = sum(costs_ms)
    return cores * 1000.0 / total if total > 0 else None


def main(models_dir: Path, bodies_path: Path, out_path: Path) -> None:
    """Measure every body kind in ``bodies_path`` (kind -> files) and the model calls."""
    plan = json.loads(bodies_path.read_text())
    result: dict[str, Any] = {"bodies": {}}
    seconds = float(plan.get("seconds", MIN_SECONDS))
    for kind, files in plan["bodies"].items():
        result["bodies"][kind] = body_costs(kind, [Path(name).read_bytes() for name in files],
                                            seconds)
    result.update(model_costs(models_dir, plan["single"], seconds, plan.get("runtime", "auto")))
    out_path.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
