"""Helpers the tests share (never fixtures: those live in tests/conftest.py)."""

from __future__ import annotations

from benchmarks.report import SHARED_SAMPLE  # noqa: F401 (the tests' name for it)
from server.launcher import PROJECT_ROOT as REPO_ROOT

#: Figures the slow tests write (git-ignored).
ARTIFACTS = REPO_ROOT / "artifacts"
