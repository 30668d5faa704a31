"""The floor: per-request CPU of each unavoidable step, measured alone, and the limit it implies.

For each body kind: its decode (PNG: :func:`decode_reduced`; pixels: JSON parsing and the
array check the server does), its preprocessing (:func:`image_to_emnist`; none for pixels sent
preprocessed) and the model call per image in a batch of :data:`BATCH` (the all-variant fused
function, and one variant alone), each as CPU seconds of this process over many repetitions.
The empty request (``GET /healthz`` under the same load generator) is measured by the serving
benchmark. On C cores the floor-implied limit is ``C / (empty + decode + preprocess + model)``.

Run as ``python -m benchmarks.floor MODELS_DIR BODIES.json OUT.json`` (TensorFlow in a process
of its own, with one thread per pool as each gunicorn worker has on 2 cores).
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
            return pixels_to_emnist(json.loads(body)["pixels"], already_emnist=True)

        return {"decode_ms": cpu_ms(parse, bodies, seconds), "preprocess_ms": 0.0}
    images = [decode_reduced(body) for body in bodies]
    return {"decode_ms": cpu_ms(decode_reduced, bodies, seconds),
            "preprocess_ms": cpu_ms(image_to_emnist, images, seconds)}


def model_costs(models_dir: Path, single: str, seconds: float) -> dict[str, float]:
    """CPU ms per image of the fused all-variant call and of one variant, in batches of BATCH."""
    # The model runtime only here: the serving report imports this module for implied_limit.
    from server.runtime.engine import FusedEngine, configure_tensorflow
    from server.runtime.registry import load_variant

    configure_tensorflow(1, 1)
    loaded = {}  # each LoadedVariant keeps its SavedModel, whose variables the signature uses
    for variant_dir in layout.variant_dirs(models_dir):
        path = layout.newest_version(variant_dir)
        loaded[variant_dir.name] = load_variant(variant_dir.name, path, int(path.name))
    functions = {name: variant.signature for name, variant in loaded.items()}
    engine = FusedEngine(functions)
    rng = np.random.default_rng(0)
    batches = [to_model_input(rng.integers(0, 256, (BATCH, 28, 28), dtype=np.uint8))
               for _ in range(8)]
    names = list(functions)
    return {
        "model_all_ms": cpu_ms(lambda batch: engine.run(batch, names), batches, seconds,
                               per_call=BATCH),
        "model_one_ms": cpu_ms(lambda batch: engine.run(batch, [single]), batches, seconds,
                               per_call=BATCH),
        "batch": BATCH,
        "variants": len(names),
    }


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
    result.update(model_costs(models_dir, plan["single"], seconds))
    out_path.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
