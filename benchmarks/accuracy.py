"""Accuracy benchmark: the trained variants' test results next to the original run's numbers.

It reads ``metadata.json`` of each variant's newest version in a models folder (what
``python -m trainer --all`` wrote, on whatever ``--data``) and sets it beside the seed's
published results (EXPERIMENT.md). It can run the trainer first. The same command works on
models trained on real EMNIST; on anything else it says the numbers are not comparable.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import BenchmarkError, log, machine_info, markdown_table
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.metadata import Metadata
from regserve_contracts.variants import VARIANT_NAMES
from server.launcher import PROJECT_ROOT

#: The seed's published results on the EMNIST balanced test set: (loss, accuracy, words).
#: A number is ``None`` where the seed only described the result in words.
PUBLISHED: dict[str, tuple[float | None, float | None, str]] = {
    "none": (0.4031, 0.8729, ""),
    "l2_activity": (0.3712, 0.8901, ""),
    "l2_activity_strong": (0.5058, 0.8837, ""),
    "l2_kernel_bias": (None, 0.85, "a bit lower than 0.85"),
    "l1_kernel_bias": (None, None, "very poor"),
    "l1_activity": (None, None, "very poor"),
    "elasticnet_kernel_bias": (None, None, "poor"),
    "elasticnet_activity": (None, None, "poor"),
}
#: The seed's settings and test set: results trained otherwise are compared with care.
SEED_EPOCHS, SEED_BATCH, EMNIST_TEST_SIZE = 25, 250, 18_800
#: Every real-EMNIST source's name starts with this (download or local archive).
EMNIST_NAME = "emnist-balanced"


@dataclass(frozen=True)
class AccuracySettings:
    """Which models folder to read, and trainer arguments to run first (none: just read)."""

    models_dir: Path
    trainer_args: str | None = None


def run_trainer(models_dir: Path, trainer_args: str) -> None:
    """Run ``python -m trainer --all --models-dir DIR <trainer_args>``; raise if it fails."""
    command = [sys.executable, "-m", "trainer", "--all", "--models-dir", str(models_dir),
               *shlex.split(trainer_args)]
    log(f"running {shlex.join(command[1:])} ...")
    if subprocess.run(command, cwd=PROJECT_ROOT).returncode != 0:
        raise BenchmarkError(f"the trainer failed: {shlex.join(command[1:])}")


def run_accuracy(settings: AccuracySettings) -> dict[str, Any]:
    """Read every variant's newest metadata and compare it with the published numbers."""
    if settings.trainer_args is not None:
        run_trainer(settings.models_dir, settings.trainer_args)
    rows = []
    order = {name: index for index, name in enumerate(VARIANT_NAMES)}
    found = sorted(layout.variant_dirs(settings.models_dir),
                   key=lambda path: (order.get(path.name, len(order)), path.name))
    for variant_dir in found:
        version_dir = layout.newest_version(variant_dir)
        metadata = Metadata(layout.read_metadata(version_dir))
        test, training = metadata.block(md.TEST), metadata.training
        loss, accuracy, words = PUBLISHED.get(variant_dir.name,
                                              (None, None, "not in the original experiment"))
        rows.append({
            "variant": variant_dir.name,
            "version": int(version_dir.name),
            "data": metadata.data,
            "epochs": training.get("epochs"),
            "batch_size": training.get("batch_size"),
            "test_loss": test.get("loss"),
            "test_accuracy": test.get("accuracy"),
            "published_loss": loss,
            "published_accuracy": accuracy,
            "published_words": words,
            "loss_difference": _difference(test.get("loss"), loss),
            "accuracy_difference": _difference(test.get("accuracy"), accuracy),
        })
    if not rows:
        raise BenchmarkError(f"no trained models in {settings.models_dir}: run "
                             "`python -m trainer --all` first or pass --models-dir")
    return {"benchmark": "accuracy", "machine": machine_info(),
            "models_dir": str(settings.models_dir), "rows": rows,
            "claims": check_claims(rows), "warnings": warnings_for(rows)}


