"""Repeats over seeds: which exports are one experiment trained again with another seed.

A *group* is a digest of what must match for two trainings to differ only by their seed: the
variant's spec, the data (source, sizes and content fingerprint), epochs, batch size, limit and
validation split. The seed is left out on purpose. The trainer writes the group into every
export (``metadata["repeat"]``); the reports read it back, so an older export (no ``repeat``
block) or one trained with other settings never joins a group. A seed trained twice in one
group counts once, with its newest version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from regserve_contracts import metadata as md

#: The variant's fields that make its spec (``label`` and ``title`` are only words).
VARIANT_FIELDS = ("name", "penalty", "where", "lam")
#: The data summary's fields that say which images were used (``description`` holds paths).
DATA_FIELDS = ("name", "train_size", "test_size", "fingerprint")
#: The training settings that must match; ``seed`` is what a repeat changes.
TRAINING_FIELDS = ("epochs", "batch_size", "limit", "validation_split")
#: Hex digits kept of the SHA-256: 64 bits, plenty for the groups of one models folder.
DIGEST_LENGTH = 16


@dataclass(frozen=True)
class Repeat:
    """One export's place in its group: seed S + index - 1, the index-th of ``of`` trainings."""

    group: str
    seed: int
    index: int
    of: int

    def to_dict(self) -> dict[str, Any]:
        """The ``repeat`` block of ``metadata.json``: ``{group, seed, index, of}``."""
        return {"group": self.group, "seed": self.seed, "index": self.index, "of": self.of}


def group_fields(variant: Mapping[str, Any], data: Mapping[str, Any],
                 training: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a group stands for, from the variant, data and training blocks."""
    return {"variant": {key: variant.get(key) for key in VARIANT_FIELDS},
            "data": {key: data.get(key) for key in DATA_FIELDS},
            "training": {key: training.get(key) for key in TRAINING_FIELDS}}


def group_digest(variant: Mapping[str, Any], data: Mapping[str, Any],
                 training: Mapping[str, Any]) -> str:
    """A stable digest of :func:`group_fields` (canonical JSON: sorted keys, floats as repr)."""
    fields = group_fields(variant, data, training)
    fields["variant"]["lam"] = float(fields["variant"]["lam"] or 0.0)
    fields["training"]["validation_split"] = float(fields["training"]["validation_split"] or 0.0)
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:DIGEST_LENGTH]


def read_repeat(metadata: Mapping[str, Any]) -> Repeat | None:
    """The export's ``repeat`` block, or ``None`` for an older export or a malformed block."""
    block = metadata.get(md.REPEAT)
    if not isinstance(block, Mapping):
        return None
    try:
        return Repeat(str(block["group"]), int(block["seed"]), int(block["index"]),
                      int(block["of"]))
    except (KeyError, TypeError, ValueError):
        return None


def settings_differences(stored: Mapping[str, Any], variant: Mapping[str, Any],
                         data: Mapping[str, Any], training: Mapping[str, Any]) -> list[str]:
    """What differs between an export's metadata and new settings, e.g. ``epochs 3 -> 1``.

    Empty when a new training would join the export's group. A field the older export lacks
    (the data fingerprint, say) is compared only where both have it.
    """
    old_blocks = {"variant": stored.get(md.VARIANT) or {}, "data": stored.get(md.DATA) or {},
                  "training": stored.get(md.TRAINING) or {}}
    changes = []
    for block, fields in group_fields(variant, data, training).items():
        for key, value in fields.items():
            if key not in old_blocks[block]:
                continue  # an older export did not record it: nothing to compare
            before = old_blocks[block][key]
            if _differs(before, value):
                label = f"data {key}" if block == "data" else key
                changes.append(f"{label} {_show(before)} -> {_show(value)}")
    return changes


def _differs(before: Any, after: Any) -> bool:
    if isinstance(before, int | float) and isinstance(after, int | float):
        return float(before) != float(after)
    return before != after


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:8]  # a fingerprint: its head is enough to tell two apart
    return "none" if value is None else str(value)
