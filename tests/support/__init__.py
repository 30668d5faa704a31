"""Helpers the tests share (never fixtures: those live in tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The shared sample of real EMNIST, beside the checkout (absent in some checkouts);
#: REGSERVE_SHARED_SAMPLE names it where the checkout is elsewhere (a git worktree).
SHARED_SAMPLE = Path(os.environ.get("REGSERVE_SHARED_SAMPLE") or REPO_ROOT.parent / "shared"
                     / "data" / "emnist_balanced_sample.npz")
#: Figures the slow tests write (git-ignored).
ARTIFACTS = REPO_ROOT / "artifacts"
