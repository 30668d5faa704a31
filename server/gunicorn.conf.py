"""gunicorn settings for RegServe on a CPU box, read from :func:`server.settings.load_settings`.

Started by :mod:`server.launcher` (``python -m server``, the Dockerfile, tests, benchmarks).
Environment: WEB_CONCURRENCY (workers, default: the CPU cores this process may use),
GUNICORN_WORKER_CLASS (gevent, the default, or gthread), GUNICORN_THREADS (threads per gthread
worker, default 8), GUNICORN_TIMEOUT (default 120 s), BIND or
PORT (default 0.0.0.0:8000), ACCESS_LOG ("-" for stdout, a path, or unset for none), LOG_LEVEL
(info); the REGSERVE_* settings are read by each worker's ``create_app``.
"""

import errno
import glob
import logging
import os
import shutil
import socket
import sys
import tempfile

# gunicorn reads this file before it applies --pythonpath: find this file's own package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from regserve_contracts.tensorflow_log import quiet_log_level  # noqa: E402
from server.settings import (  # noqa: E402
    GRACEFUL_SECONDS,
    STALLED_CLIENT_SECONDS,
    ConfigError,
    cores,
    load_settings,
)

try:
    _SETTINGS = load_settings()
except ConfigError as error:  # stop the master before any fork, with one line naming the value
    sys.exit(f"error: {error}")
_CORES = cores()

bind = _SETTINGS.bind_address
workers = _SETTINGS.workers
# gevent (the default): each request is a greenlet of the worker's one thread; the model call
# runs on it too, for every image that arrived together (server/runtime/batcher.py). gthread: a
# pool of `threads` request threads and a batch thread.
worker_class = _SETTINGS.worker_class
threads = _SETTINGS.threads
timeout = _SETTINGS.timeout
graceful_timeout = GRACEFUL_SECONDS
keepalive = 5
# gunicorn's maximum: the app answers a URL over server.errors.MAX_URI_BYTES with a JSON 414.
limit_request_line = 8190
# Neither TensorFlow nor ONNX Runtime sessions survive a fork: each worker imports its runtime
# and loads the models itself, after the fork.
preload_app = False
loglevel = _SETTINGS.log_level
accesslog = _SETTINGS.access_log
errorlog = "-"
# gunicorn 23+ opens a control socket at one fixed path; several servers on a box would clash.
control_socket_disable = True
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeats on tmpfs: a slow disk cannot stall them

quiet_log_level()

# Prometheus multiprocess mode: each worker writes its metrics to files here, /metrics sums them.
# (prometheus_client reads this variable itself; it is the library's interface, not a setting.)
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="regserve-metrics-")


def on_starting(server):
    """Start from empty metric files: old workers' counts must not leak into this run."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.unlink(path)
    _listen_per_worker(server)


def _listen_per_worker(server):
    """One listening socket per worker (SO_REUSEPORT) when every bind is a TCP address and port.

    The kernel then hashes each new connection to one worker's socket. On a shared socket, the
    worker that wakes first accepts every connection waiting, and a kept-alive client stays with
    it: wrk's 16 connections split 16/0, 13/3, 15/1 between two workers (each a GIL) in
    measured runs, against 8/8, 9/7, 10/6 with a socket per worker. Unix sockets and port 0
    keep one shared socket.

    SO_REUSEPORT would let a second server silently share a port already in use, so the port is
    first bound here without it: a port in use stops the start with one line.
    """
    from gunicorn.util import parse_address

    if not _SETTINGS.reuse_port or not hasattr(socket, "SO_REUSEPORT"):
        return
    addresses = [parse_address(bind) for bind in server.cfg.bind]
    if not addresses or not all(isinstance(a, tuple) and a[1] for a in addresses):
        return
    for host, port in addresses:
        try:
            family, kind, _, _, address = socket.getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)[0]
            with socket.socket(family, kind) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
        except OSError as error:  # in use, not an address of this machine, no such host
            why = ("it is already in use" if error.errno == errno.EADDRINUSE
                   else error.strerror or str(error))
            sys.exit(f"error: cannot listen on {host}:{port}: {why}")
    server.cfg.set("reuse_port", True)
    # The master then opens no socket and gunicorn would log "Listening at:  (PID)": name the
    # address in that line ourselves.
    listening = ", ".join(f"http://{host}:{port}" for host, port in addresses)
    server.log.error_log.addFilter(_ListeningAt(f"{listening} (a socket per worker)"))


class _ListeningAt(logging.Filter):
    """Fills the address into gunicorn's "Listening at: %s (%s)" line when it has none."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Listening at: %s (%s)" and record.args and not record.args[0]:
            record.args = (self.address, *record.args[1:])
        return True


def post_fork(server, worker):
    """Share the cores between workers, so N workers do not each start a pool as wide as the box.

    Runs in the new worker before it builds the app; settings of 0 (the default) mean "share".
    The sizes go to the worker's settings through its environment, and TensorFlow applies them
    when it loads its first SavedModel: a worker that serves ONNX twins never imports it (ONNX
    Runtime runs one thread per session, REGSERVE_ORT_INTRA_OP_THREADS).
    ``server.cfg.workers`` counts a ``--workers`` given on the command line too.
    """
    share = max(1, _CORES // server.cfg.workers)
    intra = _SETTINGS.tf_intra_op_threads or share
    inter = _SETTINGS.tf_inter_op_threads or min(2, share)
    os.environ.setdefault("OMP_NUM_THREADS", str(intra))  # OpenMP reads it when TF loads
    os.environ["REGSERVE_TF_INTRA_OP_THREADS"] = str(intra)
    os.environ["REGSERVE_TF_INTER_OP_THREADS"] = str(inter)


def pre_request(worker, req):
    """A client that stops sending in the middle of a request (a stalled upload) frees its
    thread or greenlet after STALLED_CLIENT_SECONDS: gunicorn reads a body with no timeout, so
    such a read would block for good, and a graceful stop would wait on it until the master's
    SIGKILL."""
    sock = getattr(req.unreader, "sock", None)
    if sock is not None:
        sock.settimeout(STALLED_CLIENT_SECONDS)


def worker_int(worker):
    """SIGINT or SIGQUIT (Ctrl-C reaches every process of the terminal's group): leave now.

    gunicorn means these as an immediate stop, yet its worker then exits through Python's
    finalization, which joins every request thread: one blocked on a stalled client kept the
    worker up until the master's SIGKILL ("Perhaps out of memory?").
    """
    worker.log.info("Worker exiting (pid: %s)", os.getpid())
    _leave(0)


def worker_exit(server, worker):
    """After gunicorn's own cleanup (a graceful stop has answered what was in flight), the
    worker leaves with its exit status, without finalization's wait on idle or stuck threads."""
    error = sys.exc_info()[1]
    code = error.code if isinstance(error, SystemExit) else 1
    _leave(code if isinstance(code, int) else 0 if code is None else 1)


def _leave(code: int) -> None:
    """Flush what was logged and end the process at once (no thread joins, no atexit)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    for handler in logging.getLogger("gunicorn.error").handlers:
        handler.flush()
    os._exit(code)


def child_exit(server, worker):
    """Drop a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
