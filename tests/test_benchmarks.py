"""The benchmarks run end to end on tiny settings and print well-formed tables (no timings)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from benchmarks import wrk
from benchmarks.__main__ import main
from benchmarks.accuracy import PUBLISHED
from benchmarks.floor import implied_limit
from benchmarks.loadgen import canvas_png, percentile, run_phase, run_plan, sample_characters
from benchmarks.openloop import run_open_loop
from benchmarks.report import Target, markdown_table
from benchmarks.serving import Scenario, ServingSettings, closed_loop
from regserve_contracts.emnist_form import preprocess_bytes
from regserve_contracts.variants import VARIANT_NAMES


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


def test_open_loop_sends_every_planned_request_and_counts_failures(stand_in):
    """At a fixed rate every due request is sent once: answers are latencies, 503s are errors."""
    good = run_open_loop("127.0.0.1", stand_in, "/predict", [b"png"], "image/png", 200, 0.5, 4)
    bad = run_open_loop("127.0.0.1", stand_in, "/predict?fail", [b"png"], "image/png", 100, 0.2,
                        2)
    assert (good["requests"], good["requests_ok"], good["errors"]) == (100, 100, 0)
    assert good["p50_ms"] <= good["p90_ms"] <= good["p99_ms"] <= good["max_ms"]
    assert (bad["requests_ok"], bad["errors"]) == (0, 20)


@pytest.mark.skipif(wrk.wrk_path() is None, reason=wrk.INSTALL_HINT)
def test_wrk_script_cycles_bodies_and_counts_non_200_answers(stand_in, tmp_path):
    """wrk's own counts come back through the Lua script: answers, and 503s as errors."""
    bodies = [tmp_path / f"{n}.body" for n in range(3)]
    for index, path in enumerate(bodies):
        path.write_bytes(b"x" * (index + 1))
    url = f"http://127.0.0.1:{stand_in}"
    good = wrk.run_wrk(url, wrk.write_script(tmp_path / "good.lua", "/predict", bodies,
                                             "image/png"), 2, 1)
    bad = wrk.run_wrk(url, wrk.write_script(tmp_path / "bad.lua", "/predict?fail", bodies,
                                            "image/png"), 2, 1)
    assert good["requests_ok"] > 0 and good["errors"] == 0
    assert bad["requests_ok"] == 0 and bad["errors"] == bad["requests"] > 0


def test_closed_loop_falls_back_to_python_threads_without_wrk(stand_in, tmp_path):
    """With --python-load (as where wrk is missing) the closed loop still measures, and says so."""
    body = tmp_path / "0.body"
    body.write_bytes(b"png")
    scenario = Scenario("regserve", "canvas", "all", "/predict", "image/png", (str(body),))
    settings = ServingSettings(tmp_path, duration=0.5, connections=2, python_load=True)
    measured = closed_loop(f"http://127.0.0.1:{stand_in}", scenario, settings, tmp_path)
    assert measured["generator"].startswith("python threads")
    assert measured["requests_ok"] > 0 and measured["errors"] == 0


def test_floor_limit_is_the_cores_over_the_summed_costs():
    """Two cores and 4 ms of work per request allow 500 requests a second."""
    assert implied_limit(2, 1.0, 2.0, 0.5, 0.5) == pytest.approx(500.0)
    assert implied_limit(2, 0.0) is None


@pytest.mark.slow
def test_serving_benchmark_prints_one_table_with_floor_and_targets(models_dir, tmp_path, capsys):
    """RegServe (all and one variant) and the naive app on each body, the floor, the targets."""
    args = ["serving", "--models-dir", str(models_dir), "--duration", "1", "--servers",
            "regserve,naive", "--open-loop", "0.5", "--workers", "1",
            "--results-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    measured, floor, targets = tables(out)[:3]
    for table in (measured, floor, targets):
        assert_rectangular(table)
    rows = {(row[0], row[1], row[2]) for row in measured[1:]}
    assert len(measured) == 1 + 6 + 2, "RegServe: 3 bodies x all/one; naive: 2 image bodies"
    assert ("RegServe", "photo PNG 579x595", "1 (none)") in rows
    assert all(row[6] == "0" for row in measured[1:]), "no request may fail"
    assert all(row[7] != "-" for row in measured[1:] if row[2].startswith("all")), "open loop"
    assert len(floor) == 1 + 6 and len(targets) == 1 + 13
    assert all(row[0] == "onnx" for row in floor[1:]), "the floor of the runtime that serves"
    assert "naive Flask (sync workers) agreed on" in out
    saved = json.loads(next(tmp_path.glob("serving-*.json")).read_text())
    assert set(saved["servers"]) == {"regserve", "naive"}
    assert saved["floor"]["model_all_ms"] > 0 and saved["servers"]["regserve"]["runs"]


def test_the_soak_reads_a_minute_s_rss_as_the_median_of_its_reads(monkeypatch):
    """One read taken during a large decode (a spike) does not stand for the minute; the peak
    (VmHWM, the last read's) still shows it."""
    import time

    from benchmarks import soak

    reads = iter([(100, 150), (180, 180), (101, 180), (99, 180), (100, 181)])
    monkeypatch.setattr(soak, "memory", lambda pid: next(reads))
    monkeypatch.setattr(soak.time, "sleep", lambda seconds: None)
    rss, peak = soak.sample_rss([7], time.monotonic(), readings=5)
    assert rss == {7: 100} and peak == {7: 181}
