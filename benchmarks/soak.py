"""``python -m benchmarks soak --minutes N``: steady mixed load with a hot reload every minute.

A two-worker gunicorn serves a copy of the models; client threads send good requests (canvas
PNGs, JSON pixel arrays) and hostile ones (random bytes, huge claims, images at the pixel limit,
JSON bombs) at a fixed rate; every minute a new version of one variant is published the way
the trainer does (staged, then renamed) and the workers load it. Per minute it prints the
requests, the unexpected answers (any status but the one each request deserves, or none),
p50/p99 and each worker's RSS from /proc (the median of 5 reads a second apart at the
minute's end); then whether RSS stayed flat after warm-up, and each worker's peak.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import requests

from benchmarks.hostile import png, png_claiming
from benchmarks.loadgen import percentile
from benchmarks.procstat import memory, start_server, workers_of
from benchmarks.report import BenchmarkError, load_average, log, markdown_table
from regserve_contracts import layout
from server.launcher import PROJECT_ROOT

MB = 2**20


@dataclass(frozen=True)
class Request:
    name: str
    body: bytes
    content_type: str
    expect: frozenset[int]


def mix() -> list[tuple[Request, int]]:
    """The requests and their weights: four good ones in five."""
    pixels = [[0] * 28 for _ in range(28)]
    for row in range(6, 22):
        pixels[row][12:16] = [255] * 4
    ok, bad, too_large = frozenset({200}), frozenset({400}), frozenset({413})
    good = [Request("canvas PNG", png(280), "image/png", ok),
            Request("JSON pixels", json.dumps({"pixels": pixels}).encode(), "application/json",
                    ok),
            Request("JSON base64 PNG", json.dumps(
                {"image": base64.b64encode(png(280)).decode()}).encode(), "application/json",
                ok)]
    hostile = [Request("random bytes", random.Random(5).randbytes(20_000), "image/png", bad),
               Request("claims 50000x50000", png_claiming(50_000, 50_000), "image/png",
                       too_large),
               Request("PNG at the pixel limit (valid, costly)", png(2048), "image/png", ok),
               Request("PNG over the pixel limit", png(4096), "image/png", too_large),
               Request("JSON nested deep", b"[" * 50_000 + b"]" * 50_000, "application/json",
                       too_large),
               Request("JSON 1 MB of pixels", b'{"pixels": [[' + b"0," * 500_000 + b"0]]}",
                       "application/json", too_large)]
    return [(request, 32) for request in good] + [(request, 4) for request in hostile]


class Recorder:
    """Answers per minute: latencies, unexpected answers and what they were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[int, list[float]] = defaultdict(list)
        self.unexpected: dict[int, list[str]] = defaultdict(list)

    def add(self, minute: int, seconds: float, problem: str | None) -> None:
        with self.lock:
            self.latencies[minute].append(seconds)
            if problem:
                self.unexpected[minute].append(problem)


