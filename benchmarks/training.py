"""Training benchmark: samples/s of the trainer's own path against a bare ``model.fit``.

Both fit the same model (``trainer.model.build_model``) on the same in-memory arrays with the
same batch size, epochs and validation split. Each run is a fresh process (the trainer turns on
TensorFlow's op determinism, which is process-wide and would leak into a bare run after it), and
the two kinds alternate so that a busy machine slows both alike; the median of each is compared.
Samples/s count only the time inside ``fit``; the trainer's one-time costs outside it
(preparing the arrays, evaluating and exporting) are reported on their own. The first epoch
also pays for tracing the graph, the same for both, so the target is judged on the epochs after
it ("steady") when there are any; an epoch clock is added to every ``fit`` call in both kinds.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import (
    SHARED_SAMPLE,
    TARGET_HEADERS,
    BenchmarkError,
    Target,
    log,
    machine_info,
    machine_line,
    markdown_table,
)
from regserve_contracts.labels import NUM_CLASSES
from regserve_contracts.signature import to_model_input
from regserve_contracts.variants import get_variant
from server.launcher import PROJECT_ROOT, child_env
from trainer.data import Dataset
from trainer.data.synthetic import NAME, generate
from trainer.model import build_model
from trainer.train import TrainConfig, train_variant

MODES = ("trainer", "bare")
TEST_IMAGES = 470


@dataclass(frozen=True)
class TrainingSettings:
    """How much to train per run and how many alternating runs of each kind."""

    images: int = 3000
    epochs: int = 3
    batch_size: int = 250
    repeats: int = 3
    variant: str = "none"
    validation_split: float = 0.2
    seed: int = 42


def load_arrays(images: int) -> tuple[dict[str, Any], str]:
    """Training and test arrays (real sample if present, else the offline set) and their name."""
    if SHARED_SAMPLE.exists():
        with np.load(SHARED_SAMPLE) as data:
            arrays = {key: data[key] for key in data.files}
        if len(arrays["x_train"]) < images:
            raise BenchmarkError(f"the shared sample has only {len(arrays['x_train'])} images")
        for key in ("x_train", "y_train"):
            arrays[key] = arrays[key][:images]
        return arrays, f"real EMNIST sample ({SHARED_SAMPLE.name})"
    x_train, y_train = generate(images, seed=0, split="train")
    x_test, y_test = generate(TEST_IMAGES, seed=0, split="test")
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}, NAME


def measure(mode: str, arrays_path: Path, settings: TrainingSettings) -> dict[str, Any]:
    """One run, in this process: fit with the trainer's path or bare ``model.fit``; time it."""
    import keras  # heavy: only the child process that trains imports it

    variant = get_variant(settings.variant)
    epoch_seconds = _clock_epochs(keras)
    with np.load(arrays_path) as data:
        arrays = {key: data[key] for key in data.files}
    started = time.perf_counter()
    if mode == "trainer":
        dataset = Dataset("benchmark", "benchmark arrays", arrays["x_train"],
                          arrays["y_train"].astype(np.int64), arrays["x_test"],
                          arrays["y_test"].astype(np.int64))
        config = TrainConfig(epochs=settings.epochs, batch_size=settings.batch_size,
                             validation_split=settings.validation_split, seed=settings.seed,
                             verbose=0)
        with tempfile.TemporaryDirectory(prefix="regserve-train-bench-") as models_dir:
            fit_seconds = train_variant(variant, dataset, config, Path(models_dir)).seconds
    elif mode == "bare":
        keras.utils.set_random_seed(settings.seed)
        x = to_model_input(arrays["x_train"])
        y = keras.utils.to_categorical(arrays["y_train"], NUM_CLASSES)
        model = build_model(variant)
        fit_started = time.perf_counter()
        model.fit(x, y, batch_size=settings.batch_size, epochs=settings.epochs,
                  validation_split=settings.validation_split, shuffle=True, verbose=0)
        fit_seconds = time.perf_counter() - fit_started
    else:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    total = time.perf_counter() - started
    fitted = math.floor(len(arrays["x_train"]) * (1 - settings.validation_split))  # as Keras
    later = epoch_seconds[1:]
    return {"mode": mode, "fit_seconds": round(fit_seconds, 3),
            "outside_fit_seconds": round(total - fit_seconds, 3),
            "first_epoch_seconds": round(epoch_seconds[0], 3),
            "samples_per_second": round(fitted * settings.epochs / fit_seconds, 1),
            "steady_samples_per_second":
                round(fitted * len(later) / sum(later), 1) if later else None,
            "train_samples": fitted}


