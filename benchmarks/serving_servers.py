"""The servers the serving benchmark starts: RegServe on each runtime, the peers, the naive app."""

from __future__ import annotations

import http.client
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import wrk
from benchmarks.naive_server import naive_command
from benchmarks.report import BenchmarkError, log
from benchmarks.serving_ray import MODULES as RAY_MODULES
from benchmarks.serving_ray import RAY_SERVE, ray_command, with_both_sizes
from benchmarks.serving_report import SERVERS
from server import launcher

#: RegServe's runs: the server key and the runtime it is started with (REGSERVE_RUNTIME).
REGSERVE_RUNTIMES = {"regserve": "auto", "regserve_tf": "tensorflow", "regserve_bare": "auto"}
#: RegServe runs of another WSGI app than the server's own, with its gunicorn config: a layout
#: measured beside it (benchmarks/bare_predict.py: /predict outside Flask), never served.
REGSERVE_APPS = {"regserve_bare": "benchmarks.bare_predict:create_app()"}
#: Other serving frameworks on the same models (benchmarks/peers/): their command line ({host},
#: {port}), the module they need and the path that answers 200 once they are ready.
PEERS = {
    "bentoml": {"module": "bentoml", "ready": "/readyz",
                "command": [sys.executable, "-m", "bentoml", "serve",
                            "benchmarks.peers.bentoml_service:RegServePeer",
                            "--host", "{host}", "--port", "{port}"]},
    "litserve": {"module": "litserve", "ready": "/health",
                 "command": [sys.executable, "-m", "benchmarks.peers.litserve_service",
                             "{host}", "{port}"]},
}
#: One setting changed at a time from the defaults (environment of the gunicorn master).
SWEEP = (
    ("defaults", {}),
    ("gthread worker, 8 threads", {"GUNICORN_WORKER_CLASS": "gthread"}),
    ("gthread, 4 threads", {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "4"}),
    ("gthread, 16 threads", {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "16"}),
    ("gthread, batch window 0 ms", {"GUNICORN_WORKER_CLASS": "gthread",
                                    "REGSERVE_BATCH_WINDOW_MS": "0"}),
    ("gthread, batch window 5 ms", {"GUNICORN_WORKER_CLASS": "gthread",
                                    "REGSERVE_BATCH_WINDOW_MS": "5"}),
    ("TF intra-op 2", {"REGSERVE_TF_INTRA_OP_THREADS": "2"}),
    ("ONNX Runtime intra-op 2", {"REGSERVE_ORT_INTRA_OP_THREADS": "2"}),
    ("no micro-batching", {"REGSERVE_MAX_BATCH": "1"}),
    ("1 worker", {"WEB_CONCURRENCY": "1"}),
    ("3 workers", {"WEB_CONCURRENCY": "3"}),
    ("one shared listening socket", {"GUNICORN_REUSE_PORT": "0"}),
)


@dataclass(frozen=True)
class ServingSettings:
    """What to measure: which models and servers, how long, how many connections."""

    models_dir: Path
    duration: float = 10.0
    connections: int = 16
    workers: int = 2
    inputs: int = 16
    single_variant: str | None = None
    open_loop: tuple[float, ...] = (0.5, 0.8)
    servers: tuple[str, ...] = SERVERS
    sweep: bool = False
    ready_timeout: float = 300.0
    python_load: bool = False  # force the Python generator even where wrk is installed
    rounds: int = 1  # every server started this often, in turn; each row keeps its median round


def server_command(server: str, settings: ServingSettings):
    """The launcher's ``command`` for a server (``None``: RegServe's own gunicorn command)."""
    if server in REGSERVE_APPS:  # RegServe's command line with its app (the last argument) swapped
        return lambda bind: [*launcher.gunicorn_command(bind)[:-1], REGSERVE_APPS[server]]
    if server in REGSERVE_RUNTIMES:
        return None
    if server in RAY_SERVE:
        return ray_command(server)
    if server == "naive":
        return lambda bind: naive_command(bind, settings.workers, settings.ready_timeout)
    argv = PEERS[server]["command"]

    def command(bind: str) -> list[str]:
        host, port = bind.rsplit(":", 1)
        return [part.format(host=host, port=port) for part in argv]

    return command


def start_server(server: str, settings: ServingSettings, workdir: Path,
                 env: dict[str, str] | None = None, tag: str = "") -> launcher.LiveServer:
    """Start one server through the shared launcher and wait until it is ready."""
    extra = {"WEB_CONCURRENCY": str(settings.workers), "PEER_WORKERS": str(settings.workers),
             # BentoML: its files in the work folder, and no usage reports leave the machine.
             "BENTOML_HOME": str(workdir / "bentoml-home"), "BENTOML_DO_NOT_TRACK": "True",
             **({"REGSERVE_RUNTIME": REGSERVE_RUNTIMES[server]} if server in REGSERVE_RUNTIMES
                else {}),
             **(env or {})}
    log(f"starting {server}{tag} with {extra['WEB_CONCURRENCY']} worker(s) ...")
    try:
        return launcher.start(workdir / f"{server}{tag.replace(' ', '-')}.log",
                              models_dir=settings.models_dir, workers=None, env=extra,
                              command=server_command(server, settings),
                              ready_path=PEERS.get(server, {}).get("ready", "/readyz"),
                              timeout=settings.ready_timeout)
    except launcher.ServerStartError as error:
        raise BenchmarkError(f"{server}{tag} did not start: {error}") from None


def regserve_state(live: launcher.LiveServer) -> dict[str, Any]:
    """The runtime a RegServe process serves with, and its workers' memory once ready."""
    connection = http.client.HTTPConnection(*live.url.split("//")[1].split(":"), timeout=30)
    connection.request("GET", "/readyz")
    ready = json.loads(connection.getresponse().read())
    connection.close()
    return {"runtime": ready.get("runtime"), "worker_rss_mib_ready": worker_rss_mib(live)}


def worker_rss_mib(live: launcher.LiveServer) -> list[float]:
    """Each worker's resident memory in MiB, from /proc (largest first)."""
    sizes = []
    for pid in live.worker_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        sizes += [int(line.split()[1]) / 1024 for line in status.splitlines()
                  if line.startswith("VmRSS:")]
    return sorted((round(size, 1) for size in sizes), reverse=True)


def available_servers(settings: ServingSettings) -> tuple[list[str], list[str]]:
    """The servers that can run here, and a note for each that cannot."""
    ready, notes = [], []
    for server in with_both_sizes(list(settings.servers)):
        if server in RAY_SERVE and not all(importlib.util.find_spec(m) for m in RAY_MODULES):
            notes.append(f"{server}: Ray Serve is not installed: `pip install '.[scale]'` adds it")
            continue
        if server in PEERS and importlib.util.find_spec(PEERS[server]["module"]) is None:
            notes.append(f"{PEERS[server]['module']} is not installed: "
                         "`pip install '.[bench]'` adds the peer")
            continue
        ready.append(server)
    if not (wrk.wrk_path() and not settings.python_load):
        notes.append(wrk.INSTALL_HINT + "; this run used Python threads for the closed loop")
    return ready, notes
