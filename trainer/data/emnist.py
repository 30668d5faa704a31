"""Real EMNIST balanced through extra-keras-datasets, fetched from NIST's current address."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from regserve_contracts import layout
from trainer.data import Dataset, DataSourceError, validate

OFFICIAL_URL = "https://biometrics.nist.gov/cs_links/EMNIST/matlab.zip"
URL_ENV = "REGSERVE_EMNIST_URL"
#: The name extra-keras-datasets asks Keras's cache for; the file is the zip despite the suffix.
ARCHIVE_NAME = "emnist_matlab.npz"
ARRAYS_NAME = "emnist_balanced_arrays.npz"
MATLAB_MEMBER = "matlab/emnist-balanced.mat"
#: matlab.zip is about 700 MB. No checksum is published, so a floor on the size (with the
#: Content-Length check and the zip's own CRCs) catches truncated downloads and error pages.
OFFICIAL_MIN_BYTES = 500_000_000
ALTERNATIVES = ("use --data synthetic (the bundled offline set, not EMNIST) or --data PATH "
                "to a local matlab.zip, gzip.zip or .npz")
_CACHE_FORMAT = 1
#: Connection failures and 5xx answers are retried by urllib3 (with backoff); a transfer cut
#: off mid-body resumes with an HTTP Range request, up to this many times in one run. The
#: partial file stays in the cache, so the next run resumes it too.
RETRIES = Retry(total=5, connect=2, read=3, status=4, backoff_factor=0.5,
                status_forcelist=(429, 500, 502, 503, 504), allowed_methods=("GET",),
                respect_retry_after_header=True)
RESUMES = 8


def default_cache_dir() -> Path:
    """``$KERAS_HOME/datasets`` (``~/.keras/datasets`` by default), read at call time."""
    return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "datasets"


def emnist_url() -> str:
    """The matlab.zip address: NIST's, unless ``REGSERVE_EMNIST_URL`` names a mirror."""
    return os.environ.get(URL_ENV) or OFFICIAL_URL


def load_emnist(cache_dir: Path | None = None, *, progress: bool = True) -> Dataset:
    """Load EMNIST balanced: decoded-array cache, else cached zip, else download once."""
    # Absolute before anything changes directory: the package's decoder runs in a scratch one.
    directory = (Path(cache_dir) if cache_dir is not None else default_cache_dir()).absolute()
    arrays_path = directory / ARRAYS_NAME
    if arrays_path.is_file():
        try:
            return _dataset(*_read_arrays(arrays_path))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, DataSourceError) as exc:
            _say(f"ignoring the unreadable array cache {arrays_path} ({exc}); decoding again",
                 progress)
    url = emnist_url()
    min_bytes = OFFICIAL_MIN_BYTES if url == OFFICIAL_URL else 0
    archive = directory / ARCHIVE_NAME
    if archive.is_file():
        try:
            verify_archive(archive, min_bytes=min_bytes, origin=str(archive))
        except DataSourceError as exc:
            # extra-keras-datasets 1.2.0 leaves the HTML page of its dead address here.
            _say(f"replacing the invalid cached {archive} ({exc})", progress)
            archive.unlink()
    if not archive.is_file():
        download_archive(url, archive, min_bytes=min_bytes, progress=progress)
    _say("decoding EMNIST balanced (once; later runs read the array cache)", progress)
    arrays = _decode_with_package(archive)
    dataset = _dataset(*arrays)
    _write_arrays(arrays_path, dataset)
    return dataset


