"""A load generator in its own process: POSTs the same PNGs to /predict from N threads.

Run as ``python -m benchmarks.loadgen PLAN.json OUT.json`` (the serving benchmark does this);
the plan says which server, which PNG files and which phases (query string, concurrency,
request count, time cap). It waits for ``/readyz``, times the very first ``/predict`` after it
turned 200, then runs each phase and writes latencies and throughput to ``OUT.json``.
Plain ``http.client`` with one keep-alive connection per thread keeps the client's own cost low,
which matters: the client shares the machine's cores with the server it measures.
"""

from __future__ import annotations

import http.client
import json
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.report import SHARED_SAMPLE
from regserve_contracts.labels import LABELS

POLL_SECONDS = 0.05
REQUEST_TIMEOUT = 60.0
#: Side of the PNGs sent, in pixels: about what a drawing canvas on a page sends.
CANVAS_SIDE = 280


class Client:
    """One keep-alive connection that reconnects when the server closes it."""

    def __init__(self, host: str, port: int, content_type: str = "image/png") -> None:
        self.host, self.port, self.content_type = host, port, content_type
        self.connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request and read the whole answer; reconnect and raise on a broken socket."""
        headers = {"Content-Type": self.content_type} if body is not None else {}
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port,
                                                         timeout=REQUEST_TIMEOUT)
            raise


def sample_characters(count: int):
    """``count`` EMNIST-form characters and their source: real, else offline set, else typed."""
    import numpy as np

    if SHARED_SAMPLE.exists():
        with np.load(SHARED_SAMPLE) as data:
            pool = data["x_test"]
        picks = np.linspace(0, len(pool) - 1, count).astype(int)
        return pool[picks], f"real EMNIST test characters ({SHARED_SAMPLE.name})"
    try:
        from trainer.data.synthetic import NAME, generate
    except ImportError:
        return _typed_characters(count), "letters typed in Pillow's default font"
    images, _ = generate(count, seed=0, split="test")
    return images, f"the bundled offline set ({NAME}), not real handwriting"


def _typed_characters(count: int):
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=22)
    images = []
    for index in range(count):
        canvas = Image.new("L", (28, 28), 0)
        ImageDraw.Draw(canvas).text((14, 14), LABELS[index % len(LABELS)], fill=255,
                                    font=font, anchor="mm")
        images.append(np.asarray(canvas))
    return np.stack(images)


def canvas_png(pixels, side: int = CANVAS_SIDE) -> bytes:
    """An EMNIST character as a page's canvas sends it: dark ink on white, RGBA, ``side`` px."""
    import io

    import numpy as np
    from PIL import Image

    ink = Image.fromarray(255 - np.asarray(pixels, dtype=np.uint8), mode="L")
    buffer = io.BytesIO()
    ink.resize((side, side), Image.Resampling.BICUBIC).convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def percentile(sorted_values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` in 0-100) of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(share / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def wait_ready(host: str, port: int, timeout: float) -> float:
    """Poll ``/readyz`` until it answers 200; return the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client = Client(host, port)
        try:
            status, _ = client.call("GET", "/readyz")
            if status == 200:
                return time.monotonic()
        except (OSError, http.client.HTTPException):
            pass
        finally:
            client.connection.close()
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"/readyz did not answer 200 within {timeout:.0f} s")


@dataclass
class LoadRun:
    """What one load run saw: latencies (s) of accepted answers, and what went wrong otherwise."""

    requests: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        """Requests never sent because the time cap ran out."""
        return self.requests - len(self.latencies) - len(self.errors)


def accept_ok(status: int, body: bytes) -> str | None:
    """The default check of an answer: None for a 200, else what was wrong."""
    return None if status == 200 else f"{status}: {body[:200].decode(errors='replace')}"


def drive(host: str, port: int, path: str, bodies: list[bytes], concurrency: int,
          requests: int, warmup: int = 0, time_cap: float = math.inf,
          check: Callable[[int, bytes], str | None] = accept_ok,
          on_done: Callable[[int], None] | None = None,
          content_type: str = "image/png") -> LoadRun:
    """POST ``requests`` bodies to ``path`` from ``concurrency`` keep-alive threads.

    The one load loop of the project (benchmarks and tests). Each thread first sends ``warmup``
    uncounted requests; no request starts after ``time_cap`` seconds, so a stuck server ends
    the run in bounded time. ``check`` turns an answer into None (accepted) or an error line;
    ``on_done`` gets the number of finished requests after each one.
    """
    lock = threading.Lock()
    counter = iter(range(requests))
    run = LoadRun(requests)
    start_gate = threading.Barrier(concurrency + 1)
    deadline = [math.inf]

    def worker(offset: int) -> None:
        client = Client(host, port, content_type)
        for index in range(warmup):  # per thread, not counted: opens the connection
            try:
                client.call("POST", path, bodies[(offset + index) % len(bodies)])
            except (OSError, http.client.HTTPException):
                pass
        start_gate.wait()
        while True:
            with lock:
                index = next(counter, None)
            if index is None or time.perf_counter() > deadline[0]:
                break
            began = time.perf_counter()
            try:
                status, body = client.call("POST", path, bodies[index % len(bodies)])
                problem = check(status, body)
            except (OSError, http.client.HTTPException) as error:
                problem = f"0: {error!r}"
            elapsed = time.perf_counter() - began
            with lock:
                if problem is None:
                    run.latencies.append(elapsed)
                else:
                    run.errors.append(problem)
                done = len(run.latencies) + len(run.errors)
            if on_done is not None:
                on_done(done)
        client.connection.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    deadline[0] = began + time_cap
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - began
    return run


def run_phase(host: str, port: int, path: str, bodies: list[bytes], concurrency: int,
              requests: int, warmup: int, time_cap: float,
              content_type: str = "image/png") -> dict[str, Any]:
    """Send ``requests`` POSTs from ``concurrency`` threads; return throughput and latencies."""
    run = drive(host, port, path, bodies, concurrency, requests, warmup, time_cap,
                content_type=content_type)
    wall = run.seconds
    ordered = sorted(value * 1000 for value in run.latencies)
    return {
        "path": path,
        "concurrency": concurrency,
        "requests_planned": requests,
        "requests_ok": len(ordered),
        "errors": len(run.errors),
        "error_examples": run.errors[:3],
        "stopped_by_time_cap": run.skipped > 0,
        "wall_seconds": round(wall, 3),
        "requests_per_second": round(len(ordered) / wall, 2) if wall > 0 else None,
        "mean_ms": round(sum(ordered) / len(ordered), 2) if ordered else None,
        **{f"p{p}_ms": _round(percentile(ordered, p)) for p in (50, 95, 99)},
        "max_ms": _round(ordered[-1] if ordered else None),
    }


def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Wait for the server, time the first request, then run every phase in order."""
    url = urlsplit(plan["url"])
    host, port = url.hostname, url.port
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the load generator only drives loopback servers, not {host}")
    bodies = [Path(name).read_bytes() for name in plan["inputs"]]
    ready_at = wait_ready(host, port, plan["ready_timeout"])
    client = Client(host, port)
    began = time.perf_counter()
    status, body = client.call("POST", plan["first_path"], bodies[0])
    first_ms = (time.perf_counter() - began) * 1000
    client.connection.close()
    result: dict[str, Any] = {
        "ready_monotonic": ready_at,
        "first": {"path": plan["first_path"], "status": status, "latency_ms": round(first_ms, 2),
                  "answer": body.decode(errors="replace")},
        "phases": [],
    }
    for phase in plan["phases"]:
        print(f"  {plan['label']}: {phase['path']} at concurrency {phase['concurrency']} ...",
              file=sys.stderr, flush=True)
        measured = run_phase(host, port, phase["path"], bodies, phase["concurrency"],
                             phase["requests"], phase["warmup"], phase["time_cap"])
        result["phases"].append({**phase, **measured})
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


if __name__ == "__main__":
    plan_path, out_path = Path(sys.argv[1]), Path(sys.argv[2])
    outcome = run_plan(json.loads(plan_path.read_text()))
    out_path.write_text(json.dumps(outcome, indent=2))
