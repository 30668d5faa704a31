"""Local EMNIST files a user already has: matlab.zip, gzip.zip, a folder of IDX .gz files, .npz."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from scipy.io import loadmat
from scipy.io.matlab import MatReadError

from regserve_contracts.labels import IMAGE_SIZE, LABELS
from trainer.data import Dataset, DataSourceError, validate
from trainer.data.emnist import MATLAB_MEMBER

IDX_NAMES = {
    "x_train": "emnist-balanced-train-images-idx3-ubyte",
    "y_train": "emnist-balanced-train-labels-idx1-ubyte",
    "x_test": "emnist-balanced-test-images-idx3-ubyte",
    "y_test": "emnist-balanced-test-labels-idx1-ubyte",
}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
# What can go wrong inside a damaged archive, from zipfile, gzip, zlib and scipy alike.
_READ_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError, MatReadError)

Arrays = dict[str, np.ndarray]


def load_local(path: Path) -> Dataset:
    """Load a local EMNIST-balanced file or folder, recognised by its content, not its suffix."""
    path = Path(path)
    if path.is_dir():
        return _dataset(path, _read_idx_folder(path), f"emnist-balanced (local {path.name})",
                        "IDX .gz files from EMNIST's gzip.zip")
    if path.suffix.lower() == ".mat":
        return _dataset(path, _guard(path, lambda: parse_emnist_mat(path.read_bytes())),
                        f"emnist-balanced (local {path.name})", "EMNIST's MATLAB file")
    if not zipfile.is_zipfile(path):
        raise DataSourceError(
            f"{path}: not a zip or .npz archive; expected EMNIST's matlab.zip or gzip.zip, "
            "a folder of the IDX .gz files, or an .npz with x_train, y_train, x_test, y_test"
        )
    # Zip and .npz alike are zip files; the members say which one this is (Keras even caches
    # matlab.zip as emnist_matlab.npz).
    with _guard(path, lambda: zipfile.ZipFile(path)) as archive:
        names = set(archive.namelist())
        if MATLAB_MEMBER in names:
            arrays = _guard(path, lambda: parse_emnist_mat(archive.read(MATLAB_MEMBER)))
            return _dataset(path, arrays, f"emnist-balanced (local {path.name})",
                            "EMNIST's matlab.zip (matlab/emnist-balanced.mat)")
        gz_members = {key: f"gzip/{name}.gz" for key, name in IDX_NAMES.items()}
        if any(member in names for member in gz_members.values()):
            arrays = {}
            for key, member in gz_members.items():
                if member not in names:
                    raise DataSourceError(f"{path}: gzip.zip has no member {member}")
                arrays[key] = _guard(path, lambda m=member, k=key: parse_idx(
                    gzip.decompress(archive.read(m)), images=k.startswith("x")))
            return _dataset(path, arrays, f"emnist-balanced (local {path.name})",
                            "EMNIST's gzip.zip (IDX files)")
        if all(f"{key}.npy" in names for key in NPZ_KEYS):
            return _dataset(path, _read_npz(path), f"npz:{path.name}", "arrays from an .npz file")
    raise DataSourceError(
        f"{path}: holds neither {MATLAB_MEMBER}, nor gzip/emnist-balanced-*.gz, nor the .npz "
        f"arrays {', '.join(NPZ_KEYS)} (members: {', '.join(sorted(names)[:6]) or 'none'})"
    )


def parse_emnist_mat(data: bytes) -> Arrays:
    """Decode EMNIST's MATLAB struct ``dataset`` the way extra-keras-datasets does."""
    mat = loadmat(io.BytesIO(data))
    if "dataset" not in mat:
        raise DataSourceError(f"the .mat file has no 'dataset' struct (found {sorted(mat)})")
    dataset = mat["dataset"]
    arrays: Arrays = {}
    try:
        for split in ("train", "test"):
            images = np.asarray(dataset[split][0, 0]["images"][0, 0])
            if images.ndim != 2 or images.shape[1] != IMAGE_SIZE * IMAGE_SIZE:
                raise DataSourceError(
                    f"{split} images have shape {images.shape}, expected (N, 784)")
            # Each row is a column-major 28x28 image: Fortran order makes it upright.
            arrays[f"x_{split}"] = images.reshape((-1, IMAGE_SIZE, IMAGE_SIZE), order="F")
            arrays[f"y_{split}"] = np.asarray(dataset[split][0, 0]["labels"][0, 0]).ravel()
        names = dataset.dtype.names or ()
        mapping = np.asarray(dataset["mapping"][0, 0]) if "mapping" in names else None
    except (KeyError, IndexError, ValueError) as exc:
        raise DataSourceError(f"the .mat 'dataset' struct lacks train/test images or labels "
                              f"({exc})") from exc
    if mapping is not None and mapping.ndim == 2 and mapping.shape[1] == 2:
        chars = "".join(chr(int(code)) for _, code in sorted(mapping.tolist()))
        if chars != LABELS:
            raise DataSourceError(f"label mapping {chars!r} is not EMNIST balanced's {LABELS!r}")
    return arrays


