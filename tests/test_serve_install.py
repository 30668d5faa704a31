"""`pip install 'regserve[serve]'` serves without TensorFlow: in a fresh venv holding that install
alone, ``import tensorflow`` fails and the server answers /predict on models trained elsewhere.

The venv's dependencies are resolved by pip from the package index once and kept under the
system's temp folder, keyed by the requirements that decide them (the base dependencies, the
serve extra, the Python version); each run installs the freshly built wheel into it and checks
its requirements with ``pip check``. Without an index (no network), the test skips and says so.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pytest
import requests

from benchmarks.drawing import draw, encode
from regserve_contracts.variants import VARIANT_NAMES
from server.launcher import start
from tests.support import REPO_ROOT
from tests.support.wheel import build_wheel

pytestmark = pytest.mark.slow
EXTRA = "serve"


def requirements() -> list[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"][EXTRA]]


def pip(python: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH",)}
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def build_venv(target: Path, wheel: Path) -> None:
    """A new venv with the wheel and its serve extra, every dependency resolved by pip."""
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=120)
    python = target / "bin" / "python"
    done = pip(python, "install", "--quiet", f"{wheel}[{EXTRA}]")
    if done.returncode != 0:
        probe = pip(python, "download", "--no-deps", "--quiet", "--dest", str(target / "probe"),
                    "flask", timeout=120)
        if probe.returncode != 0:
            pytest.skip(f"the package index is not reachable: {probe.stderr.strip()[-200:]}")
        pytest.fail(f"pip install '.[{EXTRA}]' failed:\n{done.stderr[-3000:]}")
    shutil.rmtree(target / "probe", ignore_errors=True)


@pytest.fixture(scope="module")
def serve_venv(tmp_path_factory) -> Path:
    """The cached venv, with this checkout's wheel installed in it now."""
    key = hashlib.sha256(json.dumps([sys.version_info[:2], requirements()]).encode())
    venv = Path(tempfile.gettempdir()) / f"regserve-serve-venv-{key.hexdigest()[:12]}"
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    # A venv cannot be moved (its scripts name its path): build in place, one session at a time.
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            began = time.monotonic()
            shutil.rmtree(venv, ignore_errors=True)  # a build that was interrupted
            build_venv(venv, wheel)
            (venv / ".complete").write_text(f"{time.monotonic() - began:.0f} s\n")
    python = venv / "bin" / "python"
    # The same requirements as the cached install: the wheel's own files are all that changed.
    done = pip(python, "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel))
    assert done.returncode == 0, done.stderr
    check = pip(python, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    print(f"\nserve venv {venv}: built in {(venv / '.complete').read_text().strip()}, "
          f"{size_mb(venv):.0f} MB")
    return venv


def size_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()
               and not path.is_symlink()) / 2**20


def run_in(venv: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([str(venv / "bin" / "python"), "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_serve_install_has_no_tensorflow(serve_venv, tmp_path):
    result = run_in(serve_venv, "import tensorflow", tmp_path)
    assert result.returncode != 0 and "No module named 'tensorflow'" in result.stderr
    where = run_in(serve_venv, "import server, onnxruntime; print(server.__file__)", tmp_path)
    assert where.returncode == 0 and where.stdout.startswith(str(serve_venv)), where.stderr


def test_the_serve_install_answers_predict_on_models_trained_elsewhere(serve_venv, models_dir,
                                                                       tmp_path):
    """regserve-server from the venv (gunicorn, one worker) on the session's models: ready on
    ONNX Runtime, every variant answers, and no process of it maps a TensorFlow library."""
    script = serve_venv / "bin" / "regserve-server"
    server = start(tmp_path / "server.log", models_dir=models_dir, cwd=tmp_path,
                   env={"PYTHONPATH": str(tmp_path)},
                   command=lambda bind: [str(script), "--bind", bind, "--workers", "1"])
    try:
        assert requests.get(f"{server.url}/readyz", timeout=30).json()["runtime"] == "onnx"
        answer = requests.post(f"{server.url}/predict", data=encode(draw("A")), timeout=60,
                               headers={"Content-Type": "image/png"})
        assert answer.status_code == 200, answer.text[:300]
        assert list(answer.json()["variants"]) == list(VARIANT_NAMES)
        for pid in [server.pid, *server.worker_pids()]:
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert str(serve_venv) in maps or pid == server.pid
            assert "tensorflow" not in maps
        print(f"ready in {server.ready_seconds:.1f} s")
    finally:
        server.stop()
    assert "Traceback" not in server.log()
