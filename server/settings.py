"""The server's settings: a frozen dataclass, each field with its environment variable and check."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regserve_contracts.decoding import MAX_IMAGE_PIXELS
from regserve_contracts.labels import NUM_CLASSES
from server.runtime.loading import AUTO, RUNTIMES
from server.runtime.selection import (
    ALL_VARIANTS,
    DEFAULT_MAX_VARIANTS,
    LATEST,
    VersionPolicy,
    parse_variant_patterns,
    parse_version_policy,
)

#: The client checks the same number before an upload (its home says why 2048 x 2048).
DEFAULT_MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
#: Four images at the per-image limit, summed over a V2 request's images, chosen from measurement
#: (``python -m benchmarks hostile``, docs/upload-limits.md): a request at this limit cost a
#: worker 340-380 ms of CPU (4 RGBA PNGs of 2048 x 2048, or 213 canvases of 280 x 280), near the
#: 0.5 s any request may cost; 256 PNGs of 2048 x 2048 without it cost 3.2 s.
DEFAULT_MAX_BATCH_PIXELS = 4 * DEFAULT_MAX_IMAGE_PIXELS
#: gunicorn worker classes the server is built and tested for.
WORKER_CLASSES = ("gevent", "gthread")
#: JSON needs little: 28 x 28 pixels are under 20 KB even as floats with spaces; 2 MiB carries a
#: base64 image of 1.5 MB. Larger images go as multipart or raw bytes (max_content_length).
DEFAULT_MAX_JSON_LENGTH = 2 * 1024 * 1024
#: gunicorn's graceful timeout: how long a stopping worker may finish what is in flight (any
#: request here takes well under a second) before the master kills it.
GRACEFUL_SECONDS = 30
#: A request whose client sends nothing for this long (a stalled upload) is given up, so a
#: stopping worker never waits on it for the whole graceful timeout.
STALLED_CLIENT_SECONDS = 10


class ConfigError(ValueError):
    """A setting has a value the server cannot use; the message names the setting."""


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _integer(text: str) -> int:
    # "1e6" and "32.0" have always been accepted; "2.5" is refused rather than cut to 2.
    value = float(text)
    if not value.is_integer():
        raise ValueError(text)
    return int(value)


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(_integer(part) for part in text.replace(",", " ").split())


def _flag(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _optional(text: str) -> str | None:
    return text or None


def at_least(low: float) -> Callable[[Any], str | None]:
    """A check: the value is ``low`` or more."""
    return lambda value: None if value >= low else f"must be at least {low:g}, got {value}"


def between(low: int, high: int) -> Callable[[Any], str | None]:
    """A check: the value lies in ``low..high``."""
    return lambda value: None if low <= value <= high else f"must lie in {low}..{high}, got {value}"


def one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    """A check: the value is one of ``choices``."""
    return lambda value: (None if value in choices
                          else f"must be one of {', '.join(choices)}, got {value!r}")


def _all_at_least_1(values: tuple[int, ...]) -> str | None:
    return None if all(v >= 1 for v in values) else f"must all be at least 1, got {values}"


def setting(env: str, parse: Callable[[str], Any], check: Callable[[Any], str | None] | None = None,
            *, default: Any = dataclasses.MISSING,
            default_factory: Any = dataclasses.MISSING) -> Any:
    """A field read from ``env`` by ``parse`` and refused unless ``check`` returns None."""
    return field(default=default, default_factory=default_factory,
                 metadata={"env": env, "parse": parse, "check": check})


@dataclass(frozen=True)
class ServerSettings:
    """Everything the app and gunicorn read; built by :func:`load_settings`, checked on creation."""

    # Where the trainer's models/<variant>/<version>/ folders are (plain, documented name).
    models_dir: Path = setting("MODELS_DIR", Path, default=Path("models"))
    # Flask rejects larger request bodies with 413 before reading them.
    max_content_length: int = setting("REGSERVE_MAX_CONTENT_LENGTH", _integer, at_least(1),
                                      default=10 * 1024 * 1024)
    # JSON bodies get a smaller limit (and a cap on their values), checked before parsing.
    max_json_length: int = setting("REGSERVE_MAX_JSON_LENGTH", _integer, at_least(1),
                                   default=DEFAULT_MAX_JSON_LENGTH)
    # Images with more pixels are refused from their header, before any pixel is decoded.
    max_image_pixels: int = setting("REGSERVE_MAX_IMAGE_PIXELS", _integer, at_least(1),
                                    default=DEFAULT_MAX_IMAGE_PIXELS)
    # A V2 request's images together may declare at most this many pixels (checked from their
    # headers before any decode), so a batch costs a worker no more than a few large images.
    max_batch_pixels: int = setting("REGSERVE_MAX_BATCH_PIXELS", _integer, at_least(1),
                                    default=DEFAULT_MAX_BATCH_PIXELS)
    # Seconds between scans of models_dir for new versions; 0 turns hot reload off.
    reload_interval: float = setting("REGSERVE_RELOAD_INTERVAL", float, at_least(0), default=5.0)
    top_k_default: int = setting("REGSERVE_TOP_K", _integer, between(1, NUM_CLASSES), default=3)
    # Micro-batching: concurrent predictions gathered for up to this long run as one batch.
    batch_window_ms: float = setting("REGSERVE_BATCH_WINDOW_MS", float, at_least(0), default=2.0)
    # Largest batch; 1 turns micro-batching off (each request calls the runtime itself).
    max_batch: int = setting("REGSERVE_MAX_BATCH", _integer, at_least(1), default=32)
    # Fused functions kept for variant subsets other than "all" and single variants.
    subset_cache: int = setting("REGSERVE_SUBSET_CACHE", _integer, at_least(1), default=16)
    # What runs the models: auto (ONNX Runtime where every version has its model.onnx twin and
    # onnxruntime is installed, else TensorFlow), onnx, or tensorflow (the SavedModels).
    runtime: str = setting("REGSERVE_RUNTIME", str.lower, one_of(RUNTIMES), default=AUTO)
    # ONNX Runtime's threads per session: 1 measured best (2 cost twice the CPU per image).
    ort_intra_op_threads: int = setting("REGSERVE_ORT_INTRA_OP_THREADS", _integer, at_least(1),
                                        default=1)
    # TensorFlow thread pools; 0 leaves TensorFlow's own choice in one process, and under
    # gunicorn shares the cores between workers (gunicorn.conf.py's post_fork).
    tf_intra_op_threads: int = setting("REGSERVE_TF_INTRA_OP_THREADS", _integer, at_least(0),
                                       default=0)
    tf_inter_op_threads: int = setting("REGSERVE_TF_INTER_OP_THREADS", _integer, at_least(0),
                                       default=0)
    # Warm every loaded model with these batch sizes so first requests are not slow.
    warmup_batch_sizes: tuple[int, ...] = setting("REGSERVE_WARMUP_BATCH_SIZES", _sizes,
                                                  _all_at_least_1, default=(1, 2, 4, 8, 16, 32))
    # Versions loaded per variant, as TF Serving's: latest, latest:N, all, specific:1,3.
    version_policy: VersionPolicy = setting("REGSERVE_VERSION_POLICY", parse_version_policy,
                                            default=LATEST)
    # Variants loaded: comma-separated names or globs (none,l1_kernel_bias_*); empty: every one.
    variants: tuple[str, ...] = setting("REGSERVE_VARIANTS", parse_variant_patterns,
                                        default=ALL_VARIANTS)
    # At most this many variants load (a sweep can put hundreds on disk); the rest are noted.
    max_variants: int = setting("REGSERVE_MAX_VARIANTS", _integer, at_least(1),
                                default=DEFAULT_MAX_VARIANTS)
    # gunicorn (read by gunicorn.conf.py): where to listen; BIND wins over PORT.
    bind: str = setting("BIND", str, default="")
    port: int = setting("PORT", _integer, between(1, 65535), default=8000)
    # Worker processes (each loads every model), default: the cores this process may use.
    workers: int = setting("WEB_CONCURRENCY", _integer, at_least(1), default_factory=cores)
    # gevent: every request a greenlet of one thread, batched when the event loop is idle (no
    # GIL waits, no hand-offs between threads); gthread: gunicorn's thread pool of `threads`.
    worker_class: str = setting("GUNICORN_WORKER_CLASS", str.lower, one_of(WORKER_CLASSES),
                                default="gevent")
    threads: int = setting("GUNICORN_THREADS", _integer, at_least(1), default=8)
    # On a TCP port, each worker listens on a socket of its own (SO_REUSEPORT) and the kernel
    # spreads connections over them; on one shared socket the least busy worker accepts them
    # all, and kept-alive connections stay there (16 of 16 on one worker, measured).
    reuse_port: bool = setting("GUNICORN_REUSE_PORT", _flag, default=True)
    # Loading and warming up eight models happens in the worker before its first heartbeat.
    timeout: int = setting("GUNICORN_TIMEOUT", _integer, at_least(1), default=120)
    log_level: str = setting("LOG_LEVEL", str, default="info")
    # "-" for stdout, a path, or None for no access log.
    access_log: str | None = setting("ACCESS_LOG", _optional, default=None)

    def __post_init__(self) -> None:
        # Accept a str folder and any sequence of sizes; refuse every value the server cannot use.
        object.__setattr__(self, "models_dir", Path(self.models_dir))
        object.__setattr__(self, "warmup_batch_sizes", tuple(self.warmup_batch_sizes))
        for spec in dataclasses.fields(self):
            check = spec.metadata["check"]
            problem = check(getattr(self, spec.name)) if check else None
            if problem:
                raise ConfigError(f"{spec.name} ({spec.metadata['env']}) {problem}")

    @property
    def bind_address(self) -> str:
        """gunicorn's listening address: BIND, else all interfaces on PORT."""
        return self.bind or f"0.0.0.0:{self.port}"


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerSettings:
    """Defaults, then the environment (``os.environ`` unless given), then ``overrides``."""
    environ = os.environ if environ is None else environ
    specs = {spec.name: spec for spec in dataclasses.fields(ServerSettings)}
    unknown = sorted(set(overrides) - set(specs))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(specs)}")
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        text = environ.get(spec.metadata["env"], "").strip()
        if text:
            values[name] = _parse(spec, text)
    for name, value in overrides.items():
        values[name] = _parse(specs[name], value.strip()) if isinstance(value, str) else value
    return ServerSettings(**values)


def _parse(spec: dataclasses.Field, text: str) -> Any:
    try:
        return spec.metadata["parse"](text)
    except ValueError:
        raise ConfigError(f"{spec.metadata['env']}={text!r} is not a valid {spec.name}") from None


def settings_to_serve(models_dir: Path | None, modules: tuple[str, ...], extra: str,
                      purpose: str) -> ServerSettings:
    """The settings a server command starts with, once its extra is installed and the models
    folder exists; :class:`ConfigError` says in one line what is missing and how to get it."""
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not installed; {purpose} needs the {extra} "
                          f"extra: pip install 'regserve[{extra}]'")
    settings = load_settings(**({"models_dir": models_dir} if models_dir is not None else {}))
    if not settings.models_dir.is_dir():
        raise ConfigError(f"models folder {settings.models_dir} does not exist; train first "
                          "with `python -m trainer --all`, or pass --models")
    return settings