def download_archive(url: str, target: Path, *, min_bytes: int = 0,
                     progress: bool = True) -> Path:
    """Download ``url`` to ``target`` through a ``.part`` file, verify it, rename it into place.

    Transient failures are retried (urllib3's :data:`RETRIES`); a transfer that breaks off
    resumes from the bytes already received with an HTTP Range request.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=RETRIES))
    session.mount("https://", HTTPAdapter(max_retries=RETRIES))
    try:
        with session, tqdm(unit="B", unit_scale=True, unit_divisor=1024,
                           desc="EMNIST matlab.zip", disable=not progress) as bar:
            for attempt in range(RESUMES + 1):
                before = _size(part)
                try:
                    if _fetch(session, url, part, bar):
                        break
                except (requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                    if attempt == RESUMES or _size(part) <= before:
                        raise  # no progress: urllib3 has retried the connection already
                    _say(f"the download broke off ({type(exc).__name__}) after "
                         f"{_size(part):,} bytes; resuming", progress)
        verify_archive(part, min_bytes=min_bytes, origin=url)
        part.chmod(0o644)  # a cache file is as readable as Keras's own
        os.replace(part, target)
    except requests.RequestException as exc:
        raise DataSourceError(f"cannot download EMNIST from {url} (no connection: "
                              f"{type(exc).__name__}); {ALTERNATIVES}") from exc
    except DataSourceError:
        part.unlink(missing_ok=True)  # a wrong or damaged file must not be resumed
        raise
    return target


def _fetch(session: requests.Session, url: str, part: Path, bar: tqdm) -> bool:
    """Append the rest of ``url`` to ``part``; True once it is complete."""
    have = _size(part)
    headers = {"Range": f"bytes={have}-"} if have else {}
    with session.get(url, stream=True, timeout=(10, 60), headers=headers) as response:
        if response.status_code == 416 and have:  # nothing left to send: the file is whole
            return True
        if response.status_code not in (200, 206):
            raise DataSourceError(f"{url} answered HTTP {response.status_code}, not "
                                  f"the EMNIST matlab.zip; {ALTERNATIVES}")
        if "text/html" in response.headers.get("Content-Type", ""):
            raise DataSourceError(_html_message(url))
        resumed = response.status_code == 206 and _range_start(response) == have
        length = int(response.headers.get("Content-Length") or 0) or None
        total = (have + length if resumed else length) if length is not None else None
        bar.reset(total=total)
        bar.update(have if resumed else 0)
        with open(part, "ab" if resumed else "wb") as out:
            # Small reads: a connection that breaks off loses at most one read's bytes.
            for chunk in response.iter_content(chunk_size=1 << 14):
                out.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size < total:
        raise requests.exceptions.ChunkedEncodingError(f"got {size:,} of {total:,} bytes")
    return True


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _range_start(response: requests.Response) -> int | None:
    """The first byte a 206 answer carries, from ``Content-Range: bytes START-END/TOTAL``."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def verify_archive(path: Path, *, min_bytes: int = 0, origin: str = "") -> None:
    """Raise DataSourceError unless ``path`` is a zip holding matlab/emnist-balanced.mat."""
    origin = origin or str(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        raise DataSourceError(_html_message(origin))
    if not zipfile.is_zipfile(path):
        raise DataSourceError(f"{origin} is not a zip archive ({size:,} bytes); {ALTERNATIVES}")
    if size < min_bytes:
        raise DataSourceError(f"{origin} gave {size:,} bytes; EMNIST's matlab.zip is about "
                              f"700 MB, so this is truncated or another file")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise DataSourceError(f"{origin} is a damaged zip archive ({exc})") from exc
    if MATLAB_MEMBER not in names:
        raise DataSourceError(f"{origin} has no {MATLAB_MEMBER}, so it is not EMNIST's "
                              f"matlab.zip (members: {', '.join(names[:5]) or 'none'})")


def _decode_with_package(archive: Path) -> tuple[np.ndarray, ...]:
    """Run extra_keras_datasets.emnist.load_data on ``archive`` without side effects."""
    from extra_keras_datasets import emnist as package  # imports TensorFlow: only when needed

    original_get_file = package.get_file

    def cached_get_file(fname, origin=None, **kwargs):
        # The package hard-codes a dead origin, and Keras reads KERAS_HOME once at import:
        # point it at the verified file in our cache directory instead.
        return original_get_file(fname, origin=origin, cache_dir=str(archive.parent),
                                 cache_subdir=str(archive.parent), **kwargs)

    root = logging.getLogger()
    saved_logging = root.level, list(root.handlers)
    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="regserve-emnist-") as scratch:
        # load_data writes ./balanced.mat; run it where that litter is deleted with the folder.
        package.get_file = cached_get_file
        os.chdir(scratch)
        try:
            (x_train, y_train), (x_test, y_test) = package.load_data(
                path=archive.name, type="balanced")
        except Exception as exc:  # the package raises anything; the user gets one line
            message = " ".join(str(exc).split())[:200]
            raise DataSourceError(f"{archive} could not be decoded ({type(exc).__name__}: "
                                  f"{message}); delete it to download again") from exc
        finally:
            os.chdir(old_cwd)
            package.get_file = original_get_file
            # load_data calls logging.basicConfig(level=INFO); keep the caller's logging.
            root.setLevel(saved_logging[0])
            root.handlers[:] = saved_logging[1]
    return x_train, y_train, x_test, y_test


def _dataset(x_train, y_train, x_test, y_test) -> Dataset:
    """Wrap arrays as the validated ``emnist-balanced`` Dataset."""
    x_train, x_test = (np.ascontiguousarray(x, dtype=np.uint8) for x in (x_train, x_test))
    y_train, y_test = (np.asarray(y).ravel().astype(np.int64) for y in (y_train, y_test))
    description = (f"EMNIST balanced (Cohen et al. 2017), real handwriting from NIST: "
                   f"{len(x_train):,} training / {len(x_test):,} test images, 47 classes")
    return validate(Dataset("emnist-balanced", description, x_train, y_train, x_test, y_test))


def _read_arrays(path: Path) -> tuple[np.ndarray, ...]:
    """Read the decoded-array cache written by :func:`_write_arrays`."""
    with np.load(path, allow_pickle=False) as npz:
        if int(npz["format"]) != _CACHE_FORMAT:
            raise DataSourceError(f"cache format {int(npz['format'])} is not {_CACHE_FORMAT}")
        return tuple(npz[key] for key in ("x_train", "y_train", "x_test", "y_test"))


def _write_arrays(path: Path, dataset: Dataset) -> None:
    """Write the decoded arrays uncompressed (fast to read back), atomically."""
    layout.write_atomic(path, lambda out: np.savez(
        out, format=np.int64(_CACHE_FORMAT), x_train=dataset.x_train, y_train=dataset.y_train,
        x_test=dataset.x_test, y_test=dataset.y_test))


def _html_message(origin: str) -> str:
    return (f"{origin} gave an HTML page, not the EMNIST matlab.zip (the address may have "
            f"moved; set {URL_ENV} to a working one); {ALTERNATIVES}")


def _say(message: str, progress: bool) -> None:
    """Status line on stderr, beside the progress bars, when progress output is wanted."""
    if progress:
        tqdm.write(message, file=sys.stderr)
