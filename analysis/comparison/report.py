"""The comparison's files in ``models/reports/``: comparison.json, .md, .csv and its chart."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from analysis.comparison.document import build_comparison
from analysis.comparison.figure import draw_intervals, source_name
from regserve_contracts import comparison as contract
from regserve_contracts import layout

COMPARISON_MD = "comparison.md"
COMPARISON_CSV = "comparison.csv"
COMPARISON_PNG = "comparison.png"
CSV_COLUMNS = ("variant", "models", "seeds", "accuracy", "ci95_low", "ci95_high", "sd",
               "seed_pairs", "diff_vs_baseline", "diff_ci95_low", "diff_ci95_high", "p_holm",
               "p_equivalence_holm", "mde", "verdict", "verdict_text")


def write_comparison(models_dir: Path, reports_dir: Path, baseline: str = "none",
                     margin: float = contract.DEFAULT_MARGIN) -> list[Path]:
    """Build the comparison of the models on disk and write its four files; return their paths."""
    document = build_comparison(models_dir, baseline, margin)
    reports_dir.mkdir(parents=True, exist_ok=True)
    layout.write_json_atomic(reports_dir / layout.COMPARISON_FILE, document)
    for name, text in ((COMPARISON_MD, comparison_markdown(document)),
                       (COMPARISON_CSV, comparison_csv(document))):
        data = text.encode()
        layout.write_atomic(reports_dir / name, lambda handle, data=data: handle.write(data))
    layout.write_atomic(reports_dir / COMPARISON_PNG, lambda handle: draw_intervals(document,
                                                                                    handle))
    return [reports_dir / name for name in (layout.COMPARISON_FILE, COMPARISON_MD,
                                            COMPARISON_CSV, COMPARISON_PNG)]


def verdict_summary(reports_dir: Path) -> str:
    """The verdicts of ``reports_dir``'s comparison.json for the terminal, or "" without one."""
    path = Path(reports_dir) / layout.COMPARISON_FILE
    try:
        document = contract.parse_comparison(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return ""
    lines = summary_lines(document)
    return (f"\nVerdicts about the recipes against {document[contract.BASELINE_KEY]} (the seed "
            f"is the unit; {COMPARISON_MD}):\n" + "".join(f"  {line}\n" for line in lines))


def summary_lines(document: dict[str, Any]) -> list[str]:
    """The verdicts in a few lines for the terminal (the trainer prints them after training)."""
    if document["nothing_to_compare"]:
        return [document["nothing_to_compare"]]
    lines = []
    for row in document[contract.VARIANTS].values():
        interval = ""
        if row.get("diff_ci95"):
            low, high = row["diff_ci95"]
            interval = f", {_points(row['diff'])} points [{_points(low)}, {_points(high)}]"
        lines.append(f"{row['label']}: {row[contract.VERDICT_TEXT]}{interval}")
    return lines


def comparison_markdown(document: dict[str, Any]) -> str:
    """The comparison for people: a row per variant, the trained models, the rule."""
    baseline, test = document[contract.BASELINE_KEY], document["test_set"]
    lines = ["# Is the difference real?", ""]
    if test["fingerprint"]:
        lines += [f"Test set: **{source_name(test['data_source'])}**, {test['size']:,} images "
                  f"(fingerprint `{test['fingerprint'][:12]}`). Baseline: `{baseline}`. "
                  f"Method: {document['method']}.", ""]
    if document["nothing_to_compare"]:
        lines += [document["nothing_to_compare"], ""]
    lines += ["| variant | models | accuracy (95% CI) | sd over seeds | "
              f"vs {baseline} (95% CI) | p (Holm) | verdict |", "|---|---|---|---|---|---|---|"]
    for name, row in document[contract.VARIANTS].items():
        lines.append(f"| `{name}` | {row['label']} | {_share(row['accuracy'])} "
                     f"[{_share(row['ci95'][0])}, {_share(row['ci95'][1])}] | "
                     f"{_share(row['sd'])} | {_difference(row)} | {_p(row.get('p_holm'))} | "
                     f"{row[contract.VERDICT_TEXT]} |")
    lines += ["", "Accuracies and differences in percent (points). A difference's interval "
              "covers the seeds and the test images.", ""]
    about = [item[contract.MODELS_TEXT] for item in document[contract.COMPARISONS]]
    if about:
        lines += ["## About the trained models, not the recipes", ""]
        lines += [f"- {text[0].upper()}{text[1:]}." for text in about]
        lines.append("")
    pairs = document[contract.OTHER_PAIRS]
    if pairs:
        lines += [f"## Between the other variants (a Holm family of its own, "
                  f"{len(pairs)} pair{'' if len(pairs) == 1 else 's'})", "",
                  "| A | B | seed pairs | A - B (95% CI) | "
                  "p (Holm) | verdict |", "|---|---|---|---|---|---|"]
        lines += [f"| `{item['a']}` | `{item['b']}` | {len(item['seed_pairs'])} | "
                  f"{_difference(item)} | {_p(item['p_holm'])} | {item[contract.VERDICT_TEXT]} |"
                  for item in pairs]
        lines.append("")
    cochran = document["cochran_q"]
    if cochran:
        lines += [f"Cochran's Q over the trained models of all {cochran['k']} variants (first "
                  f"seed): Q = {cochran['q']:.2f}, df = {cochran['df']}, p = "
                  f"{_p(cochran['p'])}.", ""]
    lines += [f"**Rule.** {document['rule']}", "", f"![differences with 95% intervals]"
              f"({COMPARISON_PNG})", ""]
    if document["missing"]:
        lines += ["## Not compared", ""]
        lines += [f"- `{item['model'] or item['variant']}`: {item['reason']}"
                  for item in document["missing"]]
        lines.append("")
    return "\n".join(lines)


def comparison_csv(document: dict[str, Any]) -> str:
    """One row per variant with its comparison against the baseline, full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, row in document[contract.VARIANTS].items():
        low, high = row.get("diff_ci95") or ("", "")
        writer.writerow([name, row["label"], row["seeds"], row["accuracy"], *row["ci95"],
                         _blank(row["sd"]), _blank(row.get("seed_pairs")),
                         _blank(row.get("diff")), low, high, _blank(row.get("p_holm")),
                         _blank(row.get("p_equivalence_holm")), _blank(row.get("mde")),
                         row[contract.VERDICT] or "", row[contract.VERDICT_TEXT]])
    return buffer.getvalue()


def _difference(item: dict[str, Any]) -> str:
    if item.get("diff") is None:
        return "-"
    if not item.get("diff_ci95"):
        return f"{_points(item['diff'])} (one seed pair: no interval)"
    low, high = item["diff_ci95"]
    return f"{_points(item['diff'])} [{_points(low)}, {_points(high)}]"


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _share(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def _points(value: float) -> str:
    return contract.points(value)


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"
