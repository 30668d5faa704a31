"""The mutation score of each module `make mutate` mutated, read from mutmut's results.

A mutant is killed when at least one test fails on it (or it runs past its time limit). The
score is killed / (all mutants - equivalent ones): a mutant no test reaches counts as a survivor.
Equivalent mutants (they change no behaviour a user could see) are listed, each with its
reason, in scripts/mutation_equivalents.toml. In the modules named there under `strict`, every
survivor must be listed, and every listed mutant must still survive: otherwise this exits 1.

Usage: python scripts/mutation_scores.py [MUTANTS_DIR]   (default: mutants)
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.toml")
#: mutmut's exit codes (mutmut/stats.py) grouped as this report counts them.
KILLED = {1, 3, 24, -24, 36, 37, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
SKIPPED = {34}


def module_of(meta: Path, root: Path) -> str:
    """``mutants/analysis/stats.py.meta`` -> ``analysis/stats.py``."""
    return str(meta.relative_to(root)).removesuffix(".meta")


def outcome(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    if code in SKIPPED:
        return "skipped"
    return "not run" if code is None else "suspicious"


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "mutants")
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print(f"no mutmut results under {root}/: run `make mutate` first", file=sys.stderr)
        return 2
    listed = tomllib.loads(EQUIVALENTS.read_text("utf-8"))
    strict, equivalent = listed["strict"]["modules"], listed["equivalent"]
    problems = []
    print(f"{'module':36} {'mutants':>7} {'killed':>6} {'survived':>8} {'no tests':>8} "
          f"{'equiv.':>6} {'score':>6}")
    for meta in metas:
        module = module_of(meta, root)
        codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        counts = Counter(outcome(code) for code in codes.values())
        left = {name for name, code in codes.items() if outcome(code) in ("survived", "no tests")}
        known = {name for name in equivalent if name in codes}
        problems += [f"{name}: listed as equivalent but {outcome(codes[name])}"
                     for name in sorted(known - left)]
        if module in strict:
            problems += [f"{name}: survives and is not listed as equivalent"
                         for name in sorted(left - known)]
        scored = len(codes) - counts["skipped"] - len(known & left)
        score = 100.0 * counts["killed"] / scored if scored else 100.0
        print(f"{module:36} {len(codes):7} {counts['killed']:6} {counts['survived']:8} "
              f"{counts['no tests']:8} {len(known & left):6} {score:5.1f}%")
        for state in ("not run", "suspicious"):
            if counts[state]:
                problems.append(f"{module}: {counts[state]} mutant(s) {state}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
