"""The README is a user's guide: short, the first screen shows the page and one real request,
and neither it nor the chapters under docs/ carry notes about how the project was made."""

from __future__ import annotations

import json
import re

import pytest

from tests.support import REPO_ROOT as REPO

README = REPO / "README.md"
#: The chapters moved out of the README, written for users like it.
CHAPTERS = ["experiment", "page", "api", "serving", "performance", "reliability",
            "beyond-one-machine", "development"]
#: What a user's doc must not say: issue numbers, commit ids, how the work was organised, and
#: "the seed" as a name for the original experiment (the random seed is "the random seed").
INTERNAL = {
    "an issue number": re.compile(r"\bissues?\s*#?\d+|\(\d{1,3}\)|#\d{1,4}\b", re.IGNORECASE),
    "a commit id": re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b"),
    "a session": re.compile(r"\bsessions?\b", re.IGNORECASE),
    "a worktree": re.compile(r"\bworktrees?\b", re.IGNORECASE),
    "a helper": re.compile(r"\bhelpers?\b", re.IGNORECASE),
    "the seed": re.compile(r"\bthe seed\b(?!\s*\d)", re.IGNORECASE),
}


def text_of(name: str) -> str:
    return (REPO / "docs" / f"{name}.md").read_text() if name != "README" else README.read_text()


def test_the_readme_is_at_most_200_lines():
    assert len(README.read_text().splitlines()) <= 200


@pytest.mark.parametrize("name", ["README", *CHAPTERS])
def test_no_internal_references(name):
    text = text_of(name)
    found = {what: pattern.findall(text) for what, pattern in INTERNAL.items()}
    assert {what: hits for what, hits in found.items() if hits} == {}


def test_the_internal_reference_check_catches_what_it_is_for():
    """The control: each pattern fires on the kind of line the README once had."""
    lines = {"an issue number": "Against the issue's targets (13), same run",
             "a commit id": "the session-start commit 44727ba in a git worktree",
             "a session": "the session-start commit",
             "a worktree": "in a git worktree against main",
             "a helper": "a helper wrote this",
             "the seed": "the seed's published EMNIST numbers"}
    for what, line in lines.items():
        assert INTERNAL[what].search(line), what
    assert not INTERNAL["the seed"].search("random seed 42; the seed 1 run")
    assert not INTERNAL["a commit id"].search("10,485,760 bytes or 1234567 or deadbee")


def test_the_first_screen_has_the_screenshot_and_a_request_that_can_be_pasted():
    lines = README.read_text().splitlines()
    first = "\n".join(lines[:45])
    assert "![" in first and "(docs/page.png)" in first
    assert (REPO / "docs" / "page.png").is_file()
    curl = re.search(r"curl .*-d @(docs/\S+\.json)", first)
    assert curl, "no curl with a file the reader has"
    example = json.loads((REPO / curl.group(1)).read_text())
    assert len(example["pixels"]) == 28 and {len(row) for row in example["pixels"]} == {28}
    assert '"variants"' in first and '"agreement"' in first  # its answer, shown


def test_the_readme_names_the_two_commands_and_links_only_files_that_exist():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    for target in re.findall(r"\]\(((?:docs/)?[\w./-]+\.(?:md|png))(?:#[\w-]+)?\)", text):
        assert (REPO / target).is_file(), target
    for chapter in CHAPTERS:
        assert f"(docs/{chapter}.md)" in text, chapter
