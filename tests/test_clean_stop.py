"""A serving group stops cleanly under light load: Ctrl-C (SIGINT to the whole group) and SIGTERM
end every process within the graceful timeout, and gunicorn never has to SIGKILL a worker."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
import requests

from benchmarks.drawing import draw, encode
from server.launcher import LOOPBACK, start
from server.settings import GRACEFUL_SECONDS
from tests.support.procnet import gone

PNG = encode(draw("A", 280))


def send_ctrl_c(server) -> None:
    """What a terminal does on Ctrl-C: SIGINT to every process of the foreground group."""
    os.killpg(server.pid, signal.SIGINT)


def send_sigterm(server) -> None:
    """What a process manager does: SIGTERM to the master alone."""
    os.kill(server.pid, signal.SIGTERM)


def light_load(url: str, stop: threading.Event) -> None:
    """One client asking again and again, as the page does while someone draws."""
    with requests.Session() as session:
        while not stop.is_set():
            try:
                session.post(f"{url}/predict?include=stability", files={"image": PNG}, timeout=30)
            except requests.RequestException:
                time.sleep(0.05)


def stalled_upload(port: int) -> socket.socket:
    """A client that sent its headers and part of the body, then nothing more (a phone that
    lost its network mid-upload): the request stays in flight."""
    sock = socket.create_connection((LOOPBACK, port))
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                 b"Content-Length: 100000\r\n\r\n" + PNG[:1000])
    return sock


@pytest.mark.slow  # a server start and a stop of up to a few seconds, twice
@pytest.mark.parametrize("stop_with", [send_ctrl_c, send_sigterm], ids=["ctrl-c", "sigterm"])
def test_every_process_is_gone_within_the_graceful_timeout_without_a_sigkill(
        models_dir, tmp_path, stop_with):
    """Two workers answering three clients, with a stalled upload and two silent connections
    (a browser's preconnects) open: after the signal every process is gone within the graceful
    timeout, the master exits 0, and its log has no SIGKILL line."""
    stop = threading.Event()
    with start(tmp_path / "server.log", models_dir=models_dir, workers=2) as server:
        pids = server.worker_pids() | {server.pid}
        assert len(pids) == 3
        clients = [threading.Thread(target=light_load, args=(server.url, stop), daemon=True)
                   for _ in range(3)]
        for client in clients:
            client.start()
        sockets = [stalled_upload(server.port),
                   *(socket.create_connection((LOOPBACK, server.port)) for _ in range(2))]
        try:
            time.sleep(2)
            signalled = time.monotonic()
            stop_with(server)
            assert server.process.wait(timeout=GRACEFUL_SECONDS + 5) == 0, server.log()[-2000:]
            while not all(gone(pid) for pid in pids):
                assert time.monotonic() - signalled < GRACEFUL_SECONDS, server.log()[-2000:]
                time.sleep(0.05)
            took = time.monotonic() - signalled
        finally:
            stop.set()
            for sock in sockets:
                sock.close()
    log = server.log()
    assert took < GRACEFUL_SECONDS, f"{took:.1f} s"
    assert "SIGKILL" not in log and "Traceback" not in log, log[-2000:]
    assert log.count("Worker exiting") == 2 and "Shutting down: Master" in log
