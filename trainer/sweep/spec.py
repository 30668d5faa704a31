"""What a sweep trains: ``--penalty``, ``--where`` and ``--lambdas`` parsed into named points."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from regserve_contracts.variants import Variant, family  # noqa: F401 (family: re-exported)
from trainer.errors import UsageError

SWEEP_PENALTIES = ("l1", "l2", "elasticnet")
SWEEP_PLACES = ("kernel_bias", "activity")
#: The name of the registered baseline; a sweep's own baseline is ``none.<sweep>`` so that a
#: sweep never adds a version to the ``none`` a server already serves.
BASELINE_NAME = "none"
#: At most this many lambdas per family: a typo like ``1e-6..1e-1:1000`` must not start 6,000 jobs.
MAX_LAMBDAS = 64
_SWEEP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class SpecError(UsageError):
    """A sweep specification cannot be used; the message names the flag and what to write."""


def parse_lambdas(text: str) -> tuple[float, ...]:
    """``LO..HI:N`` (N log-spaced values, both ends included) or a comma list, ascending.

    Every lambda is rounded to 3 significant digits, the precision of its point's name, so the
    name and the value a model was trained with always agree.
    """
    text = text.strip().replace(" ", "")
    if ".." in text:
        lo_text, _, rest = text.partition("..")
        hi_text, colon, count_text = rest.partition(":")
        if not colon:
            raise SpecError(f"--lambdas {text!r}: a range looks like LO..HI:N, e.g. 1e-6..1e-2:5")
        lo, hi = _positive(lo_text, text), _positive(hi_text, text)
        try:
            count = int(count_text)
        except ValueError:
            raise SpecError(f"--lambdas {text!r}: N must be a whole number, got "
                            f"{count_text!r}") from None
        if not 1 <= count <= MAX_LAMBDAS:
            raise SpecError(f"--lambdas {text!r}: N must be 1 to {MAX_LAMBDAS}, got {count}")
        if hi < lo:
            raise SpecError(f"--lambdas {text!r}: LO must not exceed HI")
        if count == 1 and lo != hi:
            raise SpecError(f"--lambdas {text!r}: one value needs LO == HI (or give a list)")
        step = 0.0 if count == 1 else (math.log10(hi) - math.log10(lo)) / (count - 1)
        values = [10 ** (math.log10(lo) + i * step) for i in range(count)]
    else:
        values = [_positive(part, text) for part in text.split(",")]
    rounded = sorted({_round(value) for value in values})
    if len(rounded) > MAX_LAMBDAS:
        raise SpecError(f"--lambdas {text!r}: at most {MAX_LAMBDAS} values")
    return tuple(rounded)


def parse_choices(text: str, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    """A comma list of names from ``allowed`` (or ``all``), in ``allowed`` order, each once."""
    parts = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not parts:
        raise SpecError(f"{flag}: give one or more of {','.join(allowed)} (or all)")
    if parts == ["all"]:
        return allowed
    unknown = [part for part in parts if part not in allowed]
    if unknown:
        raise SpecError(f"{flag}: {unknown[0]!r} is not one of {', '.join(allowed)} (or all)")
    return tuple(name for name in allowed if name in parts)


def lambda_text(lam: float) -> str:
    """A lambda as it appears in point names: ``1e-04``, ``3.16e-06``, ``2.5e-01``."""
    mantissa, exponent = f"{lam:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def point_name(penalty: str, where: str, lam: float) -> str:
    """The variant name of one sweep point, e.g. ``l1_kernel_bias_1e-04``."""
    return f"{penalty}_{where}_{lambda_text(lam)}"


def check_sweep_name(name: str) -> str:
    """A sweep name is a folder name: 1-64 letters, digits, '_', '.', '-'."""
    if not _SWEEP_NAME_RE.match(name):
        raise SpecError(f"--name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
                        "starting with a letter or digit")
    return name


def default_sweep_name(now: dt.datetime | None = None) -> str:
    """``sweep-YYYYMMDD-HHMMSS`` in UTC."""
    return (now or dt.datetime.now(dt.UTC)).strftime("sweep-%Y%m%d-%H%M%S")


def baseline_name(sweep: str) -> str:
    """The baseline point of sweep ``sweep``: ``none.<sweep>`` in the variant names' alphabet."""
    name = f"{BASELINE_NAME}.{sweep.lower()}"
    try:
        Variant(name)
    except ValueError:
        longest = 64 - len(BASELINE_NAME) - 1
        raise SpecError(f"--name {sweep!r}: too long for the baseline's name {name!r} (at most "
                        f"{longest} characters), or add --no-baseline") from None
    return name


@dataclass(frozen=True)
class SweepSpec:
    """Penalties x places x lambdas, plus the unpenalized baseline unless ``baseline`` is off.

    ``baseline_name`` is where the baseline goes; a sweep made before it had its own name
    kept it in ``none``.
    """

    name: str
    penalties: tuple[str, ...]
    places: tuple[str, ...]
    lambdas: tuple[float, ...]
    baseline: bool = True
    baseline_name: str = ""

    def __post_init__(self) -> None:
        if not self.baseline_name:
            object.__setattr__(self, "baseline_name", baseline_name(self.name)
                               if self.baseline else BASELINE_NAME)

    def points(self) -> tuple[Variant, ...]:
        """The baseline first, then every family's lambdas in ascending order."""
        found = [Variant(self.baseline_name, title=f"No penalty (baseline of sweep {self.name})")
                 ] if self.baseline else []
        found += [Variant(point_name(penalty, where, lam), penalty, where, lam)
                  for penalty in self.penalties for where in self.places for lam in self.lambdas]
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        """As stored in the sweep's manifest."""
        return {"name": self.name, "penalties": list(self.penalties),
                "places": list(self.places), "lambdas": list(self.lambdas),
                "baseline": self.baseline, "baseline_name": self.baseline_name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        """Rebuild a spec from :meth:`to_dict` output (an older manifest: baseline ``none``)."""
        return cls(str(data["name"]), tuple(data["penalties"]), tuple(data["places"]),
                   tuple(float(lam) for lam in data["lambdas"]), bool(data["baseline"]),
                   str(data.get("baseline_name", BASELINE_NAME)))



def _positive(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"--lambdas {spec!r}: {text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise SpecError(f"--lambdas {spec!r}: every lambda must be a number > 0, got {text!r}")
    return value


def _round(value: float) -> float:
    return float(f"{value:.2e}")
