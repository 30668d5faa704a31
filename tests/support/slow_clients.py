"""Slow clients for the tests: connections that trickle a byte a second, and the worst
latency of /healthz and /predict while they do."""

from __future__ import annotations

import socket
import threading
import time

import requests

from benchmarks.drawing import draw, encode

PNG = encode(draw("A"))


class Trickler:
    """``count`` connections, each sent one more byte every second from one thread: half
    trickle their header, half a POST body they announced as 4 kB."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets: list[tuple[socket.socket, bytes]] = []
        for index in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            if index % 2:
                sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                             b"Content-Length: 4096\r\n\r\n")
                rest = PNG[:4096]
            else:
                rest = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200
            self.sockets.append((sock, rest))
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for sock, rest in self.sockets:
                try:
                    sock.send(rest[self.sent : self.sent + 1])
                except OSError:
                    pass
            self.sent += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock, _ in self.sockets:
            sock.close()


def worst_latencies(url: str, port: int, count: int, seconds: float,
                    session: requests.Session | None = None) -> tuple[dict[str, float], int]:
    """``count`` trickling clients on ``port``; then for ``seconds`` /healthz and /predict in
    turn (each must answer 200), four times a second. The worst latency of each, in seconds,
    and how many bytes each slow client had sent by the end."""
    http = session or requests.Session()
    trickler = Trickler(port, count)
    worst = {"/healthz": 0.0, "/predict": 0.0}
    try:
        time.sleep(1.5)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for path in worst:
                started = time.monotonic()
                answer = (http.get(url + path, timeout=5) if path == "/healthz"
                          else http.post(url + path, data=PNG, timeout=5,
                                         headers={"Content-Type": "image/png"}))
                assert answer.status_code == 200, (path, answer.text[:200])
                worst[path] = max(worst[path], time.monotonic() - started)
            time.sleep(0.25)
        return worst, trickler.sent
    finally:
        trickler.close()
