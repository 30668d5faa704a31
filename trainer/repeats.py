"""Repeats over seeds in the trainer: the jobs of a run, their ``repeat`` block, and the guard
that keeps a run from silently replacing a variant trained with other settings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.repeats import Repeat, group_digest, settings_differences
from regserve_contracts.variants import Variant
from trainer.data import Dataset


class SettingsConflict(ValueError):
    """A variant's newest version was trained with other settings; the message names them."""


@dataclass(frozen=True)
class Job:
    """One training: a variant with seed ``seed``, the ``index``-th of ``of`` repeats."""

    variant: Variant
    seed: int
    index: int = 1
    of: int = 1

    @property
    def label(self) -> str:
        """``none`` alone, or ``none (repeat 2 of 5, seed 43)``."""
        if self.of == 1:
            return self.variant.name
        return f"{self.variant.name} (repeat {self.index} of {self.of}, seed {self.seed})"

    def to_dict(self) -> dict[str, Any]:
        """Plain values for Ray Tune's grid: the variant's dict plus seed, index and of."""
        return {**self.variant.to_dict(), "seed": self.seed, "index": self.index, "of": self.of}

    @classmethod
    def from_dict(cls, data: dict[str, Any], default_seed: int = 0) -> Job:
        """Rebuild a job from :meth:`to_dict` (a bare variant dict is one job at the seed)."""
        return cls(Variant.from_dict(data), int(data.get("seed", default_seed)),
                   int(data.get("index", 1)), int(data.get("of", 1)))


def expand(variants: Sequence[Variant], seed: int, seeds: int) -> tuple[Job, ...]:
    """Every variant ``seeds`` times with seeds ``seed, seed + 1, ...``, variant by variant."""
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    return tuple(Job(variant, seed + k, k + 1, seeds)
                 for variant in variants for k in range(seeds))


def training_settings(epochs: int, batch_size: int, limit: int | None,
                      validation_split: float) -> dict[str, Any]:
    """The training settings a group is made of, as the ``training`` block stores them."""
    return {"epochs": epochs, "batch_size": batch_size, "limit": limit,
            "validation_split": validation_split}


def repeat_metadata(job: Job, dataset: Dataset, settings: dict[str, Any]) -> dict[str, Any]:
    """The ``repeat`` block of one job's export, keyed for ``metadata.json``."""
    group = group_digest(job.variant.to_dict(), dataset.summary(), settings)
    return {md.REPEAT: Repeat(group, job.seed, job.index, job.of).to_dict()}


def check_settings(variants: Iterable[Variant], dataset: Dataset, settings: dict[str, Any],
                   models_dir: Path) -> None:
    """Refuse when a variant's newest version on disk was trained with other settings.

    A new version becomes the one served under that name, so a run with other data, epochs,
    batch size, limit or split would replace it without a word. Another seed is allowed: that
    is a repeat of the same group.
    """
    for variant in variants:
        newest = layout.newest_version(Path(models_dir) / variant.name)
        if newest is None:
            continue
        try:
            stored = layout.read_metadata(newest)
        except (OSError, ValueError):
            continue  # an unreadable version cannot conflict; the reports flag it
        changes = settings_differences(stored, variant.to_dict(), dataset.summary(), settings)
        if changes:
            raise SettingsConflict(f"{newest} holds {variant.name!r} trained with other settings "
                                   f"({', '.join(changes)}); a new version would replace the "
                                   f"served {variant.name!r}")
