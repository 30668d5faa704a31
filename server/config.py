"""The server's settings: defaults, then the environment, then the dict given to create_app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from regserve_contracts.labels import NUM_CLASSES
from server.limits import DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_JSON_LENGTH

#: Every setting, its default, and the environment variable that overrides it.
DEFAULTS: dict[str, Any] = {
    # Where the trainer's models/<variant>/<version>/ folders are.
    "MODELS_DIR": "models",
    # Flask rejects larger request bodies with 413 before reading them.
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    # JSON bodies (28x28 pixels, or a base64 image) get a smaller limit, checked before parsing.
    "MAX_JSON_LENGTH": DEFAULT_MAX_JSON_LENGTH,
    # Images with more pixels are refused from their header, before any pixel is decoded;
    # the default (2048x2048) is chosen from measurement: see server/limits.py.
    "MAX_IMAGE_PIXELS": DEFAULT_MAX_IMAGE_PIXELS,
    # Seconds between scans of MODELS_DIR for new versions; 0 turns hot reload off.
    "RELOAD_INTERVAL": 5.0,
    "TOP_K_DEFAULT": 3,
    # Micro-batching: concurrent predictions gathered for up to this long run as one batch.
    "BATCH_WINDOW_MS": 2.0,
    # Largest batch; 1 turns micro-batching off (each request calls TensorFlow itself).
    "MAX_BATCH": 32,
    # Fused functions kept for variant subsets other than "all" and single variants.
    "SUBSET_CACHE": 16,
    # TensorFlow thread pools; 0 leaves TensorFlow's own choice (all cores).
    "TF_INTRA_OP_THREADS": 0,
    "TF_INTER_OP_THREADS": 0,
    # Warm every loaded model with these batch sizes so first requests are not slow.
    "WARMUP_BATCH_SIZES": (1, 2, 4, 8, 16, 32),
}

#: Environment variable for each setting (MODELS_DIR keeps its plain, documented name).
ENVIRONMENT: dict[str, str] = {
    "MODELS_DIR": "MODELS_DIR",
    "MAX_CONTENT_LENGTH": "REGSERVE_MAX_CONTENT_LENGTH",
    "MAX_JSON_LENGTH": "REGSERVE_MAX_JSON_LENGTH",
    "MAX_IMAGE_PIXELS": "REGSERVE_MAX_IMAGE_PIXELS",
    "RELOAD_INTERVAL": "REGSERVE_RELOAD_INTERVAL",
    "TOP_K_DEFAULT": "REGSERVE_TOP_K",
    "BATCH_WINDOW_MS": "REGSERVE_BATCH_WINDOW_MS",
    "MAX_BATCH": "REGSERVE_MAX_BATCH",
    "SUBSET_CACHE": "REGSERVE_SUBSET_CACHE",
    "TF_INTRA_OP_THREADS": "REGSERVE_TF_INTRA_OP_THREADS",
    "TF_INTER_OP_THREADS": "REGSERVE_TF_INTER_OP_THREADS",
    "WARMUP_BATCH_SIZES": "REGSERVE_WARMUP_BATCH_SIZES",
}


class ConfigError(ValueError):
    """A setting has a value the server cannot use; the message names the setting."""


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Defaults, then environment variables, then ``overrides``; every value checked."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for key, variable in ENVIRONMENT.items():
        if environ.get(variable, "").strip():
            settings[key] = _parse(key, environ[variable].strip())
    settings.update(overrides or {})
    _check(settings)
    return settings


def _parse(key: str, text: str) -> Any:
    default = DEFAULTS[key]
    try:
        if isinstance(default, tuple):
            return tuple(int(part) for part in text.replace(",", " ").split())
        if isinstance(default, str):
            return text
        return type(default)(float(text)) if isinstance(default, int) else float(text)
    except ValueError:
        raise ConfigError(f"{ENVIRONMENT[key]}={text!r} is not a valid {key}") from None


def _check(settings: dict[str, Any]) -> None:
    positive = ("MAX_CONTENT_LENGTH", "MAX_JSON_LENGTH", "MAX_IMAGE_PIXELS", "MAX_BATCH",
                "SUBSET_CACHE")
    for key in positive:
        if int(settings[key]) < 1:
            raise ConfigError(f"{key} must be at least 1, got {settings[key]}")
    for key in ("RELOAD_INTERVAL", "BATCH_WINDOW_MS", "TF_INTRA_OP_THREADS", "TF_INTER_OP_THREADS"):
        if float(settings[key]) < 0:
            raise ConfigError(f"{key} must not be negative, got {settings[key]}")
    if not 1 <= int(settings["TOP_K_DEFAULT"]) <= NUM_CLASSES:
        raise ConfigError(
            f"TOP_K_DEFAULT must lie in 1..{NUM_CLASSES}, got {settings['TOP_K_DEFAULT']}"
        )
