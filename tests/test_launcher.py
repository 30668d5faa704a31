"""The one launcher: `python -m server` becomes gunicorn's master on loopback, and stops by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from server.launcher import (
    PROJECT_ROOT,
    ServerStartError,
    child_env,
    child_pids,
    start,
    stop_process,
)
from tests.support.procnet import listeners, wait_gone


@pytest.mark.slow
def test_python_m_server_execs_gunicorn_which_serves_and_stops_on_sigterm(models_dir, tmp_path):
    """The launcher starts ``python -m server`` on a free loopback port; after the exec the pid
    is gunicorn's master, with the one worker asked for, serving the models folder given."""
    command = lambda bind: [sys.executable, "-m", "server", "--bind", bind,  # noqa: E731
                            "--models", str(models_dir), "--workers", "1"]
    with start(tmp_path / "server.log", command=command,
               env={"REGSERVE_WARMUP_BATCH_SIZES": "1"}) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.ready_seconds > 0
        assert len(server.worker_pids()) == 1
        ready = requests.get(f"{server.url}/readyz", timeout=10).json()
        assert set(ready["loaded"]) == {path.name for path in models_dir.iterdir()
                                        if path.is_dir() and path.name != "reports"}
        assert server.stop() == 0
    assert "Booting worker" in server.log() and "Traceback" not in server.log()


def test_python_m_server_refuses_a_missing_folder_and_a_bad_setting_in_one_line(tmp_path):
    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server", *args], cwd=PROJECT_ROOT,
                              env=child_env(**env), capture_output=True, text=True, timeout=60)

    missing = run("--models", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad = run("--models", str(tmp_path), REGSERVE_MAX_BATCH="0")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: max_batch (REGSERVE_MAX_BATCH) must be at least 1, got 0"
    assert run("--bind", "nowhere").returncode == 2
    assert run("--bind", "unix:").returncode == 2
    assert run("--bind", "unix:/tmp/s", "--dev").returncode == 2


def test_a_server_that_never_gets_ready_is_stopped_and_its_log_shown(tmp_path):
    command = lambda bind: [sys.executable, "-c", "print('listening nowhere'); "  # noqa: E731
                            "import time; time.sleep(60)"]
    with pytest.raises(ServerStartError, match="not ready within 1 s(.|\n)*listening nowhere"):
        start(tmp_path / "log", command=command, timeout=1)


def test_stop_kills_a_process_that_ignores_sigterm_and_its_children(tmp_path):
    process, child = parent_and_child("import signal; "
                                      "signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    assert stop_process(process, timeout=0.5) == -signal.SIGKILL
    wait_gone(child, "the child was in the same group: it should have got the SIGKILL too")


def test_stop_ends_children_that_outlive_their_parent(tmp_path):
    """A server that exits on SIGTERM and leaves its workers running (LitServe's did) does not
    leave them behind: the rest of its process group is stopped too."""
    process, child = parent_and_child("pass")
    assert stop_process(process, timeout=5) == -signal.SIGTERM
    wait_gone(child, "it outlived its parent's stop")


def parent_and_child(prelude: str) -> tuple[subprocess.Popen, int]:
    """A process in a session of its own (as :func:`start` makes them) that runs ``prelude``,
    starts one child and sleeps; it and its child's pid, once both run."""
    script = (f"{prelude}; import subprocess, sys, time;"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
              "print('up', flush=True); time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               start_new_session=True)
    assert process.stdout.readline() == b"up\n"
    process.stdout.close()
    (child,) = child_pids(process.pid)
    return process, child


@pytest.mark.slow
def test_each_worker_listens_on_a_socket_of_its_own_and_all_of_them_answer(models_dir, tmp_path):
    """On a TCP port every worker has its own SO_REUSEPORT socket, so the kernel spreads the
    connections; on one shared socket the first worker to wake took all of them."""
    with start(tmp_path / "server.log", models_dir=models_dir, workers=2,
               env={"REGSERVE_WARMUP_BATCH_SIZES": "1"}) as server:
        port = int(server.url.rsplit(":", 1)[1])
        workers = server.worker_pids()
        held = [found for found in listeners(workers | {server.process.pid}) if found.port == port]
        assert sorted(found.pid for found in held) == sorted(workers)  # none in the master
        connections = [requests.Session() for _ in range(16)]
        for session in connections:
            assert session.get(f"{server.url}/healthz", timeout=10).status_code == 200
        serving = {pid for pid in workers if established(pid, port)}
        assert serving == workers  # 16 connections all on one of 2 sockets: odds 2 in 65,536
        for session in connections:
            session.close()


def test_a_port_in_use_stops_the_start_in_one_line(tmp_path):
    """SO_REUSEPORT must not let a second server share a port silently."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "server", "--port", str(port), "--models",
                              str(tmp_path)], cwd=PROJECT_ROOT, env=child_env(),
                             capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and time.monotonic() - started < 30
    assert f"error: cannot listen on 127.0.0.1:{port}: it is already in use" in run.stderr
    assert "Traceback" not in run.stderr
    # An address this machine does not have (TEST-NET-1, never routed): one line too.
    elsewhere = subprocess.run([sys.executable, "-m", "server", "--bind", f"192.0.2.1:{port}",
                                "--models", str(tmp_path)], cwd=PROJECT_ROOT, env=child_env(),
                               capture_output=True, text=True, timeout=60)
    assert elsewhere.returncode != 0 and "Traceback" not in elsewhere.stderr
    assert f"error: cannot listen on 192.0.2.1:{port}: " in elsewhere.stderr


def established(pid: int, port: int) -> bool:
    """Whether ``pid`` holds an established TCP connection on local ``port``."""
    inodes = {os.readlink(fd)[8:-1] for fd in Path(f"/proc/{pid}/fd").iterdir()
              if os.readlink(fd).startswith("socket:[")}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and int(fields[1].split(":")[1], 16) == port and fields[9] in inodes:
            return True
    return False

