"""HTTP conventions on a real gunicorn: every 503 carries a Retry-After header, and a URL too
long for the app gets a JSON 414 (up to gunicorn's own request-line maximum)."""

from __future__ import annotations

import requests

from server.errors import MAX_URI_BYTES, RETRY_AFTER_SECONDS


def test_a_503_carries_retry_after_as_a_header_on_a_real_server(tmp_path):
    from server.launcher import start

    empty = tmp_path / "models"
    empty.mkdir()
    with start(tmp_path / "server.log", models_dir=empty, ready_path="/healthz") as server:
        for method, path in (("GET", "/readyz"), ("POST", "/predict"), ("GET", "/v2/health/ready")):
            answer = requests.request(method, server.url + path, data=b"x", timeout=30,
                                      headers={"Content-Type": "image/png"})
            assert answer.status_code == 503, path
            assert answer.headers.get("Retry-After") == str(RETRY_AFTER_SECONDS), path


def test_a_busy_503_names_its_own_retry_after_in_the_header_and_the_body(client, monkeypatch):
    from server.errors import ApiError
    from server.routes import predict

    def busy(*args, **kwargs):
        raise ApiError(503, "busy", "busy", retry_after=1)

    monkeypatch.setattr(predict, "read_input", busy)
    answer = client.post("/predict", data=b"x", content_type="image/png")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1" and answer.get_json()["retry_after"] == 1


def test_a_query_longer_than_the_app_reads_gets_a_json_414_from_the_bare_server(live_server):
    # Longer than gunicorn's old default request line (4,094 bytes), within its maximum (8,190).
    for length in (MAX_URI_BYTES + 1, 8000):
        target = "/predict?variant=" + "a" * (length - len("/predict?variant="))
        answer = requests.post(live_server.url + target, data=b"x", timeout=30,
                               headers={"Content-Type": "image/png"})
        assert answer.status_code == 414, length
        assert answer.headers["Content-Type"] == "application/json"
        body = answer.json()
        assert body["error"] == "uri_too_long" and f"{length:,} bytes" in body["detail"]
        assert body["max_uri_bytes"] == MAX_URI_BYTES


def test_a_query_just_within_the_app_limit_reaches_the_route(live_server):
    target = "/predict?variant=" + "b" * (MAX_URI_BYTES - len("/predict?variant="))
    answer = requests.post(live_server.url + target, data=b"x", timeout=30,
                           headers={"Content-Type": "image/png"})
    assert answer.status_code == 404 and answer.json()["error"] == "unknown_variant"
