"""GET /comparison and the comparison row in /variants/<name>: the trainer's report, as written."""

from __future__ import annotations

import json

import pytest

from analysis.comparison import build_comparison
from regserve_contracts import layout
from tests.support.api import override_settings


@pytest.fixture(scope="module")
def document(models_dir) -> dict:
    """The comparison of the session's models, as the trainer builds it."""
    return build_comparison(models_dir)


def serve(monkeypatch, app, tmp_path, content) -> None:
    """Make ``app`` read its reports from ``tmp_path``, holding ``content`` as comparison.json."""
    reports = tmp_path / layout.REPORTS_DIR
    reports.mkdir()
    text = content if isinstance(content, str) else json.dumps(content)
    (reports / layout.COMPARISON_FILE).write_text(text)
    override_settings(monkeypatch, app, models_dir=tmp_path)


def test_no_report_is_a_404_saying_how_to_make_one(client):
    answer = client.get("/comparison")
    assert answer.status_code == 404
    body = answer.get_json()
    assert body["error"] == "no_comparison" and "python -m trainer --report" in body["detail"]


def test_the_report_is_served_as_the_trainer_wrote_it(app, monkeypatch, tmp_path, document):
    serve(monkeypatch, app, tmp_path, document)
    answer = app.test_client().get("/comparison")
    assert answer.status_code == 200
    assert answer.get_json() == json.loads(json.dumps(document))


def test_an_unreadable_report_is_a_503_naming_the_problem_not_a_500(app, monkeypatch, tmp_path):
    serve(monkeypatch, app, tmp_path, "{not json")
    answer = app.test_client().get("/comparison")
    assert answer.status_code == 503 and answer.get_json()["error"] == "invalid_comparison"
    assert "unreadable" in answer.get_json()["detail"]


@pytest.mark.parametrize("content, problem", [
    ({"variants": {}}, "schema_version is None, this reader needs 2"),
    ([1, 2], "a comparison is a JSON object, not list"),
])
def test_json_that_is_not_a_comparison_is_the_documented_503(app, monkeypatch, tmp_path,
                                                             content, problem):
    serve(monkeypatch, app, tmp_path, content)
    answer = app.test_client().get("/comparison")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["error"] == "invalid_comparison" and problem in body["detail"]
    assert "python -m trainer --report" in body["detail"]
    variant = app.test_client().get("/variants/none").get_json()
    assert variant["comparison"] is None and problem in variant["comparison_note"]


def test_an_older_comparison_is_refused_by_the_same_parse_as_every_reader(app, monkeypatch,
                                                                          tmp_path, document):
    older = {**json.loads(json.dumps(document)), "schema_version": 1}
    serve(monkeypatch, app, tmp_path, older)
    answer = app.test_client().get("/comparison")
    assert answer.status_code == 503 and "schema_version is 1" in answer.get_json()["detail"]


def test_a_variant_carries_its_row_of_the_comparison(app, monkeypatch, tmp_path, document):
    serve(monkeypatch, app, tmp_path, document)
    body = app.test_client().get("/variants/l2_activity").get_json()
    row = json.loads(json.dumps(document["variants"]["l2_activity"]))
    assert body["comparison"] == {**row, "baseline": "none", "test_set": document["test_set"]}
    assert body["comparison"]["verdict"] == "needs seeds"  # the session trains one seed each
    assert body["comparison"]["verdict_text"].startswith("needs seeds: 1 seed matched with none")
    assert body["comparison_note"] is None


def test_without_a_report_a_variants_comparison_is_null_with_the_reason(client):
    body = client.get("/variants/none").get_json()
    assert body["comparison"] is None and "no comparison report" in body["comparison_note"]


def test_a_variant_left_out_of_the_report_says_why(app, monkeypatch, tmp_path, document):
    changed = json.loads(json.dumps(document))
    del changed["variants"]["none"]
    changed["missing"] = [{"variant": "none", "model": "none@1", "reason": "answered another "
                                                                            "test set"}]
    serve(monkeypatch, app, tmp_path, changed)
    body = app.test_client().get("/variants/none").get_json()
    assert body["comparison"] is None and body["comparison_note"] == "answered another test set"


def test_a_report_of_another_version_is_not_passed_off_as_this_ones(app, monkeypatch, tmp_path,
                                                                    document):
    changed = json.loads(json.dumps(document))
    changed["variants"]["none"].update(versions=[99], model="none@99")
    serve(monkeypatch, app, tmp_path, changed)
    body = app.test_client().get("/variants/none").get_json()
    assert body["comparison"] is None and "covers none@99" in body["comparison_note"]
