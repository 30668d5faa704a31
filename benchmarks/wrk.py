"""Closed-loop load from wrk (Debian's package): N connections, each sending as fast as answered.

A Lua script cycles through the scenario's bodies (one file each, sent as they are) and prints
wrk's own counts and latency percentiles as one JSON line when the run ends. Without wrk the
benchmark says how to install it and falls back to :mod:`benchmarks.loadgen`'s Python threads,
which cost the shared cores far more per request (the table says which generator ran).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

INSTALL_HINT = ("wrk is not installed: `apt-get install -y wrk` "
                "(or `bash scripts/ensure-tools.sh wrk`)")
MARKER = "REGSERVE-WRK "

_SCRIPT = """
local paths = {%(paths)s}
local bodies = {}
for i, path in ipairs(paths) do
  local file = assert(io.open(path, "rb"))
  bodies[i] = file:read("*a")
  file:close()
end
local counter = 0
wrk.method = "%(method)s"
wrk.headers["Content-Type"] = "%(content_type)s"

request = function()
  counter = counter + 1
  if #bodies == 0 then
    return wrk.format(nil, "%(path)s")
  end
  return wrk.format(nil, "%(path)s", nil, bodies[(counter %% #bodies) + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, ' ..
    '"read": %%d, "write": %%d, "status": %%d, "timeout": %%d, "mean_us": %%f, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


class WrkError(RuntimeError):
    """wrk failed or printed no result; the message holds its output."""


def wrk_path() -> str | None:
    """The wrk binary on PATH, or ``None``."""
    return shutil.which("wrk")


def write_script(path: Path, url_path: str, bodies: list[Path], content_type: str,
                 method: str = "POST") -> Path:
    """The Lua script for one scenario (no bodies: plain requests, e.g. ``GET /healthz``)."""
    paths = ", ".join(json.dumps(str(body)) for body in bodies)
    path.write_text(_SCRIPT % {"paths": paths, "method": method, "path": url_path,
                               "content_type": content_type, "marker": MARKER})
    return path


def run_wrk(url: str, script: Path, connections: int, duration: float, threads: int = 2,
            timeout_s: float = 10.0) -> dict[str, Any]:
    """Run wrk against ``url`` and return requests/s, errors and latency percentiles in ms."""
    binary = wrk_path()
    if binary is None:
        raise WrkError(INSTALL_HINT)
    threads = max(1, min(threads, connections))
    command = [binary, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               f"--timeout={timeout_s:g}s", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    line = next((text for text in done.stdout.splitlines() if text.startswith(MARKER)), None)
    if done.returncode != 0 or line is None:
        raise WrkError(f"wrk failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[len(MARKER):])
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[key] for key in ("connect", "read", "write", "status", "timeout"))
    ok = raw["requests"] - raw["status"]
    return {
        "generator": "wrk",
        "connections": connections,
        "threads": threads,
        "seconds": round(seconds, 3),
        "requests": raw["requests"],
        "requests_ok": ok,
        "errors": errors,
        "error_kinds": {key: raw[key] for key in ("connect", "read", "write", "status", "timeout")
                        if raw[key]},
        "requests_per_second": round(ok / seconds, 1) if seconds else None,
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        **{f"p{p}_ms": round(raw[f"p{p}_us"] / 1000, 2) for p in (50, 90, 99)},
        "max_ms": round(raw["max_us"] / 1000, 2),
    }
