"""Put RegServe on Ray Serve: start or join Ray, deploy the replicas, wait for /readyz.

Without an address, Ray runs on this machine only, every server it starts on 127.0.0.1. With
one, the command joins that cluster; every node then needs this project installed (the
``scale`` extra) and the models folder at the same absolute path (a shared file system, or a
volume mounted alike on every node): the replicas read it themselves and never get a copy.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.scale.replica import READY_PATH, RegServeReplica
from server.settings import ServerSettings

LOOPBACK = "127.0.0.1"
APP_NAME = "regserve"
DEPLOYMENT_NAME = "RegServe"
#: Requests one replica works on at once: gunicorn's threads per worker, so the micro-batcher
#: sees as much concurrency in a replica as in a worker.
DEFAULT_ONGOING = 8


class ScaleError(RuntimeError):
    """Ray or Serve could not start, or the replicas never became ready; the message says why."""


@dataclass(frozen=True)
class ScaleOptions:
    """Where Serve listens, how many replicas, and which cluster."""

    models_dir: Path
    host: str = LOOPBACK
    port: int = 8000
    address: str | None = None  # None: a local Ray on 127.0.0.1
    replicas: int = 1
    autoscale: tuple[int, int] | None = None  # (min, max) replicas instead of a fixed number
    cpus_per_replica: float = 1.0
    max_ongoing_requests: int = DEFAULT_ONGOING
    # HeadOnly: one HTTP proxy, on the node that runs this command; EveryNode: one per node.
    proxy_location: str = "HeadOnly"


def prepare_environment(loopback: bool) -> None:
    """Environment Ray reads when it is imported; call before the first ``import ray``.

    No usage statistics. With ``loopback``, Ray keeps 127.0.0.1 as given: otherwise it rewrites
    a loopback address into the host's own and listens on the network (several nodes on one
    machine, as ``ray.cluster_utils.Cluster`` starts them, work either way).
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Serve's proxy sends every request to a replica on its own node until that one is full
    # (max_ongoing_requests); with one proxy, spread by queue length over all nodes instead.
    os.environ.setdefault("RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING", "0")
    if loopback:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


def start_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address``, or start Ray on 127.0.0.1; True if we started it."""
    prepare_environment(loopback=address is None)
    import ray

    if ray.is_initialized():
        return False
    try:
        if address is not None:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            return False
        ray.init(num_cpus=num_cpus, _node_ip_address=LOOPBACK, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ScaleError(f"cannot {'join Ray at ' + repr(address) if address else 'start Ray'}: "
                         f"{error}") from None
    return True


def replica_environ(settings: ServerSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """The settings' environment variables that are set here, with MODELS_DIR made absolute:
    what every replica builds its settings from, wherever it runs."""
    names = {spec.metadata["env"] for spec in dataclasses.fields(ServerSettings)}
    chosen = {name: value for name, value in environ.items() if name in names}
    chosen["MODELS_DIR"] = str(Path(settings.models_dir).resolve())
    return chosen


def build_application(options: ScaleOptions, environ: Mapping[str, str]) -> Any:
    """The Serve application: :class:`RegServeReplica` behind ``serve.ingress``."""
    from ray import serve

    scaling: dict[str, Any]
    if options.autoscale is not None:
        low, high = options.autoscale
        scaling = {"autoscaling_config": {
            "min_replicas": low, "max_replicas": high, "initial_replicas": low,
            "target_ongoing_requests": max(1, options.max_ongoing_requests // 2)}}
    else:
        scaling = {"num_replicas": options.replicas}
    ingress = serve.ingress()(RegServeReplica)
    deployment = serve.deployment(
        ingress, name=DEPLOYMENT_NAME, max_ongoing_requests=options.max_ongoing_requests,
        ray_actor_options={"num_cpus": options.cpus_per_replica},
        health_check_period_s=5, **scaling)
    return deployment.bind(dict(environ))


def deploy(options: ScaleOptions, environ: Mapping[str, str], timeout: float = 300.0) -> str:
    """Start Serve's proxy on ``host:port``, deploy, wait until /readyz answers 200 through
    the proxy; return the URL. Ray must be running (:func:`start_ray`)."""
    from ray import serve

    serve.start(proxy_location=options.proxy_location,
                http_options={"host": options.host, "port": options.port})
    try:
        serve.run(build_application(options, environ), name=APP_NAME, route_prefix="/",
                  blocking=False)
    except Exception as error:  # Serve raises its own types for a deployment that failed
        raise ScaleError(f"the deployment failed: {error}") from None
    host = LOOPBACK if options.host in ("0.0.0.0", "::") else options.host
    url = f"http://{host}:{options.port}"
    wait_ready(host, options.port, timeout)
    return url


def wait_ready(host: str, port: int, timeout: float) -> float:
    """Seconds until ``/readyz`` answers 200 at ``host:port``; ScaleError after ``timeout``."""
    started = time.monotonic()
    status = None
    while time.monotonic() - started < timeout:
        connection = http.client.HTTPConnection(host, port, timeout=5)
        try:
            connection.request("GET", READY_PATH)
            status = connection.getresponse().status
            if status == 200:
                return time.monotonic() - started
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        time.sleep(0.3)
    raise ScaleError(f"{READY_PATH} at {host}:{port} did not answer 200 within {timeout:.0f} s "
                     f"(last status {status})")


def shutdown(started_ray: bool) -> None:
    """Remove the application; stop Serve and Ray too if this process started Ray."""
    import ray
    from ray import serve

    if started_ray:
        serve.shutdown()
        ray.shutdown()
    else:
        serve.delete(APP_NAME)
