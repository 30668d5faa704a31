"""``python -m server``: serve the models folder locally with gunicorn (or Flask's dev server)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from server.settings import ConfigError, load_settings

GUNICORN_CONFIG = Path(__file__).with_name("gunicorn.conf.py")


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen, what to serve, and how."""

    host: str
    port: int
    models_dir: Path | None  # None: the settings' (MODELS_DIR, default models/)
    workers: int
    dev: bool


def parse_args(argv: list[str] | None = None) -> ServeOptions:
    """Read the command line into :class:`ServeOptions`."""
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (8000)")
    parser.add_argument("--models", type=Path, default=None,
                        help="models folder (MODELS_DIR, default models/)")
    parser.add_argument("--workers", type=int, default=1,
                        help="gunicorn worker processes (1; each loads every model)")
    parser.add_argument("--dev", action="store_true",
                        help="Flask's development server in one process instead of gunicorn "
                             "(never in debug mode)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not 0 < args.port < 65536:
        parser.error("--port must lie in 1..65535")
    return ServeOptions(args.host, args.port, args.models, args.workers, args.dev)


def main(argv: list[str] | None = None) -> int:
    """Start serving; with gunicorn this process becomes gunicorn's master."""
    options = parse_args(argv)
    try:
        settings = load_settings(**({"models_dir": options.models_dir}
                                    if options.models_dir is not None else {}))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not settings.models_dir.is_dir():
        print(f"error: models folder {settings.models_dir} does not exist; train first with "
              "`python -m trainer --all`, or pass --models", file=sys.stderr)
        return 2
    if options.dev:
        from server import create_app

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        app = create_app(settings)
        app.run(host=options.host, port=options.port, debug=False, threaded=True)
        return 0
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG),
               "--pythonpath", str(Path(__file__).resolve().parents[1]),
               "--workers", str(options.workers),
               "--bind", f"{options.host}:{options.port}", "server:create_app()"]
    # The workers build their settings from the environment: hand them the folder chosen here.
    os.execve(sys.executable, command, {**os.environ, "MODELS_DIR": str(settings.models_dir)})
    return 0  # not reached: execve replaced this process


if __name__ == "__main__":
    sys.exit(main())
