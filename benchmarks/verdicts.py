"""``python -m benchmarks verdicts``: how often the comparison's verdicts err, the truth known.

Fabricates test-set answers (benchmarks/verdicts_sim.py) for a report of three variants against
``none``, runs the real comparison (analysis.comparison) on each, and counts: over equal
recipes, the reports claiming any ``better``/``worse`` (family-wise) and the comparisons
called ``equivalent``; with one variant truly better, the reports calling it ``better``. The
first report of every setting goes through predictions.npz and metadata.json on disk, as a
real export writes them, and must give the verdicts of the in-memory path.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from analysis.comparison.document import build_comparison, comparison_document
from analysis.comparison.models import collect_entries
from analysis.stats import wilson_interval
from benchmarks.report import (
    RESULTS_DIR,
    BenchmarkError,
    log,
    machine_info,
    markdown_table,
    save_results,
)
from benchmarks.verdicts_sim import (
    VARIANTS,
    Noise,
    entries_of,
    export_report,
    measure_noise,
    simulate,
)
from regserve_contracts import comparison as contract

SEEDS = (1, 3, 5)
SEED_SDS = (0.3, 0.9, 1.5)
IMAGES = (2000, 20000)
DISAGREEMENTS = (0.05, 0.15)
GAINS = (0.01, 0.025, 0.05)
#: Realistic noise (docs/statistics.md says how it was measured) and a harsh corner.
REALISTIC = Noise(seed_sd=0.9, images=10000, disagreement=0.10)
HARSH = Noise(seed_sd=1.5, images=2000, disagreement=0.15)
#: Reports simulated at once: bounds memory to about 100 MB at 20,000 images and 5 seeds.
BATCH = 25
FALSE_CLAIM_GOAL, POWER_GOAL = 0.05, 0.60


def verdicts_of(report: np.ndarray, margin: float) -> list[str]:
    """The verdict of each variant against the baseline, from the real comparison."""
    return _in_order(comparison_document(entries_of(report), [], VARIANTS[0], margin))


def _in_order(document: dict[str, Any]) -> list[str]:
    """Verdicts in the order of VARIANTS[1:] (the report's own order is the registry's)."""
    found = {item["a"]: item[contract.VERDICT] for item in document[contract.COMPARISONS]}
    return [found[name] for name in VARIANTS[1:]]


def check_on_disk(report: np.ndarray, margin: float, expected: list[str]) -> None:
    """The same report written as exports and read back must give the same verdicts."""
    with tempfile.TemporaryDirectory(prefix="verdicts-") as folder:
        export_report(Path(folder), report)
        document = build_comparison(Path(folder), VARIANTS[0], margin)
    found = _in_order(document)
    if found != expected:
        raise BenchmarkError(f"verdicts from disk {found} differ from in memory {expected}")


def run_setting(rng: np.random.Generator, noise: Noise, gains: tuple[float, ...], seeds: int,
                reports: int, margin: float) -> list[list[str]]:
    """Every report's verdicts for one setting (the first one also checked through disk)."""
    found: list[list[str]] = []
    while len(found) < reports:
        batch = simulate(rng, noise, gains, seeds, min(BATCH, reports - len(found)))
        for report in batch:
            found.append(verdicts_of(report, margin))
            if len(found) == 1:
                check_on_disk(report, margin, found[0])
    return found


