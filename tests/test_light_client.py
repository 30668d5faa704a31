"""`pip install regserve` is the light client: its wheel installs and runs with requests, Pillow
and numpy alone, against the real server, in a venv where TensorFlow and Flask do not exist."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.drawing import draw, encode
from regserve_contracts.variants import VARIANT_NAMES
from server.launcher import PROJECT_ROOT as REPO_ROOT
from tests.support.wheel import build_wheel

pytestmark = pytest.mark.slow
#: The client's dependencies and theirs: all a light install may hold.
CLIENT_DISTRIBUTIONS = ("requests", "urllib3", "idna", "certifi", "charset-normalizer", "pillow",
                        "numpy")
HEAVY = ("tensorflow", "keras", "flask", "scipy", "matplotlib", "gunicorn")


def light_venv(target: Path) -> Path:
    """A fresh venv holding only the client's dependencies, linked from this environment.

    No network at test time: the same installed files, dist-info included, so pip sees them as
    installed, and nothing else (no TensorFlow, Flask, ...) is importable there.
    """
    venv = target / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    (site,) = venv.glob("lib/python*/site-packages")
    for name in CLIENT_DISTRIBUTIONS:
        dist = importlib.metadata.distribution(name)
        for top in {Path(str(path)).parts[0] for path in dist.files or []} - {".."}:
            source = Path(dist.locate_file(top))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel installed into the light venv by pip, with no index: a dependency beyond the
    client's would have to be downloaded, and the install would fail."""
    target = tmp_path_factory.mktemp("light")
    wheel, venv = build_wheel(target), light_venv(target)
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                             "install", "--no-index", "--no-cache-dir", "--quiet", str(wheel)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return venv


def run_in(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "REGSERVE_SERVER", "VIRTUAL_ENV")}
    return subprocess.run([str(venv / "bin" / "python"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_light_venv_has_no_tensorflow_flask_or_scipy(installed, tmp_path):
    code = ("import importlib.util, client; "
            f"print(client.__file__); print([m for m in {HEAVY!r} if importlib.util.find_spec(m)])")
    result = run_in(installed, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    location, heavy = result.stdout.splitlines()
    assert location.startswith(str(installed)) and heavy == "[]"


def test_the_installed_client_classifies_an_image_with_the_real_server(installed, live_server,
                                                                        tmp_path):
    image = tmp_path / "letter.png"
    image.write_bytes(encode(draw("A")))
    result = run_in(installed, "-m", "client", str(image), "--server", live_server.url,
                    cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in VARIANT_NAMES)
    script = run_in(installed, str(installed / "bin" / "regserve-client"), "--help", cwd=tmp_path)
    assert script.returncode == 0 and "IMAGE" in script.stdout


@pytest.mark.parametrize("command, extra", [
    (["regserve-server", "--port", "1"], "serve"),
    (["regserve-train", "--all", "--data", "synthetic", "--epochs", "1", "--limit", "47"], "train"),
])
def test_the_heavy_commands_name_their_extra_in_one_line(installed, tmp_path, command, extra):
    """In a client-only install, the server and trainer commands say which extra to install."""
    script, *args = command
    result = run_in(installed, str(installed / "bin" / script), *args, "--models-dir"
                    if extra == "train" else "--models", str(tmp_path), cwd=tmp_path)
    assert result.returncode == (2 if extra == "serve" else 1)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # no traceback
    assert f"pip install 'regserve[{extra}]'" in result.stderr


def test_the_client_and_the_image_contracts_import_nothing_heavy():
    """In this full environment too: importing the client pulls in none of the heavy packages."""
    modules = ["client.__main__", "client.api", "client.cli", "client.render",
               "regserve_contracts.decoding", "regserve_contracts.emnist_form",
               "regserve_contracts.signature"]
    code = ("import sys\n"
            f"for name in {modules!r}: __import__(name)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]"
