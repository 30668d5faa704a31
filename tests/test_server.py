"""The server around the predictions: health, readiness and metrics, the page and reports
without path traversal, and the real gunicorn answering a handwritten PNG."""

from __future__ import annotations

import pytest
import requests

from regserve_contracts.variants import VARIANT_NAMES
from tests.support.api import assert_full_answer, override_settings, post_png

#: What Chromium sends when a person opens a link.
BROWSER_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                  "image/webp,*/*;q=0.8")


def test_health_readiness_and_metrics(runtime_client, png):
    client = runtime_client
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and set(ready["loaded"]) == set(VARIANT_NAMES)
    assert ready["runtime"] in ("onnx", "tensorflow")
    post_png(client, png, "?variant=none")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'regserve_predictions_total{variant="none"}' in text
    assert 'regserve_http_requests_total{endpoint="/predict",method="POST",status="200"}' in text
    assert 'regserve_prediction_seconds_bucket{le="0.05",variant="none"}' in text
    assert f"regserve_models_loaded {float(len(VARIANT_NAMES))}" in text


def test_page_and_reports_are_served_without_path_traversal(app, client, monkeypatch, tmp_path):
    def fetch(path: str):
        with client.get(path, follow_redirects=True) as answer:  # '//' redirects first
            return answer.status_code, answer.mimetype, answer.get_data()

    assert fetch("/")[:2] == (200, "text/html")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "results.md").write_text("| variant |\n")
    (tmp_path / "secret.txt").write_text("secret")
    override_settings(monkeypatch, app, models_dir=tmp_path)
    assert client.get("/reports").get_json() == {"files": ["results.md"]}
    assert fetch("/reports/results.md")[2] == b"| variant |\n"  # curl's */*: the Markdown
    for path in ("/reports/../secret.txt", "/reports/%2e%2e/secret.txt", "/reports/..%2fsecret.txt",
                 f"/reports/{tmp_path}/secret.txt", "/reports/missing.png"):
        status, _, data = fetch(path)
        assert status == 404 and b"secret" not in data, path


def test_a_markdown_report_opens_in_a_browser_as_a_page_with_its_html_escaped(
        app, client, monkeypatch, tmp_path):
    """A browser's Accept gets the report as HTML (a table as a <table>, a <script> in the text
    as text); curl's gets the Markdown as written."""
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "comparison.md").write_text(
        "# Comparison\n\n| variant | accuracy |\n| --- | --- |\n| `none` | 0.557 |\n\n"
        "<script>alert('x')</script> and <b>bold</b>\n")
    override_settings(monkeypatch, app, models_dir=tmp_path)
    browser = client.get("/reports/comparison.md", headers={"Accept": BROWSER_ACCEPT})
    page = browser.get_data(as_text=True)
    assert browser.status_code == 200 and browser.mimetype == "text/html"
    assert "<h1>Comparison</h1>" in page and "<td><code>none</code></td>" in page
    assert "<script>" not in page and "&lt;script&gt;alert" in page and "<b>" not in page
    assert "Accept" in browser.headers["Vary"]
    with client.get("/reports/comparison.md", headers={"Accept": "*/*"}) as raw:
        assert raw.get_data(as_text=True).startswith("# Comparison\n") and "<script>" in raw.text
    assert client.get("/reports/missing.md", headers={"Accept": BROWSER_ACCEPT}).status_code == 404
    assert client.get("/reports/../secret.md",
                      headers={"Accept": BROWSER_ACCEPT}).status_code == 404


@pytest.mark.slow
def test_real_gunicorn_answers_a_handwritten_png_with_all_eight_variants(live_server, real_png):
    """The issue's demonstration: gunicorn with the project's config, trainer-made models."""
    answer = requests.post(f"{live_server.url}/predict", data=real_png,
                           headers={"Content-Type": "image/png"}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    assert_full_answer(answer.json(), list(VARIANT_NAMES))
    listed = requests.get(f"{live_server.url}/variants", timeout=30).json()
    assert [entry["name"] for entry in listed["variants"]] == list(VARIANT_NAMES)
    assert all(0 <= entry["test"]["accuracy"] <= 1 for entry in listed["variants"])
    upload = requests.post(f"{live_server.url}/predict?variant=none&top=5",
                           files={"image": ("a.png", real_png, "image/png")}, timeout=60)
    assert list(upload.json()["variants"]) == ["none"]
    assert len(upload.json()["variants"]["none"]["top"]) == 5
    metrics = requests.get(f"{live_server.url}/metrics", timeout=30).text
    assert 'regserve_predictions_total{variant="l2_activity"}' in metrics
