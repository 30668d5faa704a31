"""Which variants a command means: registered names, ``--custom`` specs, suffixes, the disk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from regserve_contracts import layout
from regserve_contracts.variants import VARIANT_NAMES, VARIANTS, Variant, get_variant, parse_custom
from trainer.errors import UsageError


def custom_variants(specs: Sequence[str]) -> tuple[Variant, ...]:
    """Parse every ``--custom`` spec, turning a bad one into a :class:`UsageError`."""
    variants = []
    for spec in specs:
        try:
            variant = parse_custom(spec)
        except ValueError as exc:
            message = str(exc) if spec in str(exc) else f"--custom {spec!r}: {exc}"
            raise UsageError(message) from None
        if variant.name in VARIANT_NAMES and variant != get_variant(variant.name):
            raise UsageError(f"--custom {spec!r}: {variant.name!r} is a registered variant "
                             f"({get_variant(variant.name).label}); give this one another name")
        variants.append(variant)
    return tuple(variants)


def select_variants(all_variants: bool, names: Sequence[str], custom: Sequence[str],
                    name_suffix: str, models_dir: Path) -> tuple[Variant, ...]:
    """The variants to train, in registry order then as given, each name once."""
    try:
        chosen = list(VARIANTS if all_variants else ())
        chosen += [get_variant(name) for name in names]
    except ValueError as exc:  # UnknownVariantError lists the valid names
        raise UsageError(str(exc)) from None
    chosen += custom_variants(custom)
    chosen = [with_suffix(variant, name_suffix) for variant in chosen]
    if not chosen:
        raise UsageError("nothing to train: give --all, --variant NAME or --custom "
                         "PENALTY:WHERE:LAMBDA[:NAME] (--list shows the variants)")
    unique: dict[str, Variant] = {}
    for variant in chosen:
        known = unique.setdefault(variant.name, variant)
        if known != variant:
            raise UsageError(f"the name {variant.name!r} is given to two different penalties "
                             f"({known.label}; {variant.label}); name the custom variant")
        check_on_disk(variant, models_dir)
    return tuple(unique.values())


def with_suffix(variant: Variant, suffix: str) -> Variant:
    """``variant`` under ``NAME+SUFFIX`` (``--name-suffix``), or as it is without one."""
    if not suffix:
        return variant
    try:
        return replace(variant, name=variant.name + suffix)
    except ValueError as exc:
        raise UsageError(f"--name-suffix {suffix!r}: {exc}") from None


def check_on_disk(variant: Variant, models_dir: Path) -> None:
    """Refuse to add a version whose penalty differs from the variant's versions on disk."""
    newest = layout.newest_version(Path(models_dir) / variant.name)
    if newest is None:
        return
    try:
        stored = Variant.from_dict(layout.read_metadata(newest)["variant"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # an unreadable version cannot conflict; the reports will flag it
    if (stored.penalty, stored.where, stored.lam) != (variant.penalty, variant.where, variant.lam):
        raise UsageError(f"{newest} already holds {variant.name!r} with another penalty "
                         f"({stored.label}); give this one another name")


def variants_table(variants: Sequence[Variant]) -> str:
    """Every variant and its penalties as an aligned text table."""
    rows = [("name", "penalty", "where", "lambda", "description")]
    rows += [(v.name, v.penalty, v.where, "-" if v.penalty == "none" else f"{v.lam:g}", v.label)
             for v in variants]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
