"""The benchmarks run end to end on tiny settings and print well-formed tables (no timings)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from benchmarks.__main__ import main
from benchmarks.accuracy import PUBLISHED
from benchmarks.loadgen import canvas_png, percentile, run_phase, run_plan, sample_characters
from benchmarks.report import Target, markdown_table
from regserve_contracts.imaging import preprocess_bytes
from regserve_contracts.variants import VARIANT_NAMES
from tests.support import REPO_ROOT


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table in ``text`` as rows of cells (header first, separator dropped)."""
    found, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            if not set(line) <= set("|- "):
                current.append([cell.strip() for cell in line.strip("|").split("|")])
        elif current:
            found.append(current)
            current = []
    return found


def assert_rectangular(table: list[list[str]]) -> None:
    widths = {len(row) for row in table}
    assert len(widths) == 1, f"rows of different widths: {table}"


class _Answers(http.server.BaseHTTPRequestHandler):
    """A stand-in server: 200 for /predict, 503 for /predict?fail, 200 for /readyz."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self._answer(200, b"{}")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(503 if "fail" in self.path else 200, b'{"ok": true}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def stand_in():
    """A loopback HTTP server answering like /predict, for the load generator's own tests."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_percentile_is_nearest_rank():
    """p50 of 1..10 is 5, p99 is the largest, and an empty list has none."""
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 99) == 10.0
    assert percentile([], 50) is None


def test_target_says_pass_or_miss_and_by_how_much():
    """A missed goal says how far off it is; a met one says PASS; a missing one says so."""
    assert Target("rps", 250, 500, True).verdict().startswith("MISS: 50% short, needs 2.00x")
    assert Target("p99", 100, 50, False).verdict().startswith("MISS: 100% over, needs 2.00x")
    assert Target("rps", 600, 500, True).verdict().startswith("PASS")
    assert Target("rps", None, 500, True).verdict() == "NOT MEASURED"


def test_markdown_table_rejects_ragged_rows():
    """A row with the wrong number of cells is a bug in the caller, not a table."""
    with pytest.raises(ValueError):
        markdown_table(["a", "b"], [["1"]])


def test_canvas_pngs_are_what_the_models_would_see_again():
    """The benchmark's inputs, 280x280 dark-on-light PNGs, preprocess back to nearly themselves."""
    characters, source = sample_characters(4)
    assert source
    for pixels in characters:
        back = preprocess_bytes(canvas_png(pixels)).astype(float)
        assert np.corrcoef(back.ravel(), pixels.astype(float).ravel())[0, 1] > 0.9


def test_load_generator_counts_answers_and_errors(stand_in):
    """Every planned request is either a latency or an error, at any concurrency."""
    body = [b"png"]
    good = run_phase("127.0.0.1", stand_in, "/predict", body, 3, 30, 1, 30.0)
    bad = run_phase("127.0.0.1", stand_in, "/predict?fail", body, 2, 10, 0, 30.0)
    assert (good["requests_ok"], good["errors"]) == (30, 0)
    assert good["p50_ms"] <= good["p95_ms"] <= good["p99_ms"] <= good["max_ms"]
    assert (bad["requests_ok"], bad["errors"]) == (0, 10)
    assert bad["error_examples"][0].startswith("503")


def test_load_generator_only_drives_loopback(tmp_path):
    """The load generator refuses any host but this machine's loopback."""
    with pytest.raises(ValueError, match="loopback"):
        run_plan({"url": "http://192.0.2.1:80", "inputs": [], "phases": []})


def _fake_models(root: Path, accuracy: dict[str, float], data_name: str) -> Path:
    """Version folders holding only what the accuracy benchmark reads (metadata.json)."""
    for name, value in accuracy.items():
        version = root / name / "1"
        version.mkdir(parents=True)
        (version / "saved_model.pb").write_bytes(b"")
        (version / "metadata.json").write_text(json.dumps({
            "data": {"name": data_name, "train_size": 112800, "test_size": 18800},
            "training": {"epochs": 25, "batch_size": 250},
            "test": {"loss": 0.4, "accuracy": value}}))
    return root


def test_accuracy_sets_results_beside_the_published_numbers(tmp_path, capsys):
    """One row per variant, the difference to the seed's accuracy, and no warning on EMNIST."""
    ours = {"none": 0.8800, "l2_activity": 0.8700}
    models = _fake_models(tmp_path / "models", ours, "emnist-balanced")
    assert main(["accuracy", "--models-dir", str(models), "--no-save"]) == 0
    out = capsys.readouterr().out
    results = tables(out)[0]
    assert_rectangular(results)
    by_variant = {row[0]: dict(zip(results[0], row, strict=True)) for row in results[1:]}
    assert set(by_variant) == set(ours)
    for name, value in ours.items():
        expected = value - PUBLISHED[name][1]
        assert float(by_variant[name]["accuracy diff"]) == pytest.approx(expected, abs=1e-4)
    assert "WARNING" not in out


@pytest.mark.slow
def test_accuracy_on_the_offline_set_warns_about_the_numbers(models_dir, capsys):
    """On models trained on the offline set every variant is listed and a warning says why."""
    assert main(["accuracy", "--models-dir", str(models_dir), "--no-save"]) == 0
    out = capsys.readouterr().out
    results = tables(out)[0]
    assert_rectangular(results)
    assert [row[0] for row in results[1:]] == list(VARIANT_NAMES)
    assert "the shape of the result" in out


@pytest.mark.slow
def test_training_benchmark_compares_trainer_and_bare_fit(tmp_path, capsys):
    """One run of each kind, medians, a target row, and the JSON saved."""
    args = ["training", "--images", "200", "--epochs", "2", "--batch-size", "50",
            "--repeats", "1", "--results-dir", str(tmp_path)]
    assert main(args) == 0
    runs, medians, target = tables(capsys.readouterr().out)
    for table in (runs, medians, target):
        assert_rectangular(table)
    assert sorted(row[1] for row in runs[1:]) == ["bare", "trainer"]
    assert len(medians) == 3 and len(target) == 2
    saved = json.loads(next(tmp_path.glob("training-*.json")).read_text())
    assert saved["ratio"] > 0 and saved["machine"]["cores"] >= 1


@pytest.mark.slow
def test_serving_benchmark_measures_both_servers(models_dir, tmp_path, capsys):
    """Both servers at each level, the ratio, one vs all, first request, targets, agreement."""
    if not (REPO_ROOT / "server" / "gunicorn.conf.py").exists():
        pytest.skip("the server's gunicorn config is not in this checkout yet")
    args = ["serving", "--models-dir", str(models_dir), "--requests", "6", "--concurrency",
            "1,2", "--workers", "1", "--results-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    measured, ratio, one_vs_all, first, targets = tables(out)
    for table in (measured, ratio, one_vs_all, first, targets):
        assert_rectangular(table)
    assert len(measured) == 1 + 2 * 2 + 2  # RegServe all/one at 2 levels, naive all at 2
    assert len(ratio) == len(one_vs_all) == 3 and len(first) == 3 and len(targets) == 5
    assert all(row[4] == "0" for row in measured[1:]), "no request may fail"
    assert "the two servers agreed on" in out, "both answers must name each variant's prediction"
    saved = json.loads(next(tmp_path.glob("serving-*.json")).read_text())
    assert set(saved["servers"]) == {"regserve", "naive"}
