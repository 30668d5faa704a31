"""Which exported models a comparison pairs: each variant's newest version, or its repeat group.

Read from disk only (``metadata.json`` and ``predictions.npz``), so a comparison can be rebuilt
at any time. A variant whose newest version carries ``repeat`` metadata stands for every
version of that group (its seeds); otherwise its newest version is the one model. What cannot
take part (no predictions, unreadable files) is listed with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.predictions import Predictions, PredictionsError, read_predictions
from regserve_contracts.variants import VARIANT_NAMES


@dataclass(frozen=True)
class Model:
    """One exported version with its test-set answers; ``index``: its place among the row's
    models, by seed (0 for a model trained once)."""

    variant: str
    version: int
    index: int
    seed: int | None
    predictions: Predictions


@dataclass(frozen=True)
class Entry:
    """One row of a comparison: a variant's models (one, or one per seed), by seed."""

    name: str
    models: tuple[Model, ...]
    group: str | None
    data_source: str

    @property
    def key(self) -> str:
        """``name@version`` of the newest model in the row."""
        return f"{self.name}@{max(model.version for model in self.models)}"

    @property
    def fingerprint(self) -> str:
        return self.models[0].predictions.fingerprint

    @property
    def size(self) -> int:
        return self.models[0].predictions.size

    def by_seed(self) -> dict[int | None, Model]:
        return {model.seed: model for model in self.models}


#: A version folder and its metadata.
Member = tuple[Path, md.Metadata]


def missing(variant: str, model: str | None, reason: str) -> dict[str, str | None]:
    """An item of the report's ``missing`` list."""
    return {"variant": variant, "model": model, "reason": reason}


def collect_entries(models_dir: Path) -> tuple[list[Entry], list[dict]]:
    """Every variant's comparable models (registry order, then by name) and what was left out."""
    entries, left_out = [], []
    for variant_dir in layout.variant_dirs(Path(models_dir)):
        name = variant_dir.name
        models, notes, source = [], [], "unknown"
        group, members = _members(variant_dir, notes)
        for version_dir, metadata in members:
            source = str(metadata.data.get("name", source))
            key = f"{name}@{version_dir.name}"
            block = metadata.block(md.PREDICTIONS)
            if not block:
                notes.append(missing(name, key, "exported without test-set predictions (by a "
                                     "trainer older than predictions.npz); retrain to compare"))
                continue
            try:
                predictions = read_predictions(version_dir / str(block.get(
                    "file", layout.PREDICTIONS_FILE)))
            except PredictionsError as error:
                notes.append(missing(name, key, str(error)))
                continue
            if predictions.fingerprint != block.get("test_fingerprint"):
                notes.append(missing(name, key, "predictions.npz does not match the test-set "
                                     "fingerprint in metadata.json"))
                continue
            seed = metadata.block(md.REPEAT).get("seed", metadata.training.get("seed"))
            models.append((None if seed is None else int(seed), int(version_dir.name),
                           predictions))
        left_out += notes
        if models:
            models.sort(key=lambda found: (found[0] is None, found[0] or 0))
            entries.append(Entry(name, tuple(Model(name, version, rank, seed, predictions)
                                             for rank, (seed, version, predictions)
                                             in enumerate(models)), group, source))
    order = {name: index for index, name in enumerate(VARIANT_NAMES)}
    entries.sort(key=lambda entry: (order.get(entry.name, len(order)), entry.name))
    return entries, left_out


def _group(metadata: md.Metadata) -> str | None:
    group = metadata.block(md.REPEAT).get("group")
    return str(group) if group else None


def _members(variant_dir: Path, notes: list[dict]) -> tuple[str | None, list[Member]]:
    """The repeat group of the newest version (or ``None``) and the versions that make the row:
    the newest alone, or the newest version of each seed of its group (a seed trained again
    replaces its older version)."""
    name = variant_dir.name
    newest = layout.newest_version(variant_dir)
    try:
        newest_metadata = md.Metadata.parse(layout.read_metadata(newest))
    except (OSError, ValueError) as error:
        notes.append(missing(name, f"{name}@{newest.name}", f"unreadable metadata ({error})"))
        return None, []
    group = _group(newest_metadata)
    members = [(newest, newest_metadata)]
    if group is None:
        return None, members
    seen = {newest_metadata.block(md.REPEAT).get("seed")}
    for version in reversed(layout.versions(variant_dir)[:-1]):
        try:
            metadata = md.Metadata.parse(layout.read_metadata(variant_dir / str(version)))
        except (OSError, ValueError):
            continue  # an unreadable older version cannot be shown to belong to the group
        seed = metadata.block(md.REPEAT).get("seed")
        if _group(metadata) == group and seed is not None and seed not in seen:
            seen.add(seed)
            members.append((variant_dir / str(version), metadata))
    return group, members


def matched(entries: list[Entry]) -> list[tuple[Model, ...]]:
    """The entries' models matched seed by seed: on the seeds they all have (trained with the
    same --seed and --seeds, the usual case), else the i-th seed of each with the i-th."""
    by_seed = [entry.by_seed() for entry in entries]
    common = sorted(set.intersection(*(set(seeds) for seeds in by_seed)) - {None})
    if common:
        return [tuple(seeds[seed] for seeds in by_seed) for seed in common]
    return list(zip(*(entry.models for entry in entries), strict=False))
