"""The model call alone, per runtime and setting: CPU ms per image at batch 1, 8 and 32.

``python -m benchmarks.runtime_options --models-dir DIR`` loads every variant's newest version
and times, in this one process, TensorFlow's fused tf.function (one intra- and one inter-op
thread, as a worker on 2 cores has) and ONNX Runtime on the merged graph with the settings the
server uses, then with one setting changed at a time: two intra-op threads, parallel execution,
basic graph optimizations only, eight sessions (one per variant) instead of one merged graph.
Times are CPU seconds of this process (``time.process_time``), so other load on the machine
inflates them less than wall time; the ratios between rows are what to read.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.report import markdown_table
from regserve_contracts import layout
from regserve_contracts.signature import SERVING_INPUT, to_model_input

BATCHES = (1, 8, 32)


def cpu_ms_per_image(call: Callable[[np.ndarray], object], batch: int,
                     seconds: float = 1.0) -> float:
    """Median CPU ms per image of ``call`` on random uint8 characters, over rounds of 1/3 s."""
    images = to_model_input(np.random.default_rng(0).integers(0, 256, (batch, 28, 28),
                                                               dtype=np.uint8))
    call(images)
    rounds, spent = [], 0.0
    while spent < seconds or len(rounds) < 3:
        began, calls = time.process_time(), 0
        while time.process_time() - began < seconds / 3:
            call(images)
            calls += 1
        took = time.process_time() - began
        spent += took
        rounds.append(took * 1000 / (calls * batch))
    return float(np.median(rounds))


def ort_variants(twins: dict) -> dict[str, Callable]:
    """ONNX Runtime settings to compare: the server's, then one change at a time."""
    import onnxruntime as ort

    from server.runtime.ort_backend import merge, session

    merged = merge({name: twin.model for name, twin in twins.items()})
    names = list(twins)

    def custom(**changes):
        options = ort.SessionOptions()
        options.intra_op_num_threads = changes.get("threads", 1)
        options.inter_op_num_threads = 1
        options.execution_mode = changes.get("mode", ort.ExecutionMode.ORT_SEQUENTIAL)
        options.graph_optimization_level = changes.get(
            "level", ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        options.log_severity_level = 3
        fused = ort.InferenceSession(merged.SerializeToString(), options,
                                     providers=["CPUExecutionProvider"])
        return lambda images: fused.run(names, {SERVING_INPUT: images})

    served = session(merged)
    separate = {name: session(merge({name: twin.model})) for name, twin in twins.items()}
    return {
        "ONNX Runtime, merged graph (served: 1 thread, sequential, all optimizations)":
            lambda images: served.run(names, {SERVING_INPUT: images}),
        "ONNX Runtime, 2 intra-op threads": custom(threads=2),
        "ONNX Runtime, parallel execution": custom(mode=ort.ExecutionMode.ORT_PARALLEL),
        "ONNX Runtime, basic optimizations only":
            custom(level=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC),
        "ONNX Runtime, 8 sessions (one per variant)":
            lambda images: [s.run([name], {SERVING_INPUT: images})
                            for name, s in separate.items()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runtime_options",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--seconds", type=float, default=1.0, help="per row and batch size")
    args = parser.parse_args(argv)
    from server.runtime.loading import RuntimeOptions, build_engine, load_variant

    paths = {d.name: layout.newest_version(d) for d in layout.variant_dirs(args.models_dir)}
    if not paths:
        print(f"error: no trained versions in {args.models_dir}", file=sys.stderr)
        return 2
    options = RuntimeOptions("tensorflow", 1, 1, 1)
    loaded = {runtime: {name: load_variant(name, path, int(path.name), options, runtime)
                        for name, path in paths.items()} for runtime in ("tensorflow", "onnx")}
    tf_engine = build_engine("tensorflow", loaded["tensorflow"], 1, options)
    calls = {"TensorFlow, fused tf.function (1 intra-, 1 inter-op thread)":
             lambda images: tf_engine.run(images, list(paths))}
    calls.update(ort_variants({name: v.model for name, v in loaded["onnx"].items()}))
    rows = []
    for label, call in calls.items():
        rows.append([label, *(f"{cpu_ms_per_image(call, b, args.seconds):.3f}" for b in BATCHES)])
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    print(f"CPU ms per image, all {len(paths)} variants in one call, models in {args.models_dir}"
          "\n\n" + markdown_table(["runtime and setting", *(f"batch {b}" for b in BATCHES)],
                                  rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
