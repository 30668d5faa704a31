"""The EMNIST download survives what networks do: a connection dropped half way resumes with an
HTTP Range request, a passing 503 is retried, and any failure of the package's decoder is one
line. Over loopback only, with a real HTTP server."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tests.support.archives import small_arrays, write_matlab_zip
from trainer.data import DataSourceError
from trainer.data import emnist as emnist_module
from trainer.data.emnist import ARCHIVE_NAME, URL_ENV, download_archive
from trainer.data.sources import load_dataset


class FlakyServer:
    """Serves one file with Range support; can drop the first transfer half way or answer 503."""

    def __init__(self, body: bytes, drop_after: int | None = None, fail_first: int = 0) -> None:
        self.body, self.drop_after, self.fail_first = body, drop_after, fail_first
        self.requests: list[str | None] = []  # the Range header of each GET
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (the http.server API)
                server.requests.append(self.headers.get("Range"))
                if len(server.requests) <= server.fail_first:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(server.body) - 1}/{len(server.body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(server.body) - start))
                self.end_headers()
                if server.drop_after is not None and start == 0:
                    self.wfile.write(server.body[: server.drop_after])
                    self.wfile.flush()
                    self.close_connection = True  # hang up mid-body, as a broken network does
                    return
                self.wfile.write(server.body[start:])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/matlab.zip"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def zip_bytes(tmp_path_factory) -> bytes:
    return write_matlab_zip(tmp_path_factory.mktemp("zip") / "matlab.zip",
                            small_arrays()).read_bytes()


@pytest.fixture
def flaky():
    servers = []

    def make(*args, **kwargs) -> FlakyServer:
        servers.append(FlakyServer(*args, **kwargs))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_a_transfer_dropped_half_way_resumes_from_where_it_stopped(zip_bytes, flaky, tmp_path):
    half = len(zip_bytes) // 2
    server = flaky(zip_bytes, drop_after=half)
    target = download_archive(server.url, tmp_path / ARCHIVE_NAME, progress=False)
    # What had arrived (in whole reads, up to the drop) is kept and asked for no more.
    first, resumed = server.requests
    start = int(resumed.removeprefix("bytes=").removesuffix("-"))
    assert first is None and 0 < start <= half
    assert target.read_bytes() == zip_bytes
    assert [path.name for path in tmp_path.iterdir()] == [ARCHIVE_NAME]  # no .part left


def test_a_passing_503_is_retried(zip_bytes, flaky, tmp_path):
    server = flaky(zip_bytes, fail_first=2)
    download_archive(server.url, tmp_path / ARCHIVE_NAME, progress=False)
    assert server.requests == [None, None, None]
    assert (tmp_path / ARCHIVE_NAME).read_bytes() == zip_bytes


def test_a_partial_file_from_an_earlier_run_is_resumed(zip_bytes, flaky, tmp_path):
    (tmp_path / f".{ARCHIVE_NAME}.part").write_bytes(zip_bytes[:1000])
    server = flaky(zip_bytes)
    download_archive(server.url, tmp_path / ARCHIVE_NAME, progress=False)
    assert server.requests == ["bytes=1000-"]
    assert (tmp_path / ARCHIVE_NAME).read_bytes() == zip_bytes


def test_a_relative_keras_home_works_although_the_decoder_changes_directory(
        zip_bytes, flaky, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_HOME", "relative-keras-home")
    monkeypatch.setenv(URL_ENV, flaky(zip_bytes).url)
    dataset = load_dataset("emnist", progress=False)
    np.testing.assert_array_equal(dataset.x_train, small_arrays()[0])
    assert (tmp_path / "relative-keras-home" / "datasets" / ARCHIVE_NAME).is_file()


@pytest.mark.parametrize("error", [RuntimeError("boom\nsecond line"), MemoryError(),
                                   TypeError("'NoneType' object is not subscriptable"),
                                   NotImplementedError("matlab v7.3")])
def test_any_failure_of_the_package_loader_is_one_data_source_line(
        error, zip_bytes, tmp_path, monkeypatch):
    from extra_keras_datasets import emnist as package

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(package, "load_data", fail)
    archive = tmp_path / ARCHIVE_NAME
    archive.write_bytes(zip_bytes)
    with pytest.raises(DataSourceError) as raised:
        emnist_module._decode_with_package(archive)
    assert len(str(raised.value).splitlines()) == 1
    assert type(error).__name__ in str(raised.value)