def _clock_epochs(keras) -> list[float]:
    """Make every ``Model.fit`` in this process record its epochs' seconds in the returned list."""
    seconds: list[float] = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.began)

    original = keras.Model.fit

    def fit(self, *args, callbacks=None, **kwargs):
        return original(self, *args, callbacks=[*(callbacks or []), EpochClock()], **kwargs)

    keras.Model.fit = fit
    return seconds


def run_training(settings: TrainingSettings) -> dict[str, Any]:
    """Alternate trainer and bare runs in fresh processes; return every run and the medians."""
    if min(settings.images, settings.epochs, settings.batch_size, settings.repeats) < 1:
        raise BenchmarkError("images, epochs, batch size and repeats must be at least 1")
    get_variant(settings.variant)  # an unknown name fails here, in one line, not in a child
    arrays, source = load_arrays(settings.images)
    machine = machine_info()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="regserve-train-bench-") as tmp:
        arrays_path = Path(tmp) / "arrays.npz"
        np.savez(arrays_path, **arrays)
        for repeat in range(settings.repeats):
            # Swap who goes first each round so neither always gets the quieter moment.
            for mode in MODES if repeat % 2 == 0 else MODES[::-1]:
                log(f"  training run {repeat + 1}/{settings.repeats}: {mode} ...")
                runs.append({"repeat": repeat + 1, **_run_child(mode, arrays_path, settings)})
    medians = {key: {mode: _median(runs, mode, key) for mode in MODES}
               for key in ("samples_per_second", "steady_samples_per_second")}
    judged = "steady_samples_per_second" if settings.epochs > 1 else "samples_per_second"
    machine["load_average_after"] = machine_info()["load_average"]
    return {"benchmark": "training", "machine": machine, "settings": asdict(settings),
            "data": source, "runs": runs, "medians": medians, "judged_on": judged,
            "ratio": medians[judged]["trainer"] / medians[judged]["bare"]}


def render_training(result: dict[str, Any]) -> str:
    """The Markdown report: every run, the medians, their ratio and the target."""
    settings, medians, judged = result["settings"], result["medians"], result["judged_on"]
    rows = [[r["repeat"], r["mode"], _num(r["samples_per_second"]),
             _num(r["steady_samples_per_second"]), f"{r['fit_seconds']:.2f}",
             f"{r['first_epoch_seconds']:.2f}", f"{r['outside_fit_seconds']:.2f}"]
            for r in result["runs"]]
    which = "epochs 2+" if judged.startswith("steady") else "whole fit"
    target = Target(f"trainer / bare model.fit samples/s ({which})", result["ratio"], 0.95, True)
    return "\n".join([
        "## Training: the trainer vs bare model.fit", "", machine_line(result["machine"]), "",
        f"Variant {settings['variant']}; {settings['images']:,} images from {result['data']}, "
        f"validation split {settings['validation_split']}, batch {settings['batch_size']}, "
        f"{settings['epochs']} epoch(s); {settings['repeats']} alternating run(s) of each, each "
        f"in a fresh process; load average before/after {result['machine']['load_average']} / "
        f"{result['machine']['load_average_after']}.", "",
        markdown_table(["run", "path", "samples/s whole fit", "samples/s epochs 2+", "fit s",
                        "first epoch s", "outside fit s (setup, eval, export)"], rows), "",
        markdown_table(["path", "median samples/s whole fit", "median samples/s epochs 2+"],
                       [[mode, _num(medians["samples_per_second"][mode]),
                         _num(medians["steady_samples_per_second"][mode])] for mode in MODES]),
        "", "### Target", "", markdown_table(TARGET_HEADERS, [target.row()]),
    ])


def _median(runs: list[dict[str, Any]], mode: str, key: str) -> float | None:
    values = [run[key] for run in runs if run["mode"] == mode and run[key] is not None]
    return statistics.median(values) if values else None


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _run_child(mode: str, arrays_path: Path, settings: TrainingSettings) -> dict[str, Any]:
    """Run :func:`measure` in a fresh Python process and return its result."""
    out_path = arrays_path.with_name(f"{mode}-{time.monotonic_ns()}.json")
    spec = {"mode": mode, "arrays": str(arrays_path), "out": str(out_path),
            "settings": asdict(settings)}
    env = child_env()
    done = subprocess.run([sys.executable, "-m", "benchmarks.training", json.dumps(spec)],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not out_path.exists():
        raise BenchmarkError(f"the {mode} run failed (exit {done.returncode}):\n"
                             f"{done.stderr[-3000:]}")
    return json.loads(out_path.read_text())


if __name__ == "__main__":
    child = json.loads(sys.argv[1])
    outcome = measure(child["mode"], Path(child["arrays"]), TrainingSettings(**child["settings"]))
    Path(child["out"]).write_text(json.dumps(outcome))
