"""Typed server settings: defaults, the environment, overrides, one clear error per bad value."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from server.launcher import gunicorn_command
from server.runtime.selection import VersionPolicy
from server.settings import (
    DEFAULT_MAX_IMAGE_PIXELS,
    ConfigError,
    ServerSettings,
    cores,
    load_settings,
)
from tests.support import REPO_ROOT as REPO

#: Every environment variable the docs name, with a value and the field it must set.
ENVIRONMENT = {
    "MODELS_DIR": ("/srv/models", "models_dir", Path("/srv/models")),
    "REGSERVE_MAX_CONTENT_LENGTH": ("2048", "max_content_length", 2048),
    "REGSERVE_MAX_JSON_LENGTH": ("4096", "max_json_length", 4096),
    "REGSERVE_MAX_IMAGE_PIXELS": ("1e6", "max_image_pixels", 1_000_000),
    "REGSERVE_MAX_BATCH_PIXELS": ("2e7", "max_batch_pixels", 20_000_000),
    "REGSERVE_RELOAD_INTERVAL": ("0.5", "reload_interval", 0.5),
    "REGSERVE_TOP_K": ("5", "top_k_default", 5),
    "REGSERVE_BATCH_WINDOW_MS": ("0", "batch_window_ms", 0.0),
    "REGSERVE_MAX_BATCH": ("1", "max_batch", 1),
    "REGSERVE_SUBSET_CACHE": ("4", "subset_cache", 4),
    "REGSERVE_TF_INTRA_OP_THREADS": ("3", "tf_intra_op_threads", 3),
    "REGSERVE_TF_INTER_OP_THREADS": ("2", "tf_inter_op_threads", 2),
    "REGSERVE_WARMUP_BATCH_SIZES": ("1, 8,16", "warmup_batch_sizes", (1, 8, 16)),
    "BIND": ("127.0.0.1:9000", "bind", "127.0.0.1:9000"),
    "PORT": ("9001", "port", 9001),
    "WEB_CONCURRENCY": ("3", "workers", 3),
    "GUNICORN_WORKER_CLASS": ("GThread", "worker_class", "gthread"),
    "GUNICORN_THREADS": ("4", "threads", 4),
    "GUNICORN_REUSE_PORT": ("off", "reuse_port", False),
    "GUNICORN_TIMEOUT": ("30", "timeout", 30),
    "LOG_LEVEL": ("debug", "log_level", "debug"),
    "ACCESS_LOG": ("-", "access_log", "-"),
    "REGSERVE_VERSION_POLICY": ("latest:2", "version_policy", VersionPolicy("latest", 2)),
    "REGSERVE_VARIANTS": ("none, l1_*", "variants", ("none", "l1_*")),
    "REGSERVE_MAX_VARIANTS": ("8", "max_variants", 8),
    "REGSERVE_RUNTIME": ("TensorFlow", "runtime", "tensorflow"),
    "REGSERVE_ORT_INTRA_OP_THREADS": ("2", "ort_intra_op_threads", 2),
}


def test_defaults_are_the_documented_ones():
    settings = load_settings({})
    assert settings == ServerSettings()
    assert settings.models_dir == Path("models")
    assert settings.max_content_length == 10 * 1024 * 1024
    assert settings.max_image_pixels == DEFAULT_MAX_IMAGE_PIXELS
    assert settings.max_batch_pixels == 4 * 2048 * 2048
    assert (settings.reload_interval, settings.top_k_default) == (5.0, 3)
    assert (settings.batch_window_ms, settings.max_batch, settings.subset_cache) == (2.0, 32, 16)
    assert (settings.tf_intra_op_threads, settings.tf_inter_op_threads) == (0, 0)
    assert (settings.runtime, settings.ort_intra_op_threads) == ("auto", 1)
    assert settings.warmup_batch_sizes == (1, 2, 4, 8, 16, 32)
    assert settings.bind_address == "0.0.0.0:8000"
    assert (settings.workers, settings.threads, settings.timeout) == (cores(), 8, 120)
    assert (settings.log_level, settings.access_log) == ("info", None)


@pytest.mark.parametrize("variable", ENVIRONMENT)
def test_each_environment_variable_sets_its_field(variable):
    text, field, expected = ENVIRONMENT[variable]
    settings = load_settings({variable: text})
    assert getattr(settings, field) == expected
    others = {f.name for f in dataclasses.fields(ServerSettings)} - {field}
    assert all(getattr(settings, name) == getattr(ServerSettings(), name) for name in others)


def test_every_field_has_a_documented_environment_variable():
    """Every setting is named in the user's docs: the README or a page under docs/."""
    docs = "\n".join(path.read_text() for path in [REPO / "README.md",
                                                   *sorted((REPO / "docs").glob("*.md"))])
    variables = {f.metadata["env"] for f in dataclasses.fields(ServerSettings)}
    assert variables == set(ENVIRONMENT)
    assert [v for v in sorted(variables) if f"`{v}`" not in docs] == []


def test_bind_wins_over_port_and_blank_values_keep_the_default():
    assert load_settings({"PORT": "9001"}).bind_address == "0.0.0.0:9001"
    assert load_settings({"PORT": "9001", "BIND": "127.0.0.1:7"}).bind_address == "127.0.0.1:7"
    assert load_settings({"REGSERVE_MAX_BATCH": "  ", "ACCESS_LOG": ""}) == ServerSettings()