def warnings_for(rows: list[dict[str, Any]]) -> list[str]:
    """Say plainly why these numbers may not be comparable with the seed's."""
    notes = []
    sources = sorted({row["data"].get("name", "unknown") for row in rows})
    for name in sources:
        sizes = {row["data"].get("test_size") for row in rows if row["data"].get("name") == name}
        if not name.startswith(EMNIST_NAME):
            notes.append(f"data source {name!r} is not EMNIST balanced: the comparison is about "
                         "the shape of the result (which penalties help or hurt, and how much), "
                         "not the numbers.")
        elif sizes != {EMNIST_TEST_SIZE}:
            notes.append(f"tested on {sorted(sizes)} images, not the full {EMNIST_TEST_SIZE:,} "
                         "of EMNIST balanced: the numbers are indicative only.")
    if len(sources) > 1:
        notes.append(f"the variants were trained on different data: {', '.join(sources)}.")
    settings = {(row["epochs"], row["batch_size"]) for row in rows}
    if settings != {(SEED_EPOCHS, SEED_BATCH)}:
        notes.append(f"trained with (epochs, batch size) {sorted(settings, key=str)}; the original "
                     f"experiment used ({SEED_EPOCHS}, {SEED_BATCH}).")
    return notes


#: The seed's claims as (description, variant a, variant b, metric, seed's a - b or None):
#: each holds here when a - b has the seed's sign (negative when the seed only said "worse").
CLAIMS: tuple[tuple[str, str, str, str, float | None], ...] = (
    ("L2 on activity beats no penalty (accuracy)", "l2_activity", "none", "accuracy", 0.0172),
    ("10x stronger L2 on activity is worse on loss", "l2_activity_strong", "l2_activity", "loss",
     0.1346),
    ("L2 on kernels/biases is below no penalty", "l2_kernel_bias", "none", "accuracy", None),
    ("L1 on kernels/biases hurts badly", "l1_kernel_bias", "none", "accuracy", None),
    ("L1 on activity hurts badly", "l1_activity", "none", "accuracy", None),
    ("elastic net on kernels/biases hurts", "elasticnet_kernel_bias", "none", "accuracy", None),
    ("elastic net on activity hurts", "elasticnet_activity", "none", "accuracy", None),
)


def check_claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each seed claim this folder can test: the seed's difference, ours, and whether it holds."""
    by_name = {row["variant"]: row for row in rows}
    checked = []
    for text, a, b, metric, seed in CLAIMS:
        if a not in by_name or b not in by_name:
            continue
        ours = _difference(by_name[a][f"test_{metric}"], by_name[b][f"test_{metric}"])
        sign = 1 if seed is not None and seed > 0 else -1
        checked.append({"claim": text, "metric": metric, "first": a, "second": b,
                        "seed_difference": seed, "difference": ours,
                        "holds": None if ours is None else ours * sign > 0})
    return checked


def render_accuracy(result: dict[str, Any]) -> str:
    """The Markdown report: one row per variant, ours beside the seed's, and the warnings."""
    rows = [[
        row["variant"], row["version"], row["data"].get("name", "unknown"),
        f"{row['data'].get('train_size', 0):,}/{row['data'].get('test_size', 0):,}",
        row["epochs"], _fmt(row["test_loss"]), _fmt(row["published_loss"]),
        _fmt(row["loss_difference"], signed=True), _fmt(row["test_accuracy"]),
        row["published_words"] or _fmt(row["published_accuracy"]),
        _fmt(row["accuracy_difference"], signed=True),
    ] for row in result["rows"]]
    table = markdown_table(
        ["variant", "version", "data", "train/test", "epochs", "test loss", "original loss",
         "loss diff", "test accuracy", "original accuracy", "accuracy diff"], rows)
    lines = ["## Accuracy: this run vs the original experiment's published results", "",
             f"{result['machine']['date']} | models from {result['models_dir']}", "", table]
    claims = check_claims(result["rows"])
    if claims:
        lines += ["", "### The original experiment's claims, checked on these models", "",
                  markdown_table(
            ["claim", "compared", "original difference", "difference here", "holds here"],
            [[c["claim"], f"{c['metric']}: {c['first']} - {c['second']}",
              "worse" if c["seed_difference"] is None
              else _fmt(c["seed_difference"], signed=True), _fmt(c["difference"], signed=True),
              {True: "yes", False: "no", None: "n/a"}[c["holds"]]] for c in claims])]
    if result["warnings"]:
        lines += [""] + [f"WARNING: {note}" for note in result["warnings"]]
    lines += ["", "The original numbers are on the full EMNIST balanced test set (18,800 "
              "images) after 25 epochs at batch 250; a difference against a described result "
              "(\"a bit lower than 0.85\") is taken against 0.85."]
    return "\n".join(lines)


def _difference(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or theirs is None else ours - theirs


def _fmt(value: Any, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"
