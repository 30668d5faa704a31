"""docs/api.md names every value the server accepts where it lists them."""

from __future__ import annotations

import re

from server.views.insight import INCLUDE_OPTIONS
from tests.support import REPO_ROOT

API = REPO_ROOT / "docs" / "api.md"


def test_every_include_value_is_listed_in_the_api_chapter():
    """Each ``?include=`` value the server takes has a bullet of its own in docs/api.md."""
    listed = set(re.findall(r"^\s+- `(\w+)`:", API.read_text(), flags=re.MULTILINE))
    assert set(INCLUDE_OPTIONS) <= listed, sorted(set(INCLUDE_OPTIONS) - listed)
