"""A checkout's server for the hardening benchmarks, and its workers' CPU and memory from /proc."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from benchmarks.report import BenchmarkError
from server.launcher import LiveServer, ServerStartError, start

TICKS = os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> tuple[int, int]:
    """(resident now, resident peak since the last :func:`reset_peak`) in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            fields[line.split(":")[0]] = int(line.split()[1]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


def reset_peak(pid: int) -> None:
    """Set the peak (VmHWM) back to the current RSS (Linux: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, all its threads, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start_server(checkout: Path, models_dir: Path, log_path: Path, workers: int = 1,
                 timeout: float = 180.0, **env: str) -> LiveServer:
    """Start ``checkout``'s server (its own code and gunicorn config) through the launcher."""

    def command(bind: str) -> list[str]:
        # --chdir puts that checkout first on gunicorn's import path: its code, not ours.
        return [sys.executable, "-m", "gunicorn", "-c", str(checkout / "server" /
                "gunicorn.conf.py"), "--chdir", str(checkout), "--bind", bind,
                "--workers", str(workers), "server:create_app()"]

    try:
        server = start(log_path, models_dir=models_dir, env=env, command=command,
                       timeout=timeout)
    except ServerStartError as error:
        raise BenchmarkError(str(error)) from None
    deadline = time.monotonic() + timeout  # every worker up, not just the first to answer
    while len(server.worker_pids()) < workers and time.monotonic() < deadline:
        time.sleep(0.3)
    return server


def workers_of(server: LiveServer) -> list[int]:
    """The server's worker pids, sorted."""
    return sorted(server.worker_pids())