def run_verdicts(reports: int, margin: float, seed: int = 0, quick: bool = False
                 ) -> dict[str, Any]:
    """The null grid (equal recipes) and the power settings; counts per setting."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    null, power = [], []
    grid = ([(3, HARSH)] if quick else
            [(k, Noise(sd, n, d)) for k, sd, n, d in itertools.product(
                SEEDS, SEED_SDS, IMAGES, DISAGREEMENTS)])
    for seeds, noise in grid:
        found = run_setting(rng, noise, (0.0,) * len(VARIANTS), seeds, reports, margin)
        claims = sum(any(v in (contract.BETTER, contract.WORSE) for v in r) for r in found)
        equivalent = sum(v == contract.EQUIVALENT for r in found for v in r)
        null.append({"seeds": seeds, **noise.__dict__, "reports": reports,
                     "false_claims": claims / reports,
                     "equivalent": equivalent / (reports * (len(VARIANTS) - 1))})
        log(f"equal recipes, {seeds} seeds, {noise}: {claims}/{reports} reports claim a winner")
    for seeds, gain, noise in ([(5, 0.05, HARSH)] if quick else itertools.product(
            (3, 5), GAINS, (REALISTIC, HARSH))):
        found = run_setting(rng, noise, (0.0, gain, 0.0, 0.0), seeds, reports, margin)
        better = sum(r[0] == contract.BETTER for r in found)
        power.append({"seeds": seeds, "gain": gain, **noise.__dict__, "reports": reports,
                      "better": better / reports})
        log(f"gain {gain:+.3f}, {seeds} seeds, {noise}: better in {better}/{reports}")
    return {"machine": machine_info(), "margin": margin, "reports": reports, "seed": seed,
            "seconds": time.perf_counter() - started, "null": null, "power": power}


def _share_with_interval(share: float, reports: int) -> str:
    """``4.5% [2.4, 8.3]``: a rate and its Wilson 95% interval over the reports."""
    low, high = wilson_interval(share * reports, reports)
    return f"{100 * share:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def render_verdicts(result: dict[str, Any]) -> str:
    """The benchmark's tables in Markdown, with its goals.

    A rate over 200 reports is known to about +-3 points, so the false-claim goal is missed
    only where the Wilson interval of a setting's rate lies wholly above 5%; the pooled rate
    per seed count (thousands of reports) says where the level really is.
    """
    null_rows = [[row["seeds"], row["seed_sd"], f"{row['images']:,}",
                  f"{100 * row['disagreement']:.0f}%", row["reports"],
                  _share_with_interval(row["false_claims"], row["reports"]),
                  f"{100 * row['equivalent']:.1f}%"] for row in result["null"]]
    power_rows = [[row["seeds"], f"{100 * row['gain']:+.1f}", row["seed_sd"],
                   f"{row['images']:,}", f"{100 * row['disagreement']:.0f}%", row["reports"],
                   f"{100 * row['better']:.1f}%"] for row in result["power"]]
    above = [row for row in result["null"] if wilson_interval(
        row["false_claims"] * row["reports"], row["reports"])[0] > FALSE_CLAIM_GOAL]
    worst = max(row["false_claims"] for row in result["null"])
    pooled = []
    for seeds in sorted({row["seeds"] for row in result["null"]}):
        rows = [row for row in result["null"] if row["seeds"] == seeds]
        count = sum(row["reports"] for row in rows)
        share = sum(row["false_claims"] * row["reports"] for row in rows) / count
        pooled.append(f"{seeds} seeds {_share_with_interval(share, count)} of {count:,}")
    goal = [row["better"] for row in result["power"]
            if row["seeds"] == 5 and row["gain"] == 0.025 and row["seed_sd"] == REALISTIC.seed_sd
            and row["images"] == REALISTIC.images]
    load = result["machine"].get("load_average")
    lines = [f"Margin ±{100 * result['margin']:.1f} points; {result['reports']} reports per "
             f"setting; {result['seconds']:.0f} s; load average {load}.",
             "", "Equal recipes (3 variants against `none`, all equally good):", "",
             markdown_table(["seeds", "seed sd (points)", "test images", "two seeds disagree",
                             "reports", "any better/worse (family-wise) [95% interval]",
                             "equivalent (per comparison)"], null_rows), "",
             "One variant truly better, two equal (the share of reports calling it `better`):",
             "", markdown_table(["seeds", "gain (points)", "seed sd (points)", "test images",
                                 "two seeds disagree", "reports", "better"], power_rows), "",
             f"Family-wise false better/worse, pooled over the grid: {'; '.join(pooled)}.",
             f"Highest single setting: {100 * worst:.1f}%; settings whose interval lies above "
             f"{100 * FALSE_CLAIM_GOAL:.0f}%: {len(above)} "
             f"(goal: none, {'PASS' if not above else 'MISS'})."]
    if goal:
        lines.append(f"+2.5 points at 5 seeds, realistic noise: better in {100 * goal[0]:.1f}% "
                     f"(goal >= {100 * POWER_GOAL:.0f}%: "
                     f"{'PASS' if goal[0] >= POWER_GOAL else 'MISS'}).")
    return "\n".join(lines) + "\n"


def render_measured(models_dir: Path) -> str:
    """The noise of real repeats in ``models_dir`` (what the grid's values rest on)."""
    entries, _ = collect_entries(models_dir)
    rows = [[m["variant"], m["seeds"], f"{m['images']:,}",
             ", ".join(f"{100 * a:.1f}" for a in m["accuracies"]), f"{100 * m['sd']:.2f}",
             f"{100 * m['seed_sd']:.2f}", f"{100 * m['disagreement']:.1f}%"]
            for m in measure_noise(entries)]
    if not rows:
        raise BenchmarkError(f"no variant with 2 or more seeds under {models_dir}")
    return markdown_table(["variant", "seeds", "test images", "accuracies (%)", "sd (points)",
                           "seed sd, image noise out (points)", "two seeds disagree"], rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks verdicts", description=__doc__)
    parser.add_argument("--reports", type=int, default=200, help="reports per setting")
    parser.add_argument("--margin", type=float, default=contract.DEFAULT_MARGIN,
                        help="equivalence margin as a share (default 0.01: one point)")
    parser.add_argument("--quick", action="store_true", help="one hard setting of each kind")
    parser.add_argument("--measure", type=Path, metavar="MODELS_DIR",
                        help="print the seed noise of the repeats in MODELS_DIR, simulate nothing")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.measure:
            print(render_measured(args.measure), end="")
            return 0
        if args.reports < 1:
            raise BenchmarkError(f"--reports must be at least 1, got {args.reports}")
        result = run_verdicts(args.reports, args.margin, quick=args.quick)
        markdown = render_verdicts(result)
        print(markdown, end="")
        if not args.no_save:
            log(f"saved {save_results('verdicts', result, markdown, args.results_dir)}")
    except (BenchmarkError, OSError, ValueError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    return 0
