"""The comparison's readers: comparison.md/.csv/.png, the CLI summary and the one parse function
all say the verdicts in the same words."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO

import pytest

from analysis.comparison import build_comparison
from analysis.comparison.figure import comparison_figure
from analysis.comparison.report import COMPARISON_CSV, COMPARISON_MD, COMPARISON_PNG
from regserve_contracts import comparison as contract
from regserve_contracts import layout
from tests.test_comparison import export, right_on, seeds
from trainer.__main__ import parse_options
from trainer.cli import run


@pytest.fixture
def three_seeds(tmp_path):
    """none and l2_activity with 3 seeds each, l2_activity right on 54-70 images fewer per seed,
    and a lone l1_kernel_bias trained once."""
    seeds(tmp_path, "none", [right_on(160), right_on(158), right_on(166)])
    seeds(tmp_path, "l2_activity", [right_on(100), right_on(104), right_on(96)])
    export(tmp_path, "l1_kernel_bias", 1, right_on(150))
    return tmp_path


def test_report_flag_writes_the_four_files_and_prints_the_verdicts(three_seeds):
    out, err = StringIO(), StringIO()
    options = parse_options(["--report", "--models-dir", str(three_seeds)])
    assert run(options, out, err) == 0, err.getvalue()
    reports = three_seeds / layout.REPORTS_DIR
    document = json.loads((reports / layout.COMPARISON_FILE).read_text())
    assert document["schema_version"] == 2 and document["variants"]["l2_activity"]["verdict"] \
        == "worse"
    rows = {r["variant"]: r for r in csv.DictReader(io.StringIO(
        (reports / COMPARISON_CSV).read_text()))}
    assert (rows["l2_activity"]["verdict"], rows["l2_activity"]["verdict_text"]) == (
        "worse", "worse than none (over 3 seeds)")
    assert rows["l1_kernel_bias"]["verdict"] == "needs seeds"
    assert rows["none"]["models"] == "none (3 seeds: v1, v2, v3)"
    text = (reports / COMPARISON_MD).read_text()
    assert "| worse than none (over 3 seeds) |" in text
    assert "needs seeds: 1 seed matched with none" in text
    assert "about the trained models l1_kernel_bias@1 and none@1 only" in text.lower()
    assert (reports / COMPARISON_PNG).is_file()
    printed = out.getvalue()
    assert "l2_activity (3 seeds: v1, v2, v3): worse than none (over 3 seeds), -30.7 points" \
        in printed
    assert "l1_kernel_bias@1: needs seeds" in printed


def test_the_chart_draws_each_difference_and_interval_in_its_verdicts_colour(three_seeds):
    document = build_comparison(three_seeds)
    axes = comparison_figure(document).axes[0]
    drawn = {}
    for line in axes.get_lines():  # the dot first; an error bar's caps carry its gid too
        if line.get_gid():
            drawn.setdefault(line.get_gid(), line)
    assert set(drawn) == {"l2_activity", "l1_kernel_bias"}
    row = document["variants"]["l2_activity"]
    x, _ = drawn["l2_activity"].get_data()
    assert x[0] == pytest.approx(100 * (-60 - 54 - 70) / 3 / 200)
    bars = [c for c in axes.containers if c.lines[0].get_gid() == "l2_activity"][0]
    (segments,) = [s.get_segments() for s in bars.lines[2]]
    assert [point[0] for point in segments[0]] == pytest.approx(
        [100 * value for value in row["diff_ci95"]])
    assert drawn["l2_activity"].get_color() == "#D55E00"  # worse: Okabe-Ito vermilion
    assert drawn["l1_kernel_bias"].get_markerfacecolor() == "white"  # one pair: no interval
    labels = [label.get_text() for label in axes.get_yticklabels()]  # bottom to top
    assert labels[0] == "l2_activity (3 seeds: v1, v2, v3)\nworse than none (over 3 seeds)"
    assert labels[1].startswith("l1_kernel_bias@1\nneeds seeds: 1 seed matched")


def test_every_built_document_parses_and_a_wrong_one_is_named():
    document = json.loads(json.dumps(build_comparison_of_nothing()))
    assert contract.parse_comparison(document) == document
    broken = [({"variants": {}}, "schema_version is None, this reader needs 2"),
              ([], "a comparison is a JSON object, not list"),
              ({**document, "schema_version": 1}, "schema_version is 1"),
              ({**document, "comparisons": {}}, "'comparisons' must be a list"),
              ({**document, "variants": {"none": {"verdict": "better"}}},
               "variants.none lacks model, label")]
    for data, message in broken:
        with pytest.raises(contract.ComparisonError, match=message):
            contract.parse_comparison(data)
    row = {key: None for key in contract.ROW_KEYS} | {"verdict": "no detectable difference"}
    with pytest.raises(contract.ComparisonError, match="'no detectable difference', not one"):
        contract.parse_comparison({**document, "variants": {"a": row}})


def test_a_margin_that_is_not_a_share_is_refused_by_name(three_seeds):
    with pytest.raises(ValueError, match="margin is a share between 0 and 1, got 1.5"):
        build_comparison(three_seeds, margin=1.5)


def test_with_no_comparison_of_three_seeds_the_rule_says_none_is_tested_yet(tmp_path):
    export(tmp_path, "none", 1, right_on(100))
    export(tmp_path, "good", 1, right_on(160))
    assert "Holm-adjusted over the comparisons with the baseline that have at least 3 seed " \
        "pairs (none yet)" in build_comparison(tmp_path)["rule"]


def build_comparison_of_nothing() -> dict:
    from analysis.comparison.document import comparison_document

    return comparison_document([], [], "none")