def parse_idx(data: bytes, *, images: bool) -> np.ndarray:
    """Decode one IDX file; images come back upright (EMNIST stores them transposed)."""
    ndim = 3 if images else 1
    if len(data) < 4 + 4 * ndim:
        raise DataSourceError(f"IDX file of {len(data)} bytes is too short")
    zero, dtype_code, dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08 or dims != ndim:
        raise DataSourceError(f"not an unsigned-byte IDX file with {ndim} dimension(s)")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DataSourceError(f"IDX header says {shape} but holds {body.size} bytes")
    array = body.reshape(shape)
    if images:
        if shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise DataSourceError(f"IDX images are {shape[1:]}, expected 28x28")
        array = array.transpose(0, 2, 1)
    return array


def _read_idx_folder(folder: Path) -> Arrays:
    """Read the four IDX files (gzipped or not) from ``folder`` or its ``gzip/`` subfolder."""
    arrays: Arrays = {}
    for key, name in IDX_NAMES.items():
        candidates = [base / f"{name}{ext}" for base in (folder, folder / "gzip")
                      for ext in (".gz", "")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataSourceError(f"{folder}: no {name}.gz (the folder needs all four IDX files)")
        raw = _guard(found, found.read_bytes)
        if found.suffix == ".gz":
            raw = _guard(found, lambda r=raw: gzip.decompress(r))
        arrays[key] = _guard(found, lambda r=raw, k=key: parse_idx(r, images=k.startswith("x")))
    return arrays


def _read_npz(path: Path) -> Arrays:
    """Read the four arrays of an .npz; images must already be upright uint8 (N, 28, 28)."""
    with _guard(path, lambda: np.load(path, allow_pickle=False)) as npz:
        arrays = {key: _guard(path, lambda k=key: npz[k]) for key in NPZ_KEYS}
    for split in ("train", "test"):
        x = arrays[f"x_{split}"]
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.dtype != np.uint8:
            raise DataSourceError(f"{path.name}: x_{split} is {x.dtype}, expected uint8 0-255")
        arrays[f"x_{split}"] = x
    return arrays


def _dataset(path: Path, arrays: Arrays, name: str, what: str) -> Dataset:
    """Turn decoded arrays into a validated Dataset with int64 labels."""
    labels = {}
    for key in ("y_train", "y_test"):
        y = np.asarray(arrays[key]).ravel()
        if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
            raise DataSourceError(f"{path.name}: {key} holds non-integer labels")
        if y.dtype.kind not in "iuf":
            raise DataSourceError(f"{path.name}: {key} is {y.dtype}, expected integer labels")
        labels[key] = y.astype(np.int64)
    x_train, x_test = (np.ascontiguousarray(arrays[k]) for k in ("x_train", "x_test"))
    description = (f"{what} at {path}: {len(x_train):,} training / {len(x_test):,} test "
                   "images, upright, white ink on black")
    return validate(Dataset(name, description, x_train, labels["y_train"], x_test,
                            labels["y_test"]))


def _guard(path: Path, read):
    """Run ``read()``, turning low-level decoding errors into one DataSourceError."""
    try:
        return read()
    except DataSourceError as exc:
        raise DataSourceError(f"{path}: {exc}") from exc
    except _READ_ERRORS as exc:
        raise DataSourceError(f"{path}: cannot read it ({type(exc).__name__}: {exc})") from exc
    except KeyError as exc:
        raise DataSourceError(f"{path}: missing {exc}") from exc
