"""The project's wheel, built from a copy of its sources, for the tests that install it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support import REPO_ROOT


def build_wheel(target: Path) -> Path:
    """The project's wheel, built offline from a copy of its sources (the checkout stays clean)."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    source = target / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        shutil.copytree(REPO_ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "--quiet", "-w", str(target / "wheels"), str(source)],
                   check=True, capture_output=True, timeout=120)
    (wheel,) = (target / "wheels").glob("regserve-*.whl")
    return wheel
