"""gunicorn settings for RegServe on a CPU box: the Dockerfile, the tests and `python -m server`.

Run: ``gunicorn -c server/gunicorn.conf.py 'server:create_app()'``. Environment:
WEB_CONCURRENCY (workers, default: the CPU cores this process may use), GUNICORN_THREADS
(threads per worker, default 8), GUNICORN_TIMEOUT (default 120 s), BIND or PORT (default
0.0.0.0:8000), ACCESS_LOG ("-" for stdout, a path, or unset for none), LOG_LEVEL (info).
"""

import glob
import os
import shutil
import tempfile


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_CORES = _cores()

bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = max(1, int(os.environ.get("WEB_CONCURRENCY") or _CORES))
# gthread: a request waits on TensorFlow (which releases the GIL) while the worker's other
# threads read and answer theirs, and the micro-batcher joins their images into one call.
worker_class = "gthread"
threads = max(1, int(os.environ.get("GUNICORN_THREADS") or 8))
# Loading and warming up eight models happens in the worker before its first heartbeat.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 120)
graceful_timeout = 30
keepalive = 5
# TensorFlow's runtime does not survive a fork: each worker imports it and loads the models
# itself, after the fork.
preload_app = False
loglevel = os.environ.get("LOG_LEVEL", "info")
accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
# gunicorn 23+ opens a control socket at one fixed path; several servers on a box would clash.
control_socket_disable = True
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeats on tmpfs: a slow disk cannot stall them

# Share the cores between workers, so N workers do not each start a pool as wide as the box.
os.environ.setdefault("REGSERVE_TF_INTRA_OP_THREADS", str(max(1, _CORES // workers)))
os.environ.setdefault("REGSERVE_TF_INTER_OP_THREADS", str(max(1, min(2, _CORES // workers))))
os.environ.setdefault("OMP_NUM_THREADS", os.environ["REGSERVE_TF_INTRA_OP_THREADS"])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Prometheus multiprocess mode: each worker writes its metrics to files here, /metrics sums them.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="regserve-metrics-")


def on_starting(server):
    """Start from empty metric files: old workers' counts must not leak into this run."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.unlink(path)


def child_exit(server, worker):
    """Drop a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
