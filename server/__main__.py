"""``python -m server``: serve the models folder with gunicorn (Flask's dev server, Ray Serve)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from server import create_app
from server.launcher import gunicorn_command
from server.settings import ConfigError, settings_to_serve

#: What serving needs beyond the light client install (`pip install regserve`); TensorFlow is
#: optional (the serve-tf extra), for versions that have no ONNX twin.
SERVE_EXTRA = ("flask", "gunicorn", "onnxruntime", "onnx", "prometheus_client")


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen, what to serve, and how."""

    bind: str
    models_dir: Path | None  # None: the settings' (MODELS_DIR, default models/)
    workers: int | None  # None: the settings' (WEB_CONCURRENCY, default one per core)
    dev: bool


def parse_args(argv: list[str] | None = None) -> ServeOptions:
    """Read the command line into :class:`ServeOptions`."""
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (8000)")
    parser.add_argument("--bind", help="HOST:PORT or unix:PATH, instead of --host and --port")
    parser.add_argument("--models", type=Path, default=None,
                        help="models folder (MODELS_DIR, default models/)")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn worker processes, each loading every model "
                             "(WEB_CONCURRENCY, default one per core)")
    parser.add_argument("--dev", action="store_true",
                        help="Flask's development server in one process instead of gunicorn "
                             "(never in debug mode)")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if not 0 < args.port < 65536:
        parser.error("--port must lie in 1..65535")
    bind = args.bind or f"{args.host}:{args.port}"
    if bind.startswith("unix:"):  # a socket for a proxy in front (deploy/run-local.sh)
        if bind == "unix:" or args.dev:
            parser.error("--bind unix:PATH needs a path, and gunicorn (not --dev)")
        return ServeOptions(bind, args.models, args.workers, args.dev)
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        parser.error(f"--bind must be HOST:PORT (port 1..65535) or unix:PATH, got {bind!r}")
    return ServeOptions(bind, args.models, args.workers, args.dev)


def main(argv: list[str] | None = None) -> int:
    """Start serving; with gunicorn this process becomes gunicorn's master."""
    if "--ray" in (sys.argv[1:] if argv is None else argv):  # Ray Serve: server/scale/cli.py
        from server.scale.cli import main as serve_on_ray

        return serve_on_ray(argv)
    options = parse_args(argv)
    try:
        settings = settings_to_serve(options.models_dir, SERVE_EXTRA, "serve", "serving")
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if options.dev:
        host, _, port = options.bind.rpartition(":")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        app = create_app(settings)
        app.run(host=host, port=int(port), debug=False, threaded=True)
        return 0
    command = gunicorn_command(options.bind, options.workers)
    # gunicorn's workers build their settings from the environment: hand them the folder.
    os.execve(sys.executable, command, {**os.environ, "MODELS_DIR": str(settings.models_dir)})
    return 0  # not reached: execve replaced this process


if __name__ == "__main__":
    sys.exit(main())
