"""The variant registry: every regularizer variant as data, the one list all parts loop over."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

PENALTIES = ("none", "l1", "l2", "elasticnet")
PLACES = ("none", "kernel_bias", "activity")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
#: Names a variant cannot have: ``?variant=all`` means every variant, and ``reports`` is the
#: models folder's reports directory (layout.REPORTS_DIR), which the server never loads;
#: ``mlflow.db`` and ``mlartifacts`` hold ``--track``'s runs (layout.TRACKING_*).
RESERVED_NAMES = frozenset({"all", "reports", "mlflow.db", "mlartifacts"})


class UnknownVariantError(ValueError):
    """Raised when a variant name is not in the registry; the message lists the valid names."""


@dataclass(frozen=True)
class Variant:
    """One weight penalty attached to every Conv2D/Dense layer of the shared model.

    ``where`` is ``kernel_bias`` (kernel and bias regularizers), ``activity`` (an activity
    regularizer on the layer's output) or ``none``. For ``elasticnet`` the same ``lam`` is used
    for both the L1 and the L2 term, as in the original experiment.
    """

    name: str
    penalty: str = "none"
    where: str = "none"
    lam: float = 0.0
    title: str = ""

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(
                f"variant name {self.name!r} must be 1-64 characters of a-z, 0-9, '_', '.', '-'"
            )
        if self.name in RESERVED_NAMES:
            raise ValueError(f"variant name {self.name!r} is reserved (reserved: "
                             f"{', '.join(sorted(RESERVED_NAMES))}); choose another name")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty {self.penalty!r} is not one of {', '.join(PENALTIES)}")
        if self.where not in PLACES:
            raise ValueError(f"where {self.where!r} is not one of {', '.join(PLACES)}")
        if (self.penalty == "none") != (self.where == "none"):
            raise ValueError("a penalty needs a place (kernel_bias or activity) and vice versa")
        if self.penalty != "none" and not self.lam > 0:
            raise ValueError(f"lambda must be > 0, got {self.lam}")

    @property
    def l1(self) -> float:
        """The L1 coefficient (0 when the penalty has no L1 term)."""
        return self.lam if self.penalty in ("l1", "elasticnet") else 0.0

    @property
    def l2(self) -> float:
        """The L2 coefficient (0 when the penalty has no L2 term)."""
        return self.lam if self.penalty in ("l2", "elasticnet") else 0.0

    @property
    def label(self) -> str:
        """A readable one-line description, e.g. ``L2 on activity, lambda 0.01``."""
        if self.title:
            return self.title
        if self.penalty == "none":
            return "No penalty (baseline)"
        kind = {"l1": "L1", "l2": "L2", "elasticnet": "Elastic net (L1 + L2)"}[self.penalty]
        place = {"kernel_bias": "kernels and biases", "activity": "activations"}[self.where]
        return f"{kind} on {place}, lambda {self.lam:g}"

    def to_dict(self) -> dict[str, Any]:
        """The penalty as stored in ``metadata.json`` and served by ``/variants``."""
        data = asdict(self)
        data.update(l1=self.l1, l2=self.l2, label=self.label)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        """Rebuild a variant from :meth:`to_dict` output (extra keys are ignored)."""
        return cls(
            name=data["name"],
            penalty=data.get("penalty", "none"),
            where=data.get("where", "none"),
            lam=float(data.get("lam", 0.0)),
            title=data.get("title", ""),
        )


#: The eight variants of the original experiment (lambda 0.01 unless said).
VARIANTS: tuple[Variant, ...] = (
    Variant("none"),
    Variant("l1_kernel_bias", "l1", "kernel_bias", 0.01),
    Variant("l1_activity", "l1", "activity", 0.01),
    Variant("l2_kernel_bias", "l2", "kernel_bias", 0.01),
    Variant("l2_activity", "l2", "activity", 0.01),
    Variant("l2_activity_strong", "l2", "activity", 0.10),
    Variant("elasticnet_kernel_bias", "elasticnet", "kernel_bias", 0.01),
    Variant("elasticnet_activity", "elasticnet", "activity", 0.01),
)
VARIANT_NAMES: tuple[str, ...] = tuple(v.name for v in VARIANTS)


def get_variant(name: str) -> Variant:
    """Return the registered variant called ``name`` or raise :class:`UnknownVariantError`."""
    for variant in VARIANTS:
        if variant.name == name:
            return variant
    raise UnknownVariantError(unknown_variant_message([name], VARIANT_NAMES))


def unknown_variant_message(names: Sequence[str], valid: Sequence[str],
                            failed: Mapping[str, str] | None = None,
                            reasons: Mapping[str, str] | None = None) -> str:
    """The one wording for unknown variants: each name (and why: ``reasons`` says it in full,
    ``failed`` gives a load error), then the valid names."""
    failed, reasons = failed or {}, reasons or {}
    parts = [reasons[name] if name in reasons
             else f"variant {name!r} failed to load: {failed[name]}" if name in failed
             else f"unknown variant {name!r}" for name in names]
    return "; ".join(parts) + f"; valid names: {', '.join(valid) or '(none loaded)'}"


def parse_custom(spec: str) -> Variant:
    """Parse ``PENALTY:WHERE:LAMBDA[:NAME]`` (e.g. ``l1:activity:1e-4``) into a variant.

    Without a name one is made up, e.g. ``l1_activity_0.0001``; this is how a lambda sweep is
    expressed on the command line, one flag per point.
    """
    parts = spec.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(
            f"custom variant {spec!r} must look like PENALTY:WHERE:LAMBDA[:NAME], "
            "e.g. l1:activity:0.001"
        )
    penalty, where, lam_text = parts[:3]
    try:
        lam = float(lam_text)
    except ValueError:
        raise ValueError(f"lambda {lam_text!r} in {spec!r} is not a number") from None
    name = parts[3] if len(parts) == 4 else f"{penalty}_{where}_{lam:g}"
    return Variant(name=name, penalty=penalty, where=where, lam=lam)


def family(variant: Variant) -> str:
    """A variant's penalty family: ``l1_kernel_bias`` for a sweep point, ``none`` for the
    baseline."""
    return "none" if variant.penalty == "none" else f"{variant.penalty}_{variant.where}"
