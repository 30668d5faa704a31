"""How handwriting-like is the offline set? Speed, and real-EMNIST accuracy of a CNN trained on it.

Run ``python -m benchmarks.offline_realism [--train-size N] [--epochs E]``. It prints a Markdown
table: images per second of the generator; and, when the shared sample of real EMNIST exists,
the accuracy on real characters of the ``none`` CNN trained on N synthetic images, next to the
same CNN trained on the sample's own real train split, and chance.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.data.synthetic import NAME, generate
from trainer.labels import NUM_CLASSES

DEFAULT_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/emnist_balanced_sample.npz"
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
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE, help="real EMNIST .npz")
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
    import keras

    from trainer.model import build_model
    from trainer.variants import get_variant

    keras.utils.set_random_seed(settings.seed)
    model = build_model(get_variant("none"))
    model.fit(
        x[..., None].astype("float32") / 255.0,
        keras.utils.to_categorical(y, NUM_CLASSES),
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        verbose=2,
    )
    scores = {}
    for name, (ex, ey) in evaluations.items():
        probabilities = model.predict(ex[..., None].astype("float32") / 255.0, verbose=0)
        scores[name] = float(np.mean(probabilities.argmax(axis=1) == ey))
    return scores


def main(argv: list[str] | None = None) -> int:
    """Measure, then print the Markdown table."""
    settings = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log(f"generating {settings.train_size:,} synthetic images (seed {settings.seed}) ...")
    x_syn, y_syn, seconds = timed_generation(settings.train_size, settings.seed)
    note = "" if settings.train_size >= TIMING_SIZE else f" (scaled from {settings.train_size:,})"
    rows = [
        ("generation, 10,000 images, one process", f"{seconds:.1f} s{note}"),
        ("generation rate", f"{TIMING_SIZE / seconds:,.0f} images/s"),
    ]
    if not settings.sample.exists():
        log(f"no real sample at {settings.sample}: accuracy on real EMNIST not measured")
    else:
        real = np.load(settings.sample)
        x_test_syn, y_test_syn = generate(2_000, settings.seed, "test")
        evaluations = {
            "real test (304)": (real["x_test"], real["y_test"].astype(np.int64)),
            "real train (9,120)": (real["x_train"], real["y_train"].astype(np.int64)),
            "synthetic test (2,000)": (x_test_syn, y_test_syn),
        }
        log(f"training the 'none' CNN on {settings.train_size:,} synthetic images ...")
        start = time.perf_counter()
        on_synthetic = train_and_score(x_syn, y_syn, settings, evaluations)
        minutes = (time.perf_counter() - start) / 60
        log("training the same CNN on the real sample's 9,120 train images ...")
        on_real = train_and_score(
            real["x_train"],
            real["y_train"].astype(np.int64),
            settings,
            {"real test (304)": evaluations["real test (304)"]},
        )
        trained = f"trained on {settings.train_size:,} {NAME}, {settings.epochs} epochs"
        rows += [
            (f"accuracy on real test (304), {trained}", f"{on_synthetic['real test (304)']:.3f}"),
            (
                f"accuracy on real train (9,120), {trained}",
                f"{on_synthetic['real train (9,120)']:.3f}",
            ),
            (
                f"accuracy on synthetic test (2,000), {trained}",
                f"{on_synthetic['synthetic test (2,000)']:.3f}",
            ),
            (
                f"accuracy on real test (304), trained on real sample train (9,120), "
                f"{settings.epochs} epochs",
                f"{on_real['real test (304)']:.3f}",
            ),
            ("chance (1/47)", f"{1 / NUM_CLASSES:.3f}"),
            ("training time on synthetic", f"{minutes:.1f} min"),
        ]
    print("| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
