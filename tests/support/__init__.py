"""Helpers the tests share (never fixtures: those live in tests/conftest.py)."""

from __future__ import annotations

from benchmarks.report import SHARED_SAMPLE  # noqa: F401 (the tests' name for it)
from server.launcher import PROJECT_ROOT as REPO_ROOT

#: Why a test that needs real EMNIST skipped, and how to get equivalent data.
NO_SAMPLE = (f"no sample of real EMNIST at {SHARED_SAMPLE}: make one from the public EMNIST "
             "download (docs/development.md, 'Real EMNIST for the tests') and set "
             "REGSERVE_SHARED_SAMPLE to its path")

#: Figures the slow tests write (git-ignored).
ARTIFACTS = REPO_ROOT / "artifacts"
