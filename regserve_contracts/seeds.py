"""Beyond accuracy over seeds: which exports are one recipe trained again, and the mean +- sd of
their ECE, NLL, train/test gap and corrupted accuracy.

One model's ECE or corrupted accuracy says nothing about how much training itself moves it; a
repeat group (``--seeds N``, :mod:`regserve_contracts.repeats`) does. The analysis's robustness
report and the server's ``/variants/<name>`` both read the groups through here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.repeats import read_repeat

#: Each measure: its name here, the metadata block and the key inside it.
MEASURES: dict[str, tuple[str, str]] = {
    "ece": (md.CALIBRATION, "ece"),
    "nll": (md.CALIBRATION, "nll"),
    "gap": (md.GENERALIZATION, "gap"),
    "corrupted_accuracy": (md.ROBUSTNESS, "mean_accuracy"),
}
#: What the sd is, as the report and the API say it.
DEFINITION = ("mean and sample standard deviation (n - 1) over the seeds of one repeat group: "
              "the spread is training's own, each seed measured on the same test images")


def group_members(variant_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The newest version and, if it belongs to a repeat group, the newest version of each
    other seed of that group (newest first); unreadable versions are left out."""
    found: list[tuple[Path, dict[str, Any]]] = []
    seeds: set[int] = set()
    group = None
    for version in reversed(layout.versions(Path(variant_dir))):
        folder = Path(variant_dir) / str(version)
        try:
            metadata = layout.read_metadata(folder)
        except (OSError, ValueError):
            continue
        repeat = read_repeat(metadata) if isinstance(metadata, Mapping) else None
        if not found:
            found.append((folder, metadata))
            if repeat is None:
                return found
            group, seeds = repeat.group, {repeat.seed}
        elif repeat is not None and repeat.group == group and repeat.seed not in seeds:
            seeds.add(repeat.seed)
            found.append((folder, metadata))
    return found


def measure(metadata: Mapping[str, Any], name: str) -> float:
    """One measure of one export, NaN where the export lacks it."""
    block, key = MEASURES[name]
    value = md.Metadata(metadata).block(block).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else math.nan


def spread(values: Sequence[float]) -> dict[str, Any] | None:
    """``{mean, sd, values}`` of the finite values (sd with n - 1), ``None`` below two."""
    finite = [float(v) for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return None
    return {"mean": statistics.fmean(finite), "sd": statistics.stdev(finite), "values": finite}


def over_seeds(members: Sequence[tuple[Path, Mapping[str, Any]]]) -> dict[str, Any] | None:
    """Each measure's :func:`spread` over a group's members, or ``None`` for a single model."""
    if len(members) < 2:
        return None
    return {"seeds": len(members),
            "versions": sorted(int(Path(folder).name) for folder, _ in members),
            **{name: spread([measure(metadata, name) for _, metadata in members])
               for name in MEASURES},
            "definition": DEFINITION}
