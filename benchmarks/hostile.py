"""``python -m benchmarks hostile``: what each kind of hostile request costs a worker.

For each kind, sent one at a time to a one-worker gunicorn: the answer's status and time, the
worker's CPU time (utime + stime from /proc) and its peak RSS growth (VmHWM after resetting it
through clear_refs; Pillow's and NumPy's buffers included, unlike tracemalloc). Then the whole
hostile test corpus (benchmarks/hostile_corpus.py, /predict and V2), each request measured the
same way. With ``--baseline CHECKOUT`` (e.g. /work/main) the same requests go to that
checkout's server too, in the same run, and the table shows both and the ratio.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import requests
from PIL import Image, ImageDraw

from benchmarks.hostile_corpus import hostile_corpus, send
from benchmarks.hostile_v2 import v2_body
from benchmarks.loadgen import canvas_png, sample_characters
from benchmarks.procstat import cpu_seconds, memory, reset_peak, start_server, workers_of
from benchmarks.report import BenchmarkError, load_average, log, markdown_table
from server.launcher import PROJECT_ROOT, LiveServer

MB = 2**20
#: What "hostile" must stay under (the issue's targets), per request.
TARGET_SECONDS, TARGET_RSS = 0.5, 100 * MB


@dataclass(frozen=True)
class Kind:
    """One kind of request: its body, content type, and how many are sent at once."""

    name: str
    body: bytes
    content_type: str
    concurrent: int = 1
    target: str = "/predict"
    headers: tuple[tuple[str, str], ...] = ()


def png(side: int, mode: str = "RGBA", line: bool = True) -> bytes:
    """A ``side`` x ``side`` PNG with one diagonal stroke: tiny to send, ``side``^2 to decode."""
    image = Image.new(mode, (side, side), 65535 if mode == "I;16" else "white")
    if line:
        ImageDraw.Draw(image).line([(side // 5, side // 5), (4 * side // 5, 4 * side // 5)],
                                   fill=0, width=max(3, side // 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def strip(width: int, height: int) -> bytes:
    """A long thin PNG with a cross of ink: few pixels, a long side."""
    import numpy as np

    array = np.full((height, width), 255, np.uint8)
    array[height // 2, 1:-1] = 0
    array[1:-1, width // 2] = 0
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def v2_kind(name: str, images: list[bytes]) -> Kind:
    """A V2 infer request for the ``none`` variant with ``images`` as ``image_bytes``."""
    body, headers = v2_body(images)
    return Kind(f"V2: {name}", body, "application/json", target="/v2/models/none/infer",
                headers=tuple(headers.items()))


def kinds() -> list[Kind]:
    """The expensive-to-answer kinds the issue names, and a good request as the baseline."""
    import base64

    canvas = canvas_png(sample_characters(1)[0][0])
    big = png(4096)
    pixels_10mb = b'{"pixels": [' + b"[" + b"0," * 5_000_000 + b"0]]}"
    pixels_2mb = b'{"pixels": [' + b"[" + b"0," * 1_000_000 + b"0]]}"
    return [
        Kind("good: 280x280 canvas PNG", png(280), "image/png"),
        Kind("PNG 4096x4096 with ink (claims 16.8 MP)", big, "image/png"),
        Kind("PNG 2048x2048 with ink (the new limit)", png(2048), "image/png"),
        Kind("16-bit PNG 2048x2048 with ink", png(2048, "I;16"), "image/png"),
        Kind("8 at once: PNG 2048x2048", png(2048), "image/png", concurrent=8),
        Kind("8 at once: PNG 4096x4096", big, "image/png", concurrent=8),
        Kind("base64 JSON of the 4096x4096 PNG",
             json.dumps({"image": base64.b64encode(big).decode()}).encode(), "application/json"),
        Kind("PNG 3x40000 strip with ink", strip(3, 40_000), "image/png"),
        Kind("PNG 1000000x3 strip with ink", strip(1_000_000, 3), "image/png"),
        Kind("PNG header claiming 50000x50000", png_claiming(50_000, 50_000), "image/png"),
        Kind("JSON pixels, 10 MB of zeros", pixels_10mb, "application/json"),
        Kind("JSON pixels, 2 MB of zeros", pixels_2mb, "application/json"),
        Kind("JSON nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, "application/json"),
        Kind("random bytes, 20 kB", bytes(range(256)) * 80, "image/png"),
        Kind("body of 10 MiB zeros (at the body limit)", b"\0" * (10 * MB), "image/png"),
        v2_kind("one 280x280 canvas PNG", [canvas]),
        v2_kind("256 x PNG 2048x2048 (1.07 G pixels declared)", [png(2048, "L")] * 256),
        v2_kind("4 x PNG 2048x2048 RGBA (16.8 MP, the batch limit)", [png(2048)] * 4),
        v2_kind("213 x 280x280 canvas PNG (16.7 MP, the batch limit)", [canvas] * 213),
        v2_kind("1024 x 28x28 PNG (0.8 MP, the most images)", [png(28, "L")] * 1024),
    ]


def measure(server: LiveServer, body: bytes, content_type: str, concurrent: int = 1,
            target: str = "/predict", headers: tuple[tuple[str, str], ...] = ()) -> dict:
    """Send ``concurrent`` copies at once; the worker's CPU and peak RSS growth, the answers."""

    def post() -> int:
        return requests.post(server.url + target, data=body, timeout=120,
                             headers={"Content-Type": content_type, **dict(headers)}).status_code

    return measured(server, post, concurrent)


