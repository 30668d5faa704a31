"""What the benchmarks share: machine facts, Markdown tables, targets, results, child processes."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regserve_contracts.layout import write_atomic, write_json_atomic
from server.launcher import PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"
#: The shared sample of real EMNIST, beside the checkout (absent in some checkouts).
#: The shared sample of real EMNIST, beside the checkout (absent in a user's clone);
#: REGSERVE_SHARED_SAMPLE names it where the checkout is elsewhere (a git worktree).
SHARED_SAMPLE = Path(os.environ.get("REGSERVE_SHARED_SAMPLE")
                     or PROJECT_ROOT.parent / "shared" / "data" / "emnist_balanced_sample.npz")
_PACKAGES = ("tensorflow", "keras", "numpy", "flask", "gunicorn", "pillow")


class BenchmarkError(RuntimeError):
    """A benchmark cannot run (no models, a server that will not start); the message says why."""


def log(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the tables."""
    print(message, file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    """CPU model, cores, load, library versions and the date: the header of every result."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": usable,
        "load_average": load_average(),
        "platform": platform.platform(),
        "versions": versions,
    }


def load_average() -> list[float] | None:
    """The 1/5/15-minute load averages: a busy machine makes every number here noisy."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine_line(machine: dict[str, Any]) -> str:
    """One line for a table header: date, CPU, cores, load and the versions that matter."""
    versions = machine["versions"]
    load = machine.get("load_average")
    load_text = f", load {load[0]:.2f}" if load else ""
    return (f"{machine['date']} | {machine['cpu']}, {machine['cores']} cores{load_text} | "
            f"Python {versions['python']}, TensorFlow {versions['tensorflow']}, "
            f"Keras {versions['keras']}")


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub Markdown table; every row must have one cell per header."""
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(headers)}")
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """A goal from the issue: ``measured`` must be at least (or at most) ``goal``."""

    name: str
    measured: float | None
    goal: float
    at_least: bool
    unit: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the goal is met; ``None`` when nothing was measured."""
        if self.measured is None:
            return None
        return self.measured >= self.goal if self.at_least else self.measured <= self.goal

    def verdict(self) -> str:
        """``PASS``/``MISS`` and by how much, e.g. ``MISS: 36% short, needs 1.56x more``."""
        if self.met is None:
            return "NOT MEASURED"
        if self.measured == 0 or self.goal == 0:
            return "PASS" if self.met else "MISS"
        share = self.measured / self.goal
        if self.at_least:
            if self.met:
                return f"PASS, {share - 1:.0%} above the goal"
            return f"MISS: {1 - share:.0%} short, needs {1 / share:.2f}x more"
        if self.met:
            return f"PASS, {1 - share:.0%} below the limit"
        return f"MISS: {share - 1:.0%} over, needs {share:.2f}x less"

    def row(self) -> list[str]:
        """Table cells: target, measured, goal, verdict."""
        measured = "n/a" if self.measured is None else f"{self.measured:,.2f}{self.unit}"
        sign = ">=" if self.at_least else "<="
        return [self.name, measured, f"{sign} {self.goal:g}{self.unit}", self.verdict()]

    def to_dict(self) -> dict[str, Any]:
        """The target as saved in the JSON results."""
        return {"name": self.name, "measured": self.measured, "goal": self.goal,
                "at_least": self.at_least, "unit": self.unit, "met": self.met,
                "verdict": self.verdict()}


TARGET_HEADERS = ["target", "measured", "goal", "verdict"]


def save_results(name: str, data: dict[str, Any], markdown: str,
                 results_dir: Path = RESULTS_DIR) -> Path:
    """Write ``<name>-<UTC time>.json`` and ``.md`` (atomically) and return the JSON's path."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = Path(results_dir) / f"{name}-{stamp}.json"
    write_json_atomic(json_path, data)
    md_path = json_path.with_suffix(".md")
    write_atomic(md_path, lambda handle: handle.write((markdown + "\n").encode("utf-8")))
    return json_path


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
