"""Hostile input against a real gunicorn server: every bad request gets its exact 4xx as JSON.

Over 600 requests (see benchmarks/hostile_corpus.py): random and mangled bytes, images that claim
50,000 x 50,000 pixels, decompression bombs, odd but valid images, non-images dressed as images,
malformed and 100,000-deep JSON, bad pixel arrays, path-like variant names, wrong methods and
content types; the same images through V2's ``image_bytes``, and V2 batches over their pixels.
None may get a 5xx; every error is JSON; the server stays healthy and its memory flat. Security
checks ride along: names never become paths, size limits hold, no debug mode, no tracebacks,
nothing is unpickled.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import socket
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import requests

from benchmarks.drawing import encode
from benchmarks.hostile_corpus import (
    Answer,
    Hostile,
    hostile_corpus,
    image_requests,
    multipart,
    send,
)
from benchmarks.hostile_images import (
    BAD,
    claiming_huge,
    corrupt_images,
    glyph,
    library_verdict,
    not_images,
    odd_images,
    truncated_images,
)
from regserve_contracts import layout
from regserve_contracts.labels import LABELS
from regserve_contracts.signature import SERVING_PROBABILITIES
from server.launcher import child_pids
from server.settings import ServerSettings

MAX_CONTENT_LENGTH = ServerSettings().max_content_length
#: RSS a worker may gain over one repeat of the whole corpus once warmed up.
RSS_GROWTH_BOUND = 50 * 2**20
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "/', "werkzeug/debug", "__debugger__")


@pytest.fixture(scope="module")
def loaded(live_server) -> list[str]:
    """The variant names the live server serves, from /readyz."""
    return list(requests.get(f"{live_server.url}/readyz", timeout=10).json()["loaded"])


@pytest.fixture(scope="module")
def evil_paths(models_dir, loaded, tmp_path_factory) -> list[str]:
    """A whole, loadable copy of a variant outside the models dir, named by absolute and by
    relative path: a server that made names into paths would serve it."""
    name = loaded[0]
    evil = tmp_path_factory.mktemp("evil") / name
    shutil.copytree(layout.newest_version(Path(models_dir) / name), evil / "1")
    return [str(evil), os.path.relpath(evil, models_dir), os.path.relpath(evil / "1", models_dir)]


@pytest.fixture(scope="module")
def corpus(loaded, evil_paths) -> list[Hostile]:
    return hostile_corpus(MAX_CONTENT_LENGTH, loaded[0], evil_paths)


def problem(case: Hostile, answer: Answer, loaded: list[str]) -> str | None:
    """What is wrong with ``answer`` to ``case``, or None."""
    text = answer.body.decode("utf-8", "replace")
    if answer.status not in case.expect:
        return f"status {answer.status}, expected {sorted(case.expect)}: {text[:200]}"
    if any(mark in text for mark in TRACEBACK_MARKS):
        return f"the body leaks a traceback or the debugger: {text[:200]}"
    if not answer.content_type.startswith("application/json"):
        return f"content type {answer.content_type!r}, not JSON: {text[:200]}"
    body = answer.json()
    if case.v2:  # the protocol's errors are {"error": message}
        if answer.status != 200:
            return None if isinstance(body.get("error"), str) and body["error"] else (
                f"a V2 error body without 'error': {text[:200]}")
        return v2_answer_problem(body)
    if answer.status != 200:
        if not (isinstance(body.get("error"), str) and body.get("detail")):
            return f"error body lacks 'error' and 'detail': {text[:200]}"
        if answer.status == 404 and case.target.startswith("/predict?"):
            missing = [name for name in loaded if name not in body.get("valid_variants", [])]
            return f"the 404 does not list the valid names {missing}" if missing else None
        return None
    return prediction_problem(body, loaded)


def prediction_problem(body: dict, loaded: list[str]) -> str | None:
    """What is wrong with a 200 answer to /predict, or None."""
    answers = body.get("variants") or {}
    if not answers or not set(answers) <= set(loaded):
        return f"answers for {sorted(answers)}, loaded {loaded}"
    for name, answer in answers.items():
        probabilities = [entry["probability"] for entry in answer["top"]]
        if answer["prediction"] not in LABELS or answer["top"][0]["label"] != answer["prediction"]:
            return f"{name}: prediction {answer['prediction']!r} is no EMNIST label"
        if not all(0 <= p <= 1 for p in probabilities) or probabilities != sorted(
                probabilities, reverse=True):
            return f"{name}: top probabilities {probabilities}"
    pixels = np.asarray(body["input"]["pixels"])
    if pixels.shape != (28, 28) or pixels.min() < 0 or pixels.max() != 255:
        return f"the input echo is {pixels.shape}, range {pixels.min()}..{pixels.max()}"
    return None


def v2_answer_problem(body: dict) -> str | None:
    """What is wrong with a 200 answer to V2 infer, or None: rows of 47 probabilities."""
    outputs = {output["name"]: output for output in body.get("outputs", [])}
    if SERVING_PROBABILITIES not in outputs:
        return f"no {SERVING_PROBABILITIES!r} output: {sorted(outputs)}"
    rows = np.asarray(outputs[SERVING_PROBABILITIES]["data"], float).reshape(-1, len(LABELS))
    if not (np.all(rows >= 0) and np.allclose(rows.sum(axis=1), 1, atol=1e-4)):
        return f"probability rows do not sum to 1: {rows.sum(axis=1)}"
    return None


def run_corpus(url: str, corpus: list[Hostile], loaded: list[str]) -> Counter:
    """Send every case; fail with one line per wrong answer; return the count per status."""
    statuses, problems = Counter(), []
    for case in corpus:
        try:
            answer = send(url, case)
        except OSError as error:
            problems.append(f"{case.name}: no answer ({error!r})")
            continue
        statuses[answer.status] += 1
        found = problem(case, answer, loaded)
        if found:
            problems.append(f"{case.name}: {found}")
    assert not problems, f"{len(problems)} of {len(corpus)} wrong:\n" + "\n".join(problems)
    return statuses


def worker_rss(master_pid: int) -> dict[int, int]:
    """Resident memory in bytes of each gunicorn worker (the master's children)."""
    rss = {}
    for pid in child_pids(master_pid):
        status = Path(f"/proc/{pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        rss[pid] = int(kib) * 1024
    return rss


def assert_still_serving(url: str, loaded: list[str]) -> None:
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
    ready = requests.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200 and list(ready.json()["loaded"]) == loaded
    answer = requests.post(f"{url}/predict", data=encode(glyph(), "PNG"),
                           headers={"Content-Type": "image/png"}, timeout=30)
    assert answer.status_code == 200
    assert prediction_problem(answer.json(), loaded) is None
    assert set(answer.json()["variants"]) == set(loaded)


def test_declared_image_verdicts_match_the_preprocessing_library():
    """The corpus's hand-made expectations agree with the imaging contract (the server's path)."""
    declared = [(name, data, expect) for name, data, expect in odd_images()]
    declared += [(name, data, BAD) for name, data in
                 truncated_images() + corrupt_images() + not_images()]
    declared += [(name, data, frozenset({413})) for name, data in claiming_huge()]
    wrong = [(name, sorted(expect), sorted(library_verdict(data)))
             for name, data, expect in declared if library_verdict(data) != expect]
    assert not wrong


@pytest.mark.slow
def test_every_hostile_request_gets_its_exact_answer_and_the_server_stays_healthy(
        live_server, corpus, loaded):
    """At least 300 bad requests: each its exact 4xx as JSON {error, detail} (odd but valid
    images a 200 with a sane prediction), never a 5xx or a traceback; then it still serves."""
    assert len(corpus) >= 300
    statuses = run_corpus(live_server.url, corpus, loaded)
    print(f"\nhostile requests: {len(corpus)}, answers by status: {dict(sorted(statuses.items()))}")
    assert not any(status >= 500 for status in statuses)
    assert_still_serving(live_server.url, loaded)


@pytest.mark.slow
def test_worker_memory_stays_flat_under_repeated_hostile_input(live_server, corpus, loaded):
    """After one warm-up pass of the corpus, two more passes grow no worker by 50 MB."""
    master = live_server.process.pid
    run_corpus(live_server.url, corpus, loaded)
    before = worker_rss(master)
    for _ in range(2):
        run_corpus(live_server.url, corpus, loaded)
    after = worker_rss(master)
    assert before and set(before) == set(after), "a worker died or was replaced"
    growth = {pid: after[pid] - before[pid] for pid in before}
    print(f"\nworker RSS (MiB) before {[b >> 20 for b in before.values()]}, "
          f"after {[a >> 20 for a in after.values()]}")
    assert max(growth.values()) < RSS_GROWTH_BOUND, growth


def test_variant_names_are_looked_up_never_opened(live_server, evil_paths, loaded):
    """A name that is a path to a real model outside the models dir gets 404 listing the loaded
    names; GET /variants/<path> too."""
    png = encode(glyph(), "PNG")
    for path in evil_paths + ["../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"]:
        answer = requests.post(f"{live_server.url}/predict", params={"variant": path}, data=png,
                               headers={"Content-Type": "image/png"}, timeout=30)
        assert answer.status_code == 404, (path, answer.text[:200])
        assert answer.json()["error"] and set(loaded) <= set(answer.json()["valid_variants"])
    for path in ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "reports", evil_paths[0].replace("/", "%2F")]:
        answer = requests.get(f"{live_server.url}/variants/{path}", timeout=10)
        assert answer.status_code == 404 and answer.json()["error"], (path, answer.text[:200])


def test_variant_names_never_reach_a_filesystem_call(live_server, tmp_path):
    """strace on the worker: path-shaped variant names appear in no file system call, while a
    static file's name (the control) does."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    worker = min(worker_rss(live_server.process.pid))
    trace = tmp_path / "trace.txt"
    tracer = subprocess.Popen([strace, "-f", "-qq", "-s", "4096", "-e", "trace=%file",
                               "-o", str(trace), "-p", str(worker)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = f"SENTINEL{uuid.uuid4().hex}"

    def control_seen(times: int) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            requests.get(f"{live_server.url}/static/style.css", timeout=10)
            text = trace.read_text(errors="replace") if trace.exists() else ""
            if text.count("style.css") >= times:
                return True
            time.sleep(0.2)
        return False

    try:
        if not control_seen(1):
            pytest.skip("strace cannot trace the gunicorn worker here (ptrace not allowed?)")
        seen_before = trace.read_text(errors="replace").count("style.css")
        png = encode(glyph(), "PNG")
        for name in (marker, f"../../{marker}", f"/tmp/{marker}", f"..%2F{marker}",
                     f"{marker}/../none", f"none,{marker}"):
            answer = requests.post(f"{live_server.url}/predict", params={"variant": name},
                                   data=png, headers={"Content-Type": "image/png"}, timeout=30)
            assert answer.status_code == 404
            listed = requests.get(f"{live_server.url}/variants/{quote(name, safe='')}", timeout=10)
            assert listed.status_code == 404
        assert control_seen(seen_before + 1), "the trace stopped before the test's requests"
    finally:
        tracer.terminate()
        tracer.wait(timeout=10)
    assert marker not in trace.read_text(errors="replace")


def test_bodies_over_the_limit_get_413_without_being_read(live_server):
    """MAX_CONTENT_LENGTH holds for raw and multipart bodies (also chunked), and a
    Content-Length that claims 10 GB gets its 413 at once instead of a wait for the body."""
    too_big = b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_CONTENT_LENGTH
    form, form_type = multipart(too_big)
    for case in (Hostile("raw", too_big, "image/png"), Hostile("form", form, form_type)):
        answer = send(live_server.url, case)
        assert answer.status == 413 and answer.json()["error"], case.name
    chunked_form = requests.post(f"{live_server.url}/predict", data=chunks(form),
                                 headers={"Content-Type": form_type}, timeout=60)
    assert chunked_form.status_code == 413 and chunked_form.json()["error"]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", int(live_server.url.rsplit(":", 1)[1]))) as sock:
        sock.settimeout(30)
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                     b"Content-Length: 10000000000\r\n\r\n\x89PNG")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 10, reply[:200]


def chunks(data: bytes, size: int = 2**20):
    """The body as an iterator, so requests sends it chunked, with no Content-Length."""
    return (data[start : start + size] for start in range(0, len(data), size))


@pytest.mark.parametrize("content_type", ["image/png", "application/json"])
def test_chunked_bodies_over_the_limit_get_413(live_server, content_type):
    """Without a Content-Length the limit must hold too: 413, not a body cut at 10 MiB."""
    body = (b'{"image": "' + b"A" * MAX_CONTENT_LENGTH + b'"}' if content_type.endswith("json")
            else b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_CONTENT_LENGTH)
    answer = requests.post(f"{live_server.url}/predict", data=chunks(body),
                           headers={"Content-Type": content_type}, timeout=60)
    assert answer.status_code == 413 and answer.json()["error"], answer.text[:200]


def test_no_debug_mode_and_no_tracebacks(live_server):
    """Unknown routes, the debugger's own URLs and the OpenAPI document show no debugger page
    and no traceback; errors are JSON."""
    for target in ("/console", "/nonexistent", "/predict/x"):
        answer = requests.get(f"{live_server.url}{target}", timeout=10)
        assert answer.status_code == 404 and answer.json()["error"] == "not_found", target
    debugger = requests.get(f"{live_server.url}/", timeout=10,
                            params={"__debugger__": "yes", "cmd": "resource", "f": "debugger.js"})
    assert "CONSOLE_MODE" not in debugger.text and "Werkzeug" not in debugger.text
    spec = requests.get(f"{live_server.url}/openapi.json", timeout=10)
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
    assert not any(mark in spec.text for mark in TRACEBACK_MARKS)


class _OpenOnLoad:
    """Unpickling this creates a file: proof that a server unpickled what it was sent."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_nothing_sent_is_unpickled(live_server, tmp_path):
    """Pickles and object .npy files, in every accepted form, get 4xx and run nothing."""
    sentinel = tmp_path / "unpickled"
    payload = pickle.dumps(_OpenOnLoad(str(sentinel)))
    npy = io.BytesIO()
    np.save(npy, np.array([_OpenOnLoad(str(sentinel))], dtype=object), allow_pickle=True)
    cases = []
    for name, data in (("pickle", payload), ("object .npy", npy.getvalue())):
        cases += image_requests(name, data, BAD)
        cases += [Hostile(f"{name} as octet-stream", data, "application/octet-stream", BAD),
                  Hostile(f"{name} as a pickle type", data, "application/x-python-pickle",
                          frozenset({415}))]
    cases.append(Hostile("pickle as pixels", json.dumps({"pixels": payload.decode("latin-1")})
                         .encode(), "application/json", BAD))
    for case in cases:
        answer = send(live_server.url, case)
        assert answer.status in case.expect and answer.json()["error"], case.name
    assert not sentinel.exists()


def test_very_long_query_strings_and_headers_get_4xx(live_server, loaded):
    """A 100 KB query string or header is refused by gunicorn itself (414/400, its own short
    HTML page, no traceback); one just under gunicorn's limit reaches the app: 404 JSON."""
    png = encode(glyph(), "PNG")
    huge = Hostile("100 KB query", png, "image/png", frozenset({400, 414}),
                   target="/predict?variant=" + "a" * 100_000)
    answer = send(live_server.url, huge)
    assert answer.status in huge.expect and len(answer.body) < 2048
    assert not any(mark in answer.body.decode("latin-1") for mark in TRACEBACK_MARKS)
    print(f"\n100 KB query: {answer.status} {answer.content_type}: {answer.body[:80]!r}")
    header = requests.post(f"{live_server.url}/predict", data=png, timeout=10,
                           headers={"Content-Type": "image/png", "X-Long": "b" * 100_000})
    assert 400 <= header.status_code < 500 and "Traceback" not in header.text
    near_limit = Hostile("4 KB query", png, "image/png", frozenset({404}),
                         target="/predict?variant=" + "c" * 3_900)
    answer = send(live_server.url, near_limit)
    assert problem(near_limit, answer, loaded) is None
    assert_still_serving(live_server.url, loaded)