def measured(server: LiveServer, request, concurrent: int = 1) -> dict:
    """Call ``request`` (returns a status) ``concurrent`` times at once, measuring the worker."""
    worker = workers_of(server)[0]
    rss_before, _ = memory(worker)
    reset_peak(worker)
    cpu_before = cpu_seconds(worker)
    results: list[tuple[int, float]] = []

    def send() -> None:
        started = time.monotonic()
        try:
            status = request()
        except (requests.RequestException, OSError):
            status = 0
        results.append((status, time.monotonic() - started))

    threads = [threading.Thread(target=send) for _ in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rss_after, peak = memory(worker)
    return {"statuses": sorted({status for status, _ in results}),
            "seconds": max(seconds for _, seconds in results),
            "cpu": cpu_seconds(worker) - cpu_before,
            "peak_growth": max(0, peak - rss_before), "rss_growth": rss_after - rss_before}


def run_kinds(server: LiveServer) -> list[dict]:
    measure(server, png(280), "image/png")  # warm the path up
    return [{"kind": kind.name, "bytes": len(kind.body),
             **measure(server, kind.body, kind.content_type, kind.concurrent, kind.target,
                       kind.headers)}
            for kind in kinds()]


def run_corpus(server: LiveServer) -> dict:
    """Every request of the hostile test corpus, one at a time: worst time and RSS growth."""
    loaded = list(requests.get(server.url + "/readyz", timeout=10).json()["loaded"])
    corpus = hostile_corpus(10 * MB, loaded[0], [])
    worker = workers_of(server)[0]
    start_rss = memory(worker)[0]
    worst = {"seconds": (0.0, ""), "peak_growth": (0, ""), "cpu": (0.0, "")}
    fivexx = 0
    for case in corpus:
        result = measured(server, lambda case=case: send(server.url, case).status)
        fivexx += any(status >= 500 or status == 0 for status in result["statuses"])
        for key in worst:
            if result[key] > worst[key][0]:
                worst[key] = (result[key], case.name)
    return {"requests": len(corpus), "fivexx": fivexx, "worst": worst,
            "retained_growth": memory(worker)[0] - start_rss}


def render(results: dict[str, dict], load: tuple) -> str:
    labels = list(results)
    rows = []
    for index, row in enumerate(results[labels[0]]["kinds"]):
        cells = [row["kind"], f"{row['bytes'] / 1024:,.0f} KB"]
        for label in labels:
            other = results[label]["kinds"][index]
            cells += ["/".join(map(str, other["statuses"])), f"{other['seconds'] * 1000:,.0f}",
                      f"{other['cpu'] * 1000:,.0f}", f"{other['peak_growth'] / MB:,.0f}"]
        rows.append(cells)
    headers = ["kind", "sent"]
    for label in labels:
        headers += [f"{label}: status", "answer ms", "worker CPU ms", "peak RSS +MB"]
    lines = [f"Hostile requests, one gunicorn worker each (load average before: {load})", "",
             markdown_table(headers, rows), ""]
    for label in labels:
        corpus = results[label]["corpus"]
        worst = corpus["worst"]
        lines.append(
            f"- {label}: hostile test corpus, {corpus['requests']} requests: {corpus['fivexx']} "
            f"answered 5xx or not at all; slowest {worst['seconds'][0] * 1000:,.0f} ms "
            f"({worst['seconds'][1]}); most CPU {worst['cpu'][0] * 1000:,.0f} ms "
            f"({worst['cpu'][1]}); largest peak RSS growth {worst['peak_growth'][0] / MB:,.0f} MB "
            f"({worst['peak_growth'][1]}); RSS retained after all of them "
            f"{corpus['retained_growth'] / MB:+,.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks hostile", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=PROJECT_ROOT / "models")
    parser.add_argument("--baseline", type=Path, default=None, metavar="CHECKOUT",
                        help="also measure this checkout's server (e.g. /work/main)")
    parser.add_argument("--no-corpus", dest="corpus", action="store_false",
                        help="skip the ~500-request hostile test corpus")
    options = parser.parse_args(argv)
    checkouts = {"this checkout": PROJECT_ROOT}
    if options.baseline:
        checkouts = {"baseline": options.baseline.resolve(), **checkouts}
    load = load_average()
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="regserve-hostile-") as workdir:
            for label, checkout in checkouts.items():
                log(f"measuring {label} ({checkout}) ...")
                server = start_server(checkout, options.models_dir.resolve(),
                                      Path(workdir) / f"{len(results)}.log")
                try:
                    results[label] = {"kinds": run_kinds(server),
                                      "corpus": run_corpus(server) if options.corpus else None}
                finally:
                    server.stop()
    except (BenchmarkError, OSError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    if not options.corpus:
        for result in results.values():
            result["corpus"] = {"requests": 0, "fivexx": 0, "retained_growth": 0,
                                "worst": {k: (0, "-") for k in ("seconds", "cpu", "peak_growth")}}
    print(render(results, load))
    return 0
