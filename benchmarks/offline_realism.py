"""How handwriting-like is the offline set? Speed, and real-EMNIST accuracy of a CNN trained on it.

Run ``python -m benchmarks.offline_realism [--train-size N] [--epochs E]``. It prints a Markdown
table: images per second of the generator; and, when the shared sample of real EMNIST exists,
the accuracy on real characters of the ``none`` CNN trained on N synthetic images, next to the
same CNN trained on the sample's own real train split, and chance.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.report import SHARED_SAMPLE
from regserve_contracts.labels import NUM_CLASSES
from regserve_contracts.signature import to_model_input
from regserve_contracts.tensorflow_log import quiet_log_level
from regserve_contracts.variants import get_variant
from trainer.data.synthetic import NAME, generate
from trainer.model import build_model

TIMING_SIZE = 10_000


@dataclass(frozen=True)
class Settings:
    """What to generate and how long to train."""

    train_size: int
    epochs: int
    batch_size: int
    seed: int
    sample: Path


def parse_args(argv: list[str] | None = None) -> Settings:
    """Read the command line into :class:`Settings`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=20_000, help="synthetic training images")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=Path, default=SHARED_SAMPLE, help="real EMNIST .npz")
    args = parser.parse_args(argv)
    if args.train_size < 1 or args.epochs < 1 or args.batch_size < 1:
        parser.error("--train-size, --epochs and --batch-size must be at least 1")
    return Settings(args.train_size, args.epochs, args.batch_size, args.seed, args.sample)


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the table."""
    print(message, file=sys.stderr, flush=True)


def timed_generation(size: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Generate ``size`` training images; return them and the seconds the first 10,000 took."""
    start = time.perf_counter()
    marks: dict[int, float] = {}

    def progress(done: int) -> None:
        marks[done] = time.perf_counter() - start
        log(f"  generated {done:,}/{size:,} images ({done / marks[done]:.0f} images/s)")

    x, y = generate(size, seed, "train", progress=progress)
    total = time.perf_counter() - start
    # Below 10,000 images the time is scaled up from the images made, and the table says so.
    return x, y, marks.get(TIMING_SIZE, total * TIMING_SIZE / max(size, 1))


def train_and_score(x, y, settings: Settings, evaluations: dict) -> dict[str, float]:
    """Train the ``none`` CNN on ``x, y``; return its accuracy on each named ``(x, y)`` pair."""
    import keras  # heavy: imported when a model is trained, not for --help

    keras.utils.set_random_seed(settings.seed)
    model = build_model(get_variant("none"))
    model.fit(
        to_model_input(x),
        keras.utils.to_categorical(y, NUM_CLASSES),
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=_log_epoch)],
    )
    scores = {}
    for name, (ex, ey) in evaluations.items():
        probabilities = model.predict(to_model_input(ex), verbose=0)
        scores[name] = float(np.mean(probabilities.argmax(axis=1) == ey))
    return scores


def _log_epoch(epoch: int, logs: dict) -> None:
    log(f"  epoch {epoch + 1}: loss {logs['loss']:.4f}, accuracy {logs['accuracy']:.4f}")


def main(argv: list[str] | None = None) -> int:
    """Measure, then print the Markdown table."""
    settings = parse_args(argv)
    quiet_log_level()
    log(f"generating {settings.train_size:,} synthetic images (seed {settings.seed}) ...")
    x_syn, y_syn, seconds = timed_generation(settings.train_size, settings.seed)
    print("| generator | value |\n| --- | --- |")
    scaled = "" if settings.train_size >= TIMING_SIZE else f", scaled from {settings.train_size:,}"
    print(f"| time for 10,000 images (one process{scaled}) | {seconds:.1f} s |")
    print(f"| rate | {TIMING_SIZE / seconds:,.0f} images/s |")
    if not settings.sample.exists():
        log(f"no real sample at {settings.sample}: accuracy on real EMNIST not measured")
        return 0
    with np.load(settings.sample) as data:
        real = {key: data[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    columns = {
        "real test (304)": (real["x_test"], real["y_test"].astype(np.int64)),
        "real train (9,120)": (real["x_train"], real["y_train"].astype(np.int64)),
        "synthetic test (2,000)": generate(2_000, settings.seed, "test"),
    }
    log(f"training the 'none' CNN on {settings.train_size:,} synthetic images ...")
    on_synthetic = train_and_score(x_syn, y_syn, settings, columns)
    log("training the same CNN on the real sample's 9,120 train images ...")
    real_columns = {k: v for k, v in columns.items() if k != "real train (9,120)"}
    on_real = train_and_score(*columns["real train (9,120)"], settings, real_columns)
    on_real["real train (9,120)"] = None  # its own training data: not a fair test
    rows = {
        f"`none` CNN trained on {settings.train_size:,} {NAME}": on_synthetic,
        "`none` CNN trained on the real sample's train split (9,120)": on_real,
        "chance (1/47)": dict.fromkeys(columns, 1 / NUM_CLASSES),
    }
    print(
        f"\n| accuracy ({settings.epochs} epochs, seed {settings.seed}) | {' | '.join(columns)} |"
    )
    print("| --- |" + " ---: |" * len(columns))
    for name, scores in rows.items():
        cells = ["(trained on it)" if scores[c] is None else f"{scores[c]:.3f}" for c in columns]
        print(f"| {name} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
