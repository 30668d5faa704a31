"""A gunicorn server for the hardening benchmarks, and its workers' CPU and memory from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from benchmarks.report import BenchmarkError, child_env, free_port, stop_process, tail

TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """A process's children (gunicorn's master: its workers)."""
    found = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in path.read_text().split()]
        except OSError:
            pass
    return sorted(found)


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


@dataclass
class Server:
    """A gunicorn master serving one checkout's app on loopback."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def stop(self) -> None:
        stop_process(self.process)


def start_server(checkout: Path, models_dir: Path, log_path: Path, workers: int = 1,
                 timeout: float = 180.0, **env: str) -> Server:
    """Start ``checkout``'s server with its own gunicorn config; wait for /readyz."""
    port = free_port()
    environment = child_env(MODELS_DIR=str(models_dir), WEB_CONCURRENCY=str(workers), **env)
    environment["PYTHONPATH"] = str(checkout)  # that checkout's code, not this one's
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(checkout / "server" / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{port}", "server:create_app()"],
            cwd=checkout, env=environment, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"the server exited with {process.returncode}:\n{tail(log_path)}")
        try:
            if requests.get(server.url + "/readyz", timeout=2).status_code == 200:
                if len(server.workers()) == workers:
                    return server
        except requests.RequestException:
            pass
        time.sleep(0.3)
    server.stop()
    raise BenchmarkError(f"the server was not ready in {timeout} s:\n{tail(log_path)}")
