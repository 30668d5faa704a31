"""The one way to start RegServe under gunicorn: its command line, and a server started on loopback.

``python -m server`` execs :func:`gunicorn_command`; the tests and the benchmarks start servers
with :func:`start`, which picks a free port on 127.0.0.1, waits until the server is ready, keeps
its log, and stops it by pid (SIGTERM, then SIGKILL after a timeout).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from regserve_contracts.tensorflow_log import quiet_log_level

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONFIG = Path(__file__).with_name("gunicorn.conf.py")
APP = "server:create_app()"
LOOPBACK = "127.0.0.1"
#: Seconds a server has to stop after SIGTERM before it is killed.
STOP_SECONDS = 20.0
POLL_SECONDS = 0.2


class ServerStartError(RuntimeError):
    """The server exited or never became ready; the message ends with its log."""


def gunicorn_command(bind: str, workers: int | None = None) -> list[str]:
    """gunicorn with the project's config serving the app factory; ``workers`` overrides the
    config's (WEB_CONCURRENCY, else one per core)."""
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "--bind", bind]
    if workers is not None:
        command += ["--workers", str(workers)]
    return [*command, APP]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def child_pids(pid: int) -> set[int]:
    """The direct children of process ``pid`` (a gunicorn master's workers), read from /proc."""
    pids: set[int] = set()
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids |= {int(child) for child in path.read_text().split()}
        except OSError:  # the thread ended while we read
            continue
    return pids


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM,
                 timeout: float = STOP_SECONDS) -> int:
    """Send ``sig`` to a process we started; SIGKILL its process group if it outlives ``timeout``.

    Returns the exit status. The group is the one :func:`start` gave it (its own session), so
    the kill reaches the workers too and nothing else.
    """
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()
            process.wait(timeout=timeout)
    _end_group(process.pid, timeout)
    return process.returncode


def _end_group(group: int, timeout: float) -> None:
    """Stop what is left of a process group whose leader has exited.

    gunicorn's master waits for its workers, so its group is empty by then; a server that exits
    on SIGTERM without stopping its children (LitServe's inference workers did, and kept
    spinning on the CPU for as long as the machine ran) leaves them here: SIGTERM, then
    SIGKILL after ``timeout``.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            return  # nothing left in the group (or it is not ours)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(POLL_SECONDS)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: ours, quiet TensorFlow, this project importable."""
    paths = [str(PROJECT_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**quiet_log_level(dict(os.environ)), "PYTHONPATH": os.pathsep.join(paths),
            **extra}


@dataclass
class LiveServer:
    """A server process on loopback: its url, pid, workers and log; stops when the block ends."""

    url: str
    process: subprocess.Popen
    log_path: Path
    started: float = field(default_factory=time.monotonic)
    ready_seconds: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def worker_pids(self) -> set[int]:
        """The gunicorn workers alive now."""
        return child_pids(self.process.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_SECONDS) -> int:
        """Stop the server (``sig``, then SIGKILL after ``timeout``); returns its exit status."""
        return stop_process(self.process, sig, timeout)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(log_path: Path, *, models_dir: Path | str | None = None, workers: int | None = 1,
          env: Mapping[str, str] | None = None,
          command: Callable[[str], Sequence[str]] | None = None,
          ready_path: str = "/readyz", timeout: float = 120.0,
          cwd: Path | None = None) -> LiveServer:
    """Start a server on a free loopback port and wait until ``ready_path`` answers 200.

    ``command`` turns ``host:port`` into the command line (default: :func:`gunicorn_command`
    with ``workers``); ``models_dir`` and ``env`` reach it through its environment, which is
    how gunicorn's workers read their settings; it runs in ``cwd`` (default: the project's
    root). Raises :class:`ServerStartError` (the server stopped) if it exits or is not ready
    within ``timeout`` seconds.
    """
    port = free_port()
    bind = f"{LOOPBACK}:{port}"
    argv = list(command(bind) if command else gunicorn_command(bind, workers))
    extra = {"MODELS_DIR": str(models_dir)} if models_dir is not None else {}
    log_path = Path(log_path)
    # The server gets its own copy of the descriptor; ours is closed at once.
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(argv, cwd=cwd or PROJECT_ROOT,
                                   env=child_env(**extra, **(env or {})), stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = LiveServer(f"http://{bind}", process, log_path)
    try:
        server.ready_seconds = _wait_ready(server, ready_path, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: LiveServer, path: str, timeout: float) -> float:
    deadline = server.started + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerStartError(f"the server exited with {server.process.returncode}:\n"
                                   f"{server.log()[-4000:]}")
        if _answers_200(server.port, path):
            return time.monotonic() - server.started
        time.sleep(POLL_SECONDS)
    raise ServerStartError(f"the server was not ready within {timeout:.0f} s:\n"
                           f"{server.log()[-4000:]}")


def _answers_200(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
