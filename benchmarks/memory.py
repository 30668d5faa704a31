"""Memory per loaded variant: a gunicorn worker's RSS serving 1, 8, ... N variants.

``python -m benchmarks.memory --models-dir DIR`` builds folders that link to the first K variant
folders of DIR (registry order first, then by name), serves each with one gunicorn worker, asks
one prediction of every variant, and reads the worker's resident memory from /proc. The table
gives RSS against the number of variants and the slope: memory per extra loaded variant.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests

from benchmarks.report import load_average, log, markdown_table
from regserve_contracts import layout
from regserve_contracts.variants import VARIANT_NAMES
from server import launcher

READY_SECONDS = 300
BLANK = {"pixels": [[0] * 28 for _ in range(28)], "preprocessed": True}


def ordered_variants(models_dir: Path) -> list[Path]:
    """The variant folders of ``models_dir``: the registry's first, then the rest by name."""
    order = {name: index for index, name in enumerate(VARIANT_NAMES)}
    return sorted(layout.variant_dirs(models_dir),
                  key=lambda path: (order.get(path.name, len(order)), path.name))


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def measure(folder: Path, count: int) -> dict[str, Any]:
    """Serve ``folder`` with one worker; its RSS after loading and after one full prediction."""
    env = {"REGSERVE_RELOAD_INTERVAL": "0"}
    with launcher.start(folder.parent / f"server-{count}.log", models_dir=folder, workers=1,
                        env=env, timeout=READY_SECONDS) as server:
        (worker,) = server.worker_pids()
        loaded = rss_kib(worker)
        answer = requests.post(f"{server.url}/predict", json=BLANK, timeout=120)
        answer.raise_for_status()
        return {"variants": count, "answered": len(answer.json()["variants"]),
                "worker_rss_loaded_mib": loaded / 1024,
                "worker_rss_after_predict_mib": rss_kib(worker) / 1024,
                "master_rss_mib": rss_kib(server.pid) / 1024}


def run_memory(models_dir: Path, counts: list[int]) -> list[dict[str, Any]]:
    """One measurement per count of variants, each in a folder linking to the first ones."""
    variants = ordered_variants(models_dir)
    if not variants:
        raise SystemExit(f"no trained variants under {models_dir}")
    counts = sorted({min(count, len(variants)) for count in counts})
    results = []
    with tempfile.TemporaryDirectory(prefix="regserve-memory-") as scratch:
        for count in counts:
            folder = Path(scratch) / f"models-{count}"
            folder.mkdir()
            for variant in variants[:count]:
                (folder / variant.name).symlink_to(variant.resolve(), target_is_directory=True)
            log(f"serving {count} variant(s) ...")
            results.append(measure(folder, count))
    return results


def render(results: list[dict[str, Any]]) -> str:
    """The table, and the slope between the smallest and the largest set."""
    rows = [[r["variants"], r["answered"], f"{r['worker_rss_loaded_mib']:.0f}",
             f"{r['worker_rss_after_predict_mib']:.0f}", f"{r['master_rss_mib']:.0f}"]
            for r in results]
    table = markdown_table(["variants loaded", "answered", "worker RSS loaded (MiB)",
                            "worker RSS after a prediction (MiB)", "master RSS (MiB)"], rows)
    first, last = results[0], results[-1]
    lines = [table]
    if last["variants"] > first["variants"]:
        slope = ((last["worker_rss_after_predict_mib"] - first["worker_rss_after_predict_mib"])
                 / (last["variants"] - first["variants"]))
        lines.append(f"\nPer extra loaded variant, per worker: {slope:.1f} MiB "
                     f"({first['variants']} -> {last['variants']} variants); load average "
                     f"{load_average()}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: which models folder, which counts."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=launcher.PROJECT_ROOT / "models")
    parser.add_argument("--counts", default="1,8,1000",
                        help="numbers of variants to serve (default 1,8,all)")
    args = parser.parse_args(argv)
    try:
        counts = [int(part) for part in args.counts.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--counts: expected numbers like 1,8,20, got {args.counts!r}")
    if not counts or min(counts) < 1:
        parser.error("--counts: every count must be at least 1")
    print(render(run_memory(args.models_dir.resolve(), counts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
