"""Open-loop load by the clock, in Python: requests start on a fixed schedule, answered or not.

wrk keeps N requests in flight and sends the next only when one is answered, so a slow server
slows its own load and hides the wait (coordinated omission); wrk2, which fixes the rate, is
not packaged by Debian. Here request ``i`` is due at ``start + i / rate``; a pool of threads,
each with its own keep-alive connection, sends it when due, and its latency is counted from
the due time, so time spent waiting for a free connection counts too. ``late`` says how many
were sent more than 5 ms after their due time (the generator, or the server, fell behind).

Run as ``python -m benchmarks.openloop PLAN.json OUT.json`` in a process of its own.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.loadgen import Client, percentile

LATE_SECONDS = 0.005


def run_open_loop(host: str, port: int, path: str, bodies: list[bytes], content_type: str,
                  rate: float, duration: float, connections: int = 48) -> dict[str, Any]:
    """Send ``rate`` requests per second for ``duration`` seconds; latencies from due times."""
    total = max(1, int(rate * duration))
    lock = threading.Lock()
    counter = iter(range(total))
    latencies: list[float] = []
    errors: list[str] = []
    late = [0]
    start = time.perf_counter() + 0.5  # every thread connected and waiting before the first

    def worker() -> None:
        client = Client(host, port, content_type)
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                break
            due = start + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            elif -pause > LATE_SECONDS:
                with lock:
                    late[0] += 1
            try:
                status, body = client.call("POST", path, bodies[index % len(bodies)])
            except (OSError, http.client.HTTPException) as error:
                status, body = 0, repr(error).encode()
            elapsed = time.perf_counter() - due
            with lock:
                if status == 200:
                    latencies.append(elapsed * 1000)
                else:
                    errors.append(f"{status}: {body[:200].decode(errors='replace')}")
        client.connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "generator": "python open loop",
        "rate_planned": round(rate, 1),
        "requests": total,
        "requests_ok": len(ordered),
        "errors": len(errors),
        "error_examples": errors[:3],
        "late": late[0],
        "requests_per_second": round(len(ordered) / wall, 1) if wall > 0 else None,
        "mean_ms": round(sum(ordered) / len(ordered), 2) if ordered else None,
        **{f"p{p}_ms": _round(percentile(ordered, p)) for p in (50, 90, 99)},
        "max_ms": _round(ordered[-1] if ordered else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main(plan_path: Path, out_path: Path) -> None:
    """Read the plan (host, port, path, body files, content type, rate, duration), run it."""
    plan = json.loads(plan_path.read_text())
    if plan["host"] not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the load generator only drives loopback servers, not {plan['host']}")
    bodies = [Path(name).read_bytes() for name in plan["bodies"]]
    result = run_open_loop(plan["host"], plan["port"], plan["path"], bodies,
                           plan["content_type"], plan["rate"], plan["duration"],
                           plan.get("connections", 48))
    out_path.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
