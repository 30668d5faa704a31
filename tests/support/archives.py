"""Test helpers: small EMNIST-balanced archives in the official layouts, and an "L" to find."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from pathlib import Path

import numpy as np
from scipy.io import savemat

from regserve_contracts.labels import LABELS, NUM_CLASSES
from tests.support import SHARED_SAMPLE

SAMPLE = SHARED_SAMPLE
L_LABEL = LABELS.index("L")
IDX_NAMES = {
    "x_train": "emnist-balanced-train-images-idx3-ubyte",
    "y_train": "emnist-balanced-train-labels-idx1-ubyte",
    "x_test": "emnist-balanced-test-images-idx3-ubyte",
    "y_test": "emnist-balanced-test-labels-idx1-ubyte",
}


def l_glyph() -> np.ndarray:
    """An upright "L", white on black: ink down the left column and along the bottom row."""
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 6:9] = 255
    image[21:24, 6:22] = 255
    return image


def is_upright_l(image: np.ndarray) -> bool:
    """True when the ink forms an upright "L" (not mirrored, flipped or transposed)."""
    ink = image > 127
    return bool(ink[4:24, 6:9].all() and ink[21:24, 6:22].all()
                and not ink[:18, 12:].any() and not ink[:3].any())


def small_arrays(train_per_class: int = 5, test_per_class: int = 2, seed: int = 0):
    """Real sample images when the shared sample exists, else random blobs; image 0 is an "L"."""
    rng = np.random.default_rng(seed)
    if SAMPLE.is_file():
        with np.load(SAMPLE) as npz:
            pools = {split: (npz[f"x_{split}"], npz[f"y_{split}"]) for split in ("train", "test")}
    else:
        blobs = rng.integers(0, 256, size=(NUM_CLASSES * 10, 28, 28), dtype=np.uint8)
        pools = {split: (blobs, np.repeat(np.arange(NUM_CLASSES), 10)) for split in
                 ("train", "test")}
    out = []
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        x_pool, y_pool = pools[split]
        idx = np.concatenate([np.flatnonzero(y_pool == c)[:per_class] for c in range(NUM_CLASSES)])
        idx = rng.permutation(idx)
        x, y = x_pool[idx].copy(), y_pool[idx].astype(np.uint8)
        x[0], y[0] = l_glyph(), L_LABEL
        out += [x, y]
    return tuple(out)


def emnist_mat_bytes(x_train, y_train, x_test, y_test) -> bytes:
    """The MATLAB v5 struct ``dataset`` as in EMNIST's emnist-balanced.mat."""
    def split(x, y):
        # Each row is the image in column-major order (MATLAB's reshape makes it upright).
        rows = x.reshape(len(x), -1, order="F")
        return {"images": rows, "labels": y.reshape(-1, 1),
                "writers": np.zeros((len(x), 1), np.uint16)}

    mapping = np.array([[i, ord(c)] for i, c in enumerate(LABELS)], dtype=np.float64)
    buffer = io.BytesIO()
    savemat(buffer, {"dataset": {"train": split(x_train, y_train),
                                 "test": split(x_test, y_test), "mapping": mapping}},
            do_compression=True)
    return buffer.getvalue()


def write_matlab_zip(path: Path, arrays, member: str = "matlab/emnist-balanced.mat") -> Path:
    """EMNIST's matlab.zip layout (only the balanced member)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, emnist_mat_bytes(*arrays))
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file; images stored transposed, as EMNIST ships them."""
    if array.ndim == 3:
        array = array.transpose(0, 2, 1)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                     *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_gzip_zip(path: Path, arrays) -> Path:
    """EMNIST's gzip.zip layout: gzip/emnist-balanced-*-idx?-ubyte.gz."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, array in zip(IDX_NAMES.values(), arrays, strict=True):
            archive.writestr(f"gzip/{name}.gz", gzip.compress(idx_bytes(array)))
    return path


def write_idx_folder(folder: Path, arrays) -> Path:
    """The four IDX .gz files side by side, as after unzipping gzip.zip."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(IDX_NAMES.values(), arrays, strict=True):
        (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    return folder


def write_npz(path: Path, arrays) -> Path:
    """An .npz with x_train, y_train, x_test, y_test (already upright)."""
    np.savez(path, **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays, strict=True)))
    return path
