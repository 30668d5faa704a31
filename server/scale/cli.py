"""``python -m server --ray``: deploy RegServe onto Ray Serve and keep it up until stopped."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from server.settings import ConfigError, settings_to_serve

#: What ``--ray`` needs beyond the serve extra: the scale extra.
SCALE_EXTRA = ("ray", "asgiref")


def parse_autoscale(text: str) -> tuple[int, int]:
    """``MIN:MAX`` replicas, 1 <= MIN <= MAX."""
    low, sep, high = text.partition(":")
    if not sep or not low.isdigit() or not high.isdigit() or not 1 <= int(low) <= int(high):
        raise argparse.ArgumentTypeError(f"must be MIN:MAX with 1 <= MIN <= MAX, got {text!r}")
    return int(low), int(high)


def parse_args(argv: list[str] | None = None):
    """Read the command line into :class:`server.scale.deploy.ScaleOptions`."""
    from server.scale.deploy import ScaleOptions

    parser = argparse.ArgumentParser(prog="python -m server --ray",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--ray", action="store_true", required=True,
                        help="serve on Ray Serve instead of gunicorn")
    parser.add_argument("--address", help="join the Ray cluster at HOST:PORT (or 'auto'); "
                        "default: start Ray on this machine, bound to 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1", help="Serve's HTTP proxy address")
    parser.add_argument("--port", type=int, default=8000, help="Serve's HTTP proxy port (8000)")
    parser.add_argument("--models", type=Path, default=None,
                        help="models folder, at the same absolute path on every node "
                             "(MODELS_DIR, default models/)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--replicas", type=int, default=1, help="replicas, each a whole app (1)")
    group.add_argument("--autoscale", type=parse_autoscale, metavar="MIN:MAX",
                       help="let Serve scale between MIN and MAX replicas on load")
    parser.add_argument("--cpus-per-replica", type=float, default=1.0,
                        help="CPUs Ray reserves for each replica (1)")
    parser.add_argument("--proxy-location", choices=("HeadOnly", "EveryNode"),
                        default="HeadOnly", help="one HTTP proxy on this node, or one per node")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    if not 0 < args.port < 65536:
        parser.error("--port must lie in 1..65535")
    if args.cpus_per_replica <= 0:
        parser.error("--cpus-per-replica must be above 0")
    return ScaleOptions(models_dir=args.models, host=args.host, port=args.port,
                        address=args.address, replicas=args.replicas, autoscale=args.autoscale,
                        cpus_per_replica=args.cpus_per_replica,
                        proxy_location=args.proxy_location)


def main(argv: list[str] | None = None) -> int:
    """Deploy, say where, wait for SIGINT or SIGTERM, then take the deployment down."""
    import dataclasses

    options = parse_args(argv)
    try:
        settings = settings_to_serve(options.models_dir, SCALE_EXTRA, "scale", "--ray")
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    options = dataclasses.replace(options, models_dir=settings.models_dir)
    from server.scale.deploy import ScaleError, deploy, replica_environ, shutdown, start_ray

    try:
        started = start_ray(options.address)
    except ScaleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # After ray.init, whose own handler would print a stack trace on SIGTERM before ours.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        url = deploy(options, replica_environ(settings, os.environ))
        scaling = (f"{options.autoscale[0]}..{options.autoscale[1]} replicas"
                   if options.autoscale else f"{options.replicas} replica(s)")
        print(f"RegServe on Ray Serve: {url}/ ({scaling}); Ctrl-C stops it.", flush=True)
        stop.wait()
    except ScaleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        shutdown(started)
    return 0
