"""Turn a prediction answer into text for people: the per-variant table, agreement and input art."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from regserve_contracts.variants import VARIANT_NAMES

#: Dark to bright; a pixel of value v (0-255) gets SHADES[v * len(SHADES) // 256].
SHADES = " .:-=+*#%@"
#: The weight-sparsity thresholds the table shows (keys of the server's ``weight_sparsity``).
WEIGHT_KEYS = (("<1e-03", "|w|<1e-3"), ("==0", "==0"))
MISSING = "-"


def percent(value: Any, digits: int = 1) -> str:
    """``0.9123`` -> ``'91.2%'``; a missing or non-numeric value -> ``'-'``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return MISSING
    if 0 < value < 0.5 * 10 ** (-digits - 2):
        return f"<{10 ** -digits:g}%"
    return f"{100 * value:.{digits}f}%"


def agreement_line(answer: dict[str, Any]) -> str:
    """One sentence on whether the variants agree, e.g. ``5 of 8 variants say 'A'; also: '4' x3``.

    Collapsed variants (at chance) are not counted, and a tie is called a tie.
    """
    votes = _votes(answer)
    total = sum(votes.values())
    excluded = list((answer.get("agreement") or {}).get("excluded") or [])
    left_out = (f" Not counted, at chance: {', '.join(excluded)}." if excluded else "")
    if total == 0:
        if excluded:
            return f"No vote: every variant asked is at chance ({', '.join(excluded)})."
        return "No variant answered."
    ranked = sorted(votes.items(), key=lambda item: (-item[1], item[0]))
    majority, count = ranked[0]
    if count == total:
        if total == 1:
            return f"The only variant counted says {majority!r}.{left_out}"
        return f"All {total} variants agree: {majority!r}.{left_out}"
    leaders = [label for label, n in ranked if n == count]
    others = ", ".join(f"{label!r} x{n}" for label, n in ranked if n < count)
    also = f"; also: {others}" if others else ""
    if len(leaders) > 1:
        tied = " and ".join(repr(label) for label in leaders)
        return f"No majority: {tied} tie with {count} of {total} votes each{also}.{left_out}"
    return f"{count} of {total} variants say {majority!r}{also}.{left_out}"


def _votes(answer: dict[str, Any]) -> dict[str, int]:
    """Votes per predicted character: the server's own count, else counted from the variants."""
    agreement = answer.get("agreement")
    if isinstance(agreement, dict) and isinstance(agreement.get("votes"), dict):
        return {str(k): int(v) for k, v in agreement["votes"].items()}
    votes: dict[str, int] = {}
    for result in answer.get("variants", {}).values():
        label = str(result.get("prediction", "?"))
        votes[label] = votes.get(label, 0) + 1
    return votes


def data_source_line(answer: dict[str, Any]) -> str | None:
    """Which data the models were trained on, with a warning for the bundled offline set."""
    source = answer.get("data") or answer.get("data_source")  # a server before the rename
    if not isinstance(source, dict) or not source.get("name"):
        return None
    name = str(source["name"])
    line = f"Trained on: {name}"
    if name.lower().startswith("synthetic"):
        line += "  (WARNING: the bundled offline set, not real EMNIST; accuracies are not EMNIST's)"
    return line


def variant_table(answer: dict[str, Any], top: int) -> str:
    """The side-by-side table: one row per variant plus its readable label on the next line."""
    variants = _in_registry_order(answer.get("variants") or {})
    layers = _activation_layers(variants.values())
    groups = [("", 4), ("weights", len(WEIGHT_KEYS)), ("zero activations", len(layers))]
    header = ["variant", "says", "p", f"top {top}", *(label for _, label in WEIGHT_KEYS), *layers]
    right = {1, 2} | set(range(4, len(header)))
    rows: list[list[str]] = []
    labels: list[str] = []
    for name, result in variants.items():
        ranked = result.get("top") or []
        probability = ranked[0].get("probability") if ranked else None
        row = [name, str(result.get("prediction", "?")), percent(probability),
               "  ".join(f"{item.get('label', '?')} {percent(item.get('probability'), 0)}"
                         for item in ranked[:top])]
        overall = (result.get("weight_sparsity") or {}).get("all") or {}
        row += [percent(overall.get(key)) for key, _ in WEIGHT_KEYS]
        activation = result.get("activation_sparsity") or {}
        row += [percent(activation.get(layer), 0) for layer in layers]
        rows.append(row)
        collapsed = " (collapsed: at chance, not counted in the vote)" if result.get(
            "collapsed") else ""
        labels.append(str(result.get("label") or "") + collapsed)
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    # A group title spans its columns, so widen the last column of a group if the title is longer.
    start = 0
    for title, span in groups:
        if span:
            room = sum(widths[start : start + span]) + 2 * (span - 1)
            widths[start + span - 1] += max(0, len(title) - room)
        start += span

    def line(cells: Sequence[str]) -> str:
        padded = [cell.rjust(w) if i in right else cell.ljust(w)
                  for i, (cell, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    group_cells, start = [], 0
    for title, span in groups:
        if span:
            room = sum(widths[start : start + span]) + 2 * (span - 1)
            group_cells.append(title.center(room, "_" if title else " ") if title else " " * room)
        start += span
    out = ["  ".join(group_cells).rstrip(), line(header), line(["-" * w for w in widths])]
    for row, label in zip(rows, labels, strict=True):
        out.append(line(row))
        if label:
            out.append(f"  {label}")
    return "\n".join(out)


def _in_registry_order(variants: dict[str, Any]) -> dict[str, Any]:
    """The variants in the registry's order (the server's JSON may sort them by name)."""
    order = {name: index for index, name in enumerate(VARIANT_NAMES)}
    return dict(sorted(variants.items(), key=lambda item: (order.get(item[0], len(order)),
                                                            item[0])))


def _activation_layers(results: Any) -> list[str]:
    """Layer names with activation sparsity, in the order the server lists them."""
    layers: list[str] = []
    for result in results:
        for layer in result.get("activation_sparsity") or {}:
            if layer not in layers:
                layers.append(layer)
    return layers


def input_art(pixels: Sequence[Sequence[float]]) -> str:
    """The 28x28 image as terminal art in a frame, two characters per pixel for a square look."""
    rows = []
    for row in pixels:
        shades = (SHADES[min(len(SHADES) - 1, max(0, int(v)) * len(SHADES) // 256)] for v in row)
        rows.append("|" + "".join(s * 2 for s in shades) + "|")
    width = len(rows[0]) - 2 if rows else 0
    rule = "+" + "-" * width + "+"
    return "\n".join([rule, *rows, rule])


def report(title: str, answer: dict[str, Any], top: int, show_input: bool) -> str:
    """Everything printed for one image: title, data source, table, agreement, optional art."""
    parts = [f"== {title} =="]
    source = data_source_line(answer)
    if source:
        parts.append(source)
    if show_input:
        pixels = (answer.get("input") or {}).get("pixels")
        if pixels:
            parts.append("The 28x28 input the models saw:\n" + input_art(pixels))
        else:
            parts.append("(the server's answer holds no input pixels to show)")
    parts.append(variant_table(answer, top))
    parts.append(agreement_line(answer))
    return "\n\n".join(parts)
