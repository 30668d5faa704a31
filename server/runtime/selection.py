"""Which variants and versions the registry loads: TF Serving's version policy, name patterns."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: ``name@version`` addresses one loaded version of a variant.
VERSION_SEPARATOR = "@"
#: Variants loaded when no pattern says otherwise, so a big sweep cannot exhaust memory.
DEFAULT_MAX_VARIANTS = 64
ALL_VARIANTS = ("*",)


class SelectionError(ValueError):
    """A version policy or variant pattern that cannot be read; the message says why."""


@dataclass(frozen=True)
class VersionPolicy:
    """TF Serving's model version policy: ``latest[:N]``, ``all`` or ``specific:1,3``."""

    kind: str = "latest"  # latest | all | specific
    count: int = 1  # how many of the newest versions, for ``latest``
    versions: tuple[int, ...] = ()  # the versions wanted, for ``specific``

    def select(self, found: Sequence[int]) -> list[int]:
        """The versions of ``found`` (on disk) this policy loads, oldest first."""
        found = sorted(found)
        if self.kind == "all":
            return found
        if self.kind == "specific":
            return [version for version in found if version in self.versions]
        return found[-self.count:]

    def __str__(self) -> str:
        if self.kind == "latest":
            return "latest" if self.count == 1 else f"latest:{self.count}"
        if self.kind == "specific":
            return "specific:" + ",".join(map(str, self.versions))
        return self.kind


LATEST = VersionPolicy()


def parse_version_policy(text: str) -> VersionPolicy:
    """Read ``latest``, ``latest:N``, ``all`` or ``specific:V[,V...]`` (TF Serving's policies)."""
    kind, _, argument = text.strip().lower().partition(":")
    try:
        if kind == "latest":
            count = int(argument) if argument else 1
            if count < 1:
                raise ValueError
            return VersionPolicy("latest", count)
        if kind == "all" and not argument:
            return VersionPolicy("all")
        if kind == "specific":
            versions = tuple(sorted({int(part) for part in argument.split(",") if part.strip()}))
            if not versions or min(versions) < 1:
                raise ValueError
            return VersionPolicy("specific", versions=versions)
    except ValueError:
        pass
    raise SelectionError(
        f"version policy {text!r} is not one of latest, latest:N (N >= 1), all, "
        "specific:V[,V...] (versions >= 1)"
    )


def parse_variant_patterns(text: str) -> tuple[str, ...]:
    """Comma-separated variant names or glob patterns (``none,l1_kernel_bias_*``); empty: all."""
    patterns = tuple(part.strip() for part in text.split(",") if part.strip())
    for pattern in patterns:
        if "/" in pattern or VERSION_SEPARATOR in pattern:
            raise SelectionError(
                f"variant pattern {pattern!r} must be a name or a glob (no '/' or '@')")
    return patterns or ALL_VARIANTS


@dataclass(frozen=True)
class VariantChoice:
    """The variants to load, and the ones on disk left out (with why)."""

    chosen: tuple[str, ...]
    unmatched: tuple[str, ...] = ()  # on disk, matched by no pattern
    over_limit: tuple[str, ...] = ()  # matched, but beyond the limit

    def note(self, limit: int) -> str | None:
        """A sentence for /variants and the log when variants on disk are not served."""
        parts = []
        if self.over_limit:
            parts.append(f"{len(self.over_limit)} variant(s) beyond REGSERVE_MAX_VARIANTS="
                         f"{limit} are not loaded: {', '.join(self.over_limit)}")
        if self.unmatched:
            parts.append(f"{len(self.unmatched)} variant(s) match no REGSERVE_VARIANTS pattern: "
                         f"{', '.join(self.unmatched)}")
        return "; ".join(parts) or None


def choose_variants(names: Iterable[str], patterns: Sequence[str], limit: int) -> VariantChoice:
    """Variants on disk that match ``patterns``, at most ``limit``, in the order given."""
    matched, unmatched = [], []
    for name in names:
        (matched if any(fnmatch.fnmatchcase(name, p) for p in patterns) else unmatched).append(name)
    return VariantChoice(tuple(matched[:limit]), tuple(unmatched), tuple(matched[limit:]))


def split_key(key: str) -> tuple[str, int | None]:
    """``name@3`` -> ``("name", 3)``, ``name`` -> ``("name", None)``; ValueError if malformed."""
    name, separator, version = key.partition(VERSION_SEPARATOR)
    if not separator:
        return name, None
    if not version.isdigit():
        raise ValueError(f"version {version!r} in {key!r} is not a whole number")
    return name, int(version)


def version_key(name: str, version: int) -> str:
    """The address of one version: ``name@version``."""
    return f"{name}{VERSION_SEPARATOR}{version}"