def test_overrides_win_over_the_environment_and_are_checked_too():
    environ = {"REGSERVE_MAX_BATCH": "8", "MODELS_DIR": "/env"}
    settings = load_settings(environ, max_batch=4, models_dir="/given", reload_interval="0")
    assert (settings.max_batch, settings.models_dir, settings.reload_interval) == (
        4, Path("/given"), 0.0)
    with pytest.raises(ConfigError, match=r"^max_batch \(REGSERVE_MAX_BATCH\) must be at least 1"):
        load_settings(environ, max_batch=0)
    with pytest.raises(ConfigError, match="unknown setting.*max_bach"):
        load_settings(environ, max_bach=4)


def test_settings_are_frozen_and_replace_rechecks():
    settings = ServerSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_batch = 2  # type: ignore[misc]
    with pytest.raises(ConfigError, match="top_k_default"):
        dataclasses.replace(settings, top_k_default=0)


@pytest.mark.parametrize("variable, text, message", [
    ("REGSERVE_MAX_BATCH", "0", r"max_batch \(REGSERVE_MAX_BATCH\) must be at least 1, got 0"),
    ("REGSERVE_MAX_BATCH", "many", r"REGSERVE_MAX_BATCH='many' is not a valid max_batch"),
    ("REGSERVE_MAX_BATCH", "2.5", r"REGSERVE_MAX_BATCH='2.5' is not a valid max_batch"),
    ("REGSERVE_MAX_CONTENT_LENGTH", "0", r"max_content_length .* must be at least 1"),
    ("REGSERVE_MAX_IMAGE_PIXELS", "-5", r"max_image_pixels .* must be at least 1"),
    ("REGSERVE_RELOAD_INTERVAL", "-1", r"reload_interval .* must be at least 0, got -1"),
    ("REGSERVE_RELOAD_INTERVAL", "soon", r"REGSERVE_RELOAD_INTERVAL='soon' is not a valid"),
    ("REGSERVE_TOP_K", "48", r"top_k_default \(REGSERVE_TOP_K\) must lie in 1\.\.47, got 48"),
    ("REGSERVE_BATCH_WINDOW_MS", "-0.1", r"batch_window_ms .* must be at least 0"),
    ("REGSERVE_SUBSET_CACHE", "0", r"subset_cache .* must be at least 1"),
    ("REGSERVE_TF_INTRA_OP_THREADS", "-1", r"tf_intra_op_threads .* must be at least 0"),
    ("REGSERVE_TF_INTER_OP_THREADS", "x", r"REGSERVE_TF_INTER_OP_THREADS='x' is not a valid"),
    ("REGSERVE_RUNTIME", "fast", r"runtime \(REGSERVE_RUNTIME\) must be one of auto, onnx, "
                                 r"tensorflow, got 'fast'"),
    ("REGSERVE_ORT_INTRA_OP_THREADS", "0", r"ort_intra_op_threads .* must be at least 1"),
    ("REGSERVE_WARMUP_BATCH_SIZES", "1,0", r"warmup_batch_sizes .* must all be at least 1"),
    ("REGSERVE_WARMUP_BATCH_SIZES", "1,a", r"REGSERVE_WARMUP_BATCH_SIZES='1,a' is not a valid"),
    ("PORT", "70000", r"port \(PORT\) must lie in 1\.\.65535, got 70000"),
    ("WEB_CONCURRENCY", "0", r"workers \(WEB_CONCURRENCY\) must be at least 1, got 0"),
    ("GUNICORN_WORKER_CLASS", "sync", r"worker_class \(GUNICORN_WORKER_CLASS\) must be one of "
                                      r"gevent, gthread, got 'sync'"),
    ("GUNICORN_THREADS", "0", r"threads \(GUNICORN_THREADS\) must be at least 1"),
    ("GUNICORN_TIMEOUT", "-3", r"timeout \(GUNICORN_TIMEOUT\) must be at least 1"),
    ("GUNICORN_REUSE_PORT", "maybe", r"GUNICORN_REUSE_PORT='maybe' is not a valid reuse_port"),
])
def test_a_bad_value_is_one_clear_error_naming_the_variable(variable, text, message):
    with pytest.raises(ConfigError, match=f"^{message}") as caught:
        load_settings({variable: text})
    assert "\n" not in str(caught.value)


def test_gunicorn_refuses_a_bad_setting_with_one_line_and_no_traceback(tmp_path):
    """gunicorn.conf.py builds the settings, so a bad value stops the master before any fork."""
    env = {"PATH": "/usr/bin:/bin", "REGSERVE_TOP_K": "0", "PYTHONPATH": str(REPO)}
    command = gunicorn_command("127.0.0.1:8000")
    done = subprocess.run(
        [*command[:-1], "--check-config", command[-1]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "top_k_default (REGSERVE_TOP_K) must lie in 1..47, got 0" in done.stderr + done.stdout


def test_the_app_keeps_its_settings_once_and_uses_them(tmp_path):
    from server import create_app
    from server.state import EXTENSION

    app = create_app(models_dir=tmp_path, reload_interval=0, max_content_length=1234)
    settings = app.extensions[EXTENSION].settings
    assert settings.models_dir == tmp_path and settings.max_content_length == 1234
    assert app.config["MAX_CONTENT_LENGTH"] == 1234  # what Flask itself enforces
    given = ServerSettings(models_dir=tmp_path, reload_interval=0, max_batch=2)
    assert create_app(given).extensions[EXTENSION].settings is given
