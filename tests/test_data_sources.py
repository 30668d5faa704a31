"""Spec for the data sources: local EMNIST files, the EMNIST download, limits and bad specs."""

from __future__ import annotations

import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from regserve_contracts.labels import NUM_CLASSES
from tests.support.archives import (
    L_LABEL,
    is_upright_l,
    l_glyph,
    small_arrays,
    write_gzip_zip,
    write_idx_folder,
    write_matlab_zip,
    write_npz,
)
from trainer.data import DataSourceError, sources
from trainer.data.emnist import ARCHIVE_NAME, ARRAYS_NAME, URL_ENV, download_archive
from trainer.data.sources import balanced_indices, load_dataset

WRITERS = {
    "matlab.zip": write_matlab_zip,
    "gzip.zip": write_gzip_zip,
    "idx-folder": write_idx_folder,
    "arrays.npz": write_npz,
}


@pytest.fixture(scope="module")
def arrays():
    """A few hundred EMNIST-balanced images per the official splits; image 0 of each is an L."""
    return small_arrays()


@pytest.fixture(scope="module")
def matlab_zip_bytes(arrays, tmp_path_factory) -> bytes:
    return write_matlab_zip(tmp_path_factory.mktemp("zip") / "matlab.zip", arrays).read_bytes()


class _Server:
    """A real HTTP server on a free loopback port serving fixed bodies, counting requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                server.hits += 1
                body, content_type = server.routes.get(self.path, (b"not found", "text/plain"))
                self.send_response(200 if self.path in server.routes else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server():
    srv = _Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    """An empty KERAS_HOME and a scratch working directory, so nothing touches the real ones."""
    home = tmp_path / "keras-home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/matlab.zip"


@pytest.mark.parametrize("kind", WRITERS)
def test_local_sources_load_upright_with_int64_labels(kind, arrays, tmp_path):
    """Every local format gives back the same arrays, the L upright, labels int64."""
    path = WRITERS[kind](tmp_path / kind, arrays)
    dataset = load_dataset(str(path))
    for got, want in zip((dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test),
                         arrays, strict=True):
        np.testing.assert_array_equal(got, want)
    assert dataset.y_train.dtype == np.int64 and dataset.y_test.dtype == np.int64
    assert is_upright_l(dataset.x_train[0]) and is_upright_l(dataset.x_test[0])
    assert dataset.y_train[0] == L_LABEL
    assert path.name in dataset.name and dataset.description


def test_local_names_say_what_the_file_is(arrays, tmp_path):
    """EMNIST files are named emnist-balanced (local FILE); an .npz is npz:FILE."""
    zip_path = write_matlab_zip(tmp_path / "matlab.zip", arrays)
    assert load_dataset(str(zip_path)).name == "emnist-balanced (local matlab.zip)"
    assert load_dataset(str(write_npz(tmp_path / "mine.npz", arrays))).name == "npz:mine.npz"


@pytest.mark.parametrize("damage, expected", [
    ("truncated", "cannot read"),
    ("wrong member", "neither"),
    ("missing idx member", "no member"),
    ("flat npz images", r"x_train must be uint8 \(N, 28, 28\)"),
    ("float npz images", "expected uint8"),
    ("not a zip", "not a zip"),
])
def test_broken_local_files_raise_data_source_error(damage, expected, arrays, tmp_path):
    """A damaged or wrong file fails with a DataSourceError naming the problem."""
    path = tmp_path / "data.zip"
    if damage == "truncated":
        full = write_matlab_zip(tmp_path / "full.zip", arrays).read_bytes()
        path.write_bytes(full[: len(full) // 2] + full[-200:])
    elif damage == "wrong member":
        write_matlab_zip(path, arrays, member="matlab/emnist-letters.mat")
    elif damage == "missing idx member":
        write_gzip_zip(path, arrays)
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "cut.zip", "w") as dst:
            for name in src.namelist()[:-1]:
                dst.writestr(name, src.read(name))
        path = tmp_path / "cut.zip"
    elif damage == "flat npz images":
        path = write_npz(tmp_path / "flat.npz", (arrays[0].reshape(len(arrays[0]), -1),
                                                  *arrays[1:]))
    elif damage == "float npz images":
        path = write_npz(tmp_path / "f.npz", (arrays[0] / 255.0, *arrays[1:]))
    else:
        path.write_text("hello")
    with pytest.raises(DataSourceError, match=expected):
        load_dataset(str(path))


@pytest.mark.parametrize("spec", ["mnist", "", "/no/such/matlab.zip"])
def test_unknown_spec_names_all_three_kinds_of_source(spec):
    """An unknown name or a missing path says what is accepted instead."""
    with pytest.raises(DataSourceError) as error:
        load_dataset(spec)
    message = str(error.value)
    assert "'emnist'" in message and "'synthetic'" in message and "PATH" in message
    assert "\n" not in message


def test_limit_is_class_balanced_deterministic_and_leaves_test_alone(arrays, tmp_path):
    """limit=N keeps N training images, per-class counts differing by at most one."""
    path = write_npz(tmp_path / "a.npz", arrays)
    dataset = load_dataset(str(path), limit=100, seed=3)
    counts = np.bincount(dataset.y_train, minlength=NUM_CLASSES)
    assert len(dataset.x_train) == 100 and counts.max() - counts.min() <= 1
    assert len(dataset.x_test) == len(arrays[2])
    again = load_dataset(str(path), limit=100, seed=3)
    np.testing.assert_array_equal(dataset.x_train, again.x_train)
    other = load_dataset(str(path), limit=100, seed=4)
    assert not np.array_equal(dataset.x_train, other.x_train)


def test_balanced_indices_share_out_what_small_classes_lack():
    """A class with too few images gives all it has; the others share the rest evenly."""
    labels = np.array([0] * 2 + [1] * 50 + [2] * 50)
    picked = balanced_indices(labels, 40, seed=0)
    assert len(set(picked.tolist())) == 40
    assert np.bincount(labels[picked]).tolist() == [2, 19, 19]
    assert len(balanced_indices(labels, 1000)) == len(labels)


def test_synthetic_spec_asks_the_synthetic_module_for_the_limit(monkeypatch, arrays):
    """'synthetic' with limit N asks for N training and max(470, N // 5) test images."""
    from trainer.data import Dataset

    calls = []

    def fake_load_synthetic(train_size=18800, test_size=3760, seed=0):
        calls.append((train_size, test_size, seed))
        return Dataset("synthetic-offline (NOT EMNIST)", "fake", *arrays)

    monkeypatch.setattr(sources, "load_synthetic", fake_load_synthetic)
    dataset = load_dataset("synthetic", limit=5000, seed=7)
    load_dataset("synthetic", seed=1)
    assert calls == [(5000, 1000, 7), (18800, 3760, 1)]
    assert dataset.name == "synthetic-offline (NOT EMNIST)"


@pytest.mark.slow
def test_emnist_downloads_once_caches_arrays_and_keeps_cwd_clean(
        arrays, matlab_zip_bytes, server, keras_home, monkeypatch, capsys):
    """The download goes to $KERAS_HOME/datasets/emnist_matlab.npz over real HTTP with a
    progress bar, is decoded by extra-keras-datasets upright, leaves nothing in the working
    directory, and is never fetched again."""
    server.routes["/matlab.zip"] = (matlab_zip_bytes, "application/zip")
    monkeypatch.setenv(URL_ENV, server.url("/matlab.zip"))
    cwd = Path.cwd()
    dataset = load_dataset("emnist")
    assert "EMNIST matlab.zip" in capsys.readouterr().err
    assert dataset.name == "emnist-balanced" and server.hits == 1
    np.testing.assert_array_equal(dataset.x_train, arrays[0])
    np.testing.assert_array_equal(dataset.y_test, arrays[3])
    assert is_upright_l(dataset.x_train[0]) and dataset.y_train.dtype == np.int64
    assert (keras_home / "datasets" / ARCHIVE_NAME).read_bytes() == matlab_zip_bytes
    assert (keras_home / "datasets" / ARRAYS_NAME).is_file()
    assert Path.cwd() == cwd and list(cwd.iterdir()) == []
    assert not [p for p in (keras_home / "datasets").iterdir() if p.name.endswith(".part")]

    monkeypatch.setenv(URL_ENV, _dead_url())
    (keras_home / "datasets" / ARCHIVE_NAME).unlink()
    again = load_dataset("emnist", progress=False)
    np.testing.assert_array_equal(again.x_train, dataset.x_train)
    assert server.hits == 1


def test_emnist_replaces_a_cached_html_page(matlab_zip_bytes, server, keras_home, monkeypatch):
    """The HTML page that the package's dead address left in the cache is fetched anew."""
    cached = keras_home / "datasets" / ARCHIVE_NAME
    cached.parent.mkdir(parents=True)
    cached.write_text("<!DOCTYPE html><html><body>Page moved</body></html>")
    server.routes["/matlab.zip"] = (matlab_zip_bytes, "application/zip")
    monkeypatch.setenv(URL_ENV, server.url("/matlab.zip"))
    dataset = load_dataset("emnist", progress=False)
    assert is_upright_l(dataset.x_train[0]) and cached.read_bytes() == matlab_zip_bytes


def test_undecodable_archive_fails_clearly_without_litter(server, keras_home, monkeypatch):
    """When the package cannot parse the .mat, its ./balanced.mat is not left in the cwd."""
    broken = keras_home.parent / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("matlab/emnist-balanced.mat", b"MATLAB 5.0 MAT-file, garbage" * 10)
    server.routes["/matlab.zip"] = (broken.read_bytes(), "application/zip")
    monkeypatch.setenv(URL_ENV, server.url("/matlab.zip"))
    with pytest.raises(DataSourceError, match="could not be decoded"):
        load_dataset("emnist", progress=False)
    assert list(Path.cwd().iterdir()) == []


def test_server_answering_html_gives_a_clear_error(server, keras_home, monkeypatch):
    """An HTML page instead of the zip fails clearly and leaves nothing in the cache."""
    server.routes["/matlab.zip"] = (b"<html><body>Moved</body></html>", "text/html")
    monkeypatch.setenv(URL_ENV, server.url("/matlab.zip"))
    with pytest.raises(DataSourceError, match="HTML page"):
        load_dataset("emnist", progress=False)
    assert list((keras_home / "datasets").iterdir()) == []


def test_html_without_an_html_content_type_is_still_caught(server, tmp_path):
    """A server that labels its error page as a zip is caught by the content check."""
    server.routes["/m.zip"] = (b"<!DOCTYPE html><title>gone</title>", "application/zip")
    with pytest.raises(DataSourceError, match="HTML page"):
        download_archive(server.url("/m.zip"), tmp_path / "m.zip", progress=False)
    assert not (tmp_path / "m.zip").exists()


def test_download_rejects_a_zip_smaller_than_expected(matlab_zip_bytes, server, tmp_path):
    """The size floor for the official archive rejects a far smaller file."""
    server.routes["/m.zip"] = (matlab_zip_bytes, "application/zip")
    with pytest.raises(DataSourceError, match="about 700 MB"):
        download_archive(server.url("/m.zip"), tmp_path / "m.zip", min_bytes=10**8,
                         progress=False)
    assert list(tmp_path.iterdir()) == []


def test_download_rejects_a_zip_without_the_balanced_member(arrays, server, tmp_path):
    """A zip that is not EMNIST's matlab.zip is refused."""
    other = write_matlab_zip(tmp_path / "o.zip", arrays, member="matlab/emnist-letters.mat")
    server.routes["/m.zip"] = (other.read_bytes(), "application/zip")
    with pytest.raises(DataSourceError, match="emnist-balanced.mat"):
        download_archive(server.url("/m.zip"), tmp_path / "m.zip", progress=False)


def test_offline_names_the_other_two_sources(keras_home, monkeypatch):
    """No connection: one line that points to --data synthetic and --data PATH."""
    monkeypatch.setenv(URL_ENV, _dead_url())
    with pytest.raises(DataSourceError) as error:
        load_dataset("emnist", progress=False)
    message = str(error.value)
    assert "--data synthetic" in message and "--data PATH" in message and "\n" not in message


def test_l_glyph_check_rejects_every_wrong_orientation():
    """The orientation check itself tells an L from its mirror, flip and transpose."""
    image = l_glyph()
    assert is_upright_l(image)
    for wrong in (image.T, image[::-1], image[:, ::-1], np.rot90(image)):
        assert not is_upright_l(wrong)