def client(url: str, rate: float, stop_at: float, started: float, recorder: Recorder,
           seed: int) -> None:
    """Send requests from the mix at ``rate`` per second until ``stop_at``."""
    rng = random.Random(seed)
    requests_, weights = zip(*mix(), strict=True)
    session = requests.Session()
    next_at = time.monotonic()
    while next_at < stop_at:
        time.sleep(max(0.0, next_at - time.monotonic()))
        request = rng.choices(requests_, weights)[0]
        sent = time.monotonic()
        try:
            status = session.post(url + "/predict", data=request.body, timeout=30,
                                  headers={"Content-Type": request.content_type}).status_code
            problem = None if status in request.expect else f"{request.name}: {status}"
        except requests.RequestException as error:
            problem = f"{request.name}: {type(error).__name__}"
        recorder.add(int((sent - started) // 60), time.monotonic() - sent, problem)
        next_at += rng.expovariate(rate)


def publish(models: Path, variant: str) -> int:
    """A new version of ``variant``, written as the trainer writes one: staged, then renamed."""
    with layout.new_version(models, variant) as staged:
        shutil.copytree(layout.newest_version(models / variant), staged.path, dirs_exist_ok=True)
    return int(staged.final.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak", description=__doc__)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--models-dir", type=Path, default=PROJECT_ROOT / "models")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second in all")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--no-reload", dest="reload", action="store_false",
                        help="publish no versions (to tell reload growth from request growth)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the server, e.g. MALLOC_ARENA_MAX=2")
    options = parser.parse_args(argv)
    if options.minutes < 2 or options.rate <= 0 or options.clients < 1:
        parser.error("--minutes must be at least 2, --rate and --clients positive")
    load_before = load_average()
    try:
        with tempfile.TemporaryDirectory(prefix="regserve-soak-") as workdir:
            models = Path(workdir) / "models"
            for variant_dir in layout.variant_dirs(options.models_dir):
                shutil.copytree(layout.newest_version(variant_dir), models / variant_dir.name / "1")
            names = [path.name for path in layout.variant_dirs(models)]
            if not names:
                raise BenchmarkError(f"no models in {options.models_dir}")
            extra = dict(item.split("=", 1) for item in options.env)
            server = start_server(PROJECT_ROOT, models, Path(workdir) / "server.log", workers=2,
                                  **extra)
            try:
                rows = soak(server, models, names, options)
            finally:
                server.stop()
    except (BenchmarkError, OSError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    print(render(rows, options, load_before))
    return 0


#: RSS reads per worker at the end of each minute (their median is the minute's RSS).
RSS_READINGS = 5


def soak(server, models: Path, names: list[str], options) -> list[dict]:
    recorder = Recorder()
    started = time.monotonic()
    stop_at = started + options.minutes * 60
    threads = [threading.Thread(target=client, daemon=True, args=(
        server.url, options.rate / options.clients, stop_at, started, recorder, seed))
        for seed in range(options.clients)]
    for thread in threads:
        thread.start()
    rows = []
    for minute in range(options.minutes):
        time.sleep(max(0.0, started + (minute + 0.5) * 60 - time.monotonic()))
        variant = names[minute % len(names)]
        version = publish(models, variant) if options.reload else 1  # mid-minute
        rss, peak = sample_rss(workers_of(server), started + (minute + 1) * 60)
        loaded = requests.get(server.url + "/readyz", timeout=10).json()["loaded"]
        rows.append({"minute": minute + 1,
                     "published": f"{variant} v{version}" if options.reload else "none",
                     "served": loaded.get(variant) == version, "rss": rss, "peak": peak})
        log(f"minute {minute + 1}: RSS {[value // MB for value in rss.values()]} MB")
    for thread in threads:
        thread.join(timeout=60)
    for row in rows:
        index = row["minute"] - 1
        latencies = sorted(recorder.latencies[index])
        row.update(requests=len(latencies), unexpected=recorder.unexpected[index],
                   p50=percentile(latencies, 50) or 0.0, p99=percentile(latencies, 99) or 0.0)
    return rows


def rss_slope(rows: list[dict]) -> float:
    """MB per minute that a worker's RSS grew, fitted by least squares (mean over workers)."""
    if len(rows) < 2:
        return 0.0
    minutes = [row["minute"] for row in rows]
    mean_m = sum(minutes) / len(minutes)
    slopes = []
    for pid in rows[0]["rss"]:
        values = [row["rss"].get(pid, 0) / MB for row in rows]
        mean_v = sum(values) / len(values)
        slopes.append(sum((m - mean_m) * (v - mean_v) for m, v in zip(minutes, values, strict=True))
                      / sum((m - mean_m) ** 2 for m in minutes))
    return sum(slopes) / len(slopes)


def sample_rss(workers, until: float, readings: int = RSS_READINGS) -> tuple[dict, dict]:
    """Each worker's RSS at the end of a minute: the median of ``readings`` reads a second apart,
    the last at ``until``, so one read taken while a worker decodes a large image (+45 MB for a
    moment) does not stand for the minute; the peak (VmHWM) keeps every transient."""
    reads: dict[int, list[int]] = {pid: [] for pid in workers}
    peak: dict[int, int] = {}
    for index in range(readings):
        time.sleep(max(0.0, until - (readings - 1 - index) - time.monotonic()))
        for pid in workers:
            now, high = memory(pid)
            reads[pid].append(now)
            peak[pid] = high
    return {pid: statistics.median(values) for pid, values in reads.items()}, peak


def render(rows: list[dict], options, load_before) -> str:
    table = [[row["minute"], row["requests"], len(row["unexpected"]),
              f"{row['p50'] * 1000:.0f}", f"{row['p99'] * 1000:.0f}",
              " / ".join(f"{value / MB:.0f}" for value in row["rss"].values()),
              f"{row['published']} ({'served' if row['served'] else 'NOT served'})"
              if options.reload else "-"]
             for row in rows]
    warm = [sum(row["rss"].values()) for row in rows[1:]]
    spread = (max(warm) - min(warm)) / min(warm) if warm else 0.0
    peaks = {pid: high for row in rows for pid, high in row["peak"].items()}
    slope = rss_slope(rows[1:])
    problems = [problem for row in rows for problem in row["unexpected"]]
    pids = {tuple(row["rss"]) for row in rows}
    lines = [
        f"Soak: {options.minutes} min at {options.rate:g} requests/s from {options.clients} "
        f"clients (4 in 5 good, 1 in 5 hostile), 2 gunicorn workers, "
        + ("a new version published mid-minute" if options.reload else "no reloads")
        + (f", server environment {' '.join(options.env)}" if options.env else "")
        + f"; load average before: {load_before}, after: {load_average()}",
        "",
        markdown_table(["minute", "requests", "unexpected", "p50 ms", "p99 ms",
                        "RSS per worker MB", "hot reload"], table),
        "",
        f"- RSS (both workers) after minute 1: spread {spread:.1%} of its minimum "
        f"({'flat within 10%' if spread <= 0.10 else 'NOT flat within 10%'}); "
        f"{'the same workers throughout' if len(pids) == 1 else 'workers were replaced'}",
        "- peak RSS per worker (VmHWM): " + ", ".join(f"{high / MB:.0f} MB" for high in
                                                       peaks.values()),
        f"- RSS slope after minute 1 (least squares, per worker): {slope:+.1f} MB/min",
        f"- unexpected answers: {len(problems)}"
        + (f" ({', '.join(sorted(set(problems))[:5])})" if problems else ""),
    ]
    return "\n".join(lines)
