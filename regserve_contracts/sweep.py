"""``sweep_<name>.json``, the sweep report the page draws: its keys, schema version, one parser.

The analysis writes it (analysis/sweep/report.py) through the names here; every reader goes
through :func:`parse`, which checks the shape and names what is wrong. A family either has two
picks (``best``, ``one_se``) or a ``refusal`` saying why it picks nothing (no validation images,
every point at chance): a sweep never picks on test accuracy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Schema 1 (no ``schema_version`` key) had no refusal and could pick on test accuracy.
SCHEMA_VERSION = 2
PREFIX, SUFFIX = "sweep_", ".json"
FILE_PATTERN = re.compile(r"^sweep_(?P<name>.+)\.json$")

# Top-level keys.
SCHEMA = "schema_version"
SWEEP = "sweep"  #: the sweep's name
CHART = "chart"  #: the PNG beside it, or None
MARKDOWN = "markdown"  #: the report for people beside it
DATA_SOURCES = "data_sources"
RULE = "rule"  #: how the picks are made, in words
SEEDS = "seeds"  #: the most seeds any point was trained with
BASELINE = "baseline"  #: the unpenalized point, or None
FAMILIES = "families"
PICKS = "picks"  #: with one family: its picks (or None), repeated at the top
REFUSAL = "refusal"  #: with one family: why it picks nothing (or None)

# Keys of a family.
FAMILY = "family"
SPARSITY = "sparsity"  #: "weight_sparsity" or "activation_sparsity": the family's own
POINTS = "points"
BEST = "best"  #: the best point's name, or None
SE_SOURCE = "se_source"  #: where the one-SE rule's standard error came from, see below
SE_NOTE = "se_note"  #: that, in words

# Keys of a point (means over its seeds) and of a pick.
POINT_KEYS = ("point", "lam", "seeds", "val_accuracy", "val_se", "test_accuracy", "test_se",
              "weight_sparsity", "activation_sparsity", "se_source", "collapsed")
PICK_KEYS = ("lambda", "point", "seeds", "val_accuracy", "val_se", "test_accuracy", "test_se",
             "sparsity", "se_source")
PICK_NAMES = ("best", "one_se")

#: The standard error over seeds (sd / sqrt(k)), with at least this many seeds.
SE_SEEDS = "seeds"
#: The binomial sqrt(p (1 - p) / n) on the n images of one split (fewer seeds).
SE_BINOMIAL = "binomial"
SE_SOURCES = (SE_SEEDS, SE_BINOMIAL)


class SweepReportError(ValueError):
    """A document that is not a sweep report of a schema this code reads; says what is wrong."""


def file_name(sweep: str) -> str:
    """``sweep_<name>.json``."""
    return f"{PREFIX}{sweep}{SUFFIX}"


def sweep_name(file: str) -> str | None:
    """The sweep's name from a file name, or ``None`` if it is not a sweep report."""
    match = FILE_PATTERN.match(file)
    return match.group("name") if match else None


def _need(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise SweepReportError(f"{where} has no {key!r}")
    value = mapping[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise SweepReportError(f"{where}.{key} is {type(value).__name__}, not "
                               f"{' or '.join(k.__name__ for k in kinds)}")
    return value


def _family(family: Any, index: int) -> dict[str, Any]:
    where = f"families[{index}]"
    name = _need(family, FAMILY, str, where)
    points = _need(family, POINTS, list, where)
    for number, point in enumerate(points):
        _need(point, "point", str, f"{where}.points[{number}]")
        _need(point, "lam", (int, float), f"{where}.points[{number}]")
    picks, refusal = family.get(PICKS), family.get(REFUSAL)
    if (picks is None) == (refusal is None):
        raise SweepReportError(f"{where} ({name}) needs either picks or a refusal, not "
                               f"{'both' if picks is not None else 'neither'}")
    if picks is not None:
        for pick in PICK_NAMES:
            _need(_need(family, PICKS, Mapping, where), pick, Mapping, f"{where}.picks")
            _need(picks[pick], "lambda", (int, float), f"{where}.picks.{pick}")
    elif not isinstance(refusal, str) or not refusal:
        raise SweepReportError(f"{where}.refusal must be a sentence")
    source = family.get(SE_SOURCE)
    if source is not None and source not in SE_SOURCES:
        raise SweepReportError(f"{where}.se_source {source!r} is not one of {SE_SOURCES}")
    return dict(family)


def parse(document: Any) -> dict[str, Any]:
    """Check a loaded ``sweep_<name>.json``; raise :class:`SweepReportError` naming the fault.

    Returns the document as a dict. A schema-1 report (written before picks were refused) is
    refused too: it may have picked on test accuracy; rebuilding the report fixes it.
    """
    if not isinstance(document, Mapping):
        raise SweepReportError("a sweep report is a JSON object")
    version = document.get(SCHEMA, 1)
    if version != SCHEMA_VERSION:
        raise SweepReportError(f"sweep report schema {version!r}, this code reads "
                               f"{SCHEMA_VERSION}; rebuild it with python -m trainer sweep "
                               "--resume --name NAME")
    _need(document, SWEEP, str, "the report")
    families = _need(document, FAMILIES, list, "the report")
    parsed = [_family(family, index) for index, family in enumerate(families)]
    if document.get(BASELINE) is not None:
        _need(document[BASELINE], "point", str, "baseline")
    return {**document, FAMILIES: parsed}
