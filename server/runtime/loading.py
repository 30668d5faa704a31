"""Loading one version folder with the runtime that serves it: ONNX Runtime or TensorFlow."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts import layout
from regserve_contracts.metadata import Metadata, MetadataError
from regserve_contracts.signature import SERVING_PROBABILITIES, SIGNATURE_KEY
from server.runtime.engine import SubsetEngine

#: A version folder's identity: version number and the size and mtime of every file under it.
Fingerprint = tuple
AUTO, ONNX, TENSORFLOW = "auto", "onnx", "tensorflow"
RUNTIMES = (AUTO, ONNX, TENSORFLOW)
#: The Python modules each runtime needs (onnx merges the graphs, onnxruntime runs them).
NEEDS = {ONNX: ("onnxruntime", "onnx"), TENSORFLOW: ("tensorflow",)}
TF_EXTRA = "pip install 'regserve[serve-tf]'"


class ModelLoadError(Exception):
    """A version folder cannot be served; the message says why."""


@dataclass(frozen=True)
class RuntimeOptions:
    """Which runtime serves (``auto``: ONNX Runtime where every version has a twin) and how."""

    runtime: str = AUTO
    tf_intra_op_threads: int = 0  # 0: TensorFlow's own choice
    tf_inter_op_threads: int = 0
    ort_intra_op_threads: int = 1


def installed(runtime: str) -> bool:
    """Whether this environment has the modules ``runtime`` needs (none is imported)."""
    return all(importlib.util.find_spec(module) is not None for module in NEEDS[runtime])


def choose_runtime(setting: str, version_dirs: Iterable[Path]) -> str:
    """The runtime for a set of versions: the setting, or for ``auto`` ONNX Runtime when every
    version has its twin (or TensorFlow is not installed), else TensorFlow."""
    if setting != AUTO:
        return setting
    if not installed(ONNX):
        return TENSORFLOW
    if not installed(TENSORFLOW):
        return ONNX
    twins = all((Path(path) / layout.ONNX_FILE).is_file() for path in version_dirs)
    return ONNX if twins else TENSORFLOW


@dataclass(frozen=True)
class LoadedVariant:
    """One variant's served version: its model in the runtime that serves it, labels, metadata."""

    name: str
    version: int
    fingerprint: Fingerprint
    metadata: Mapping[str, Any] = field(repr=False)  # the document; read it through ``meta``
    labels: tuple[str, ...] = field(repr=False)
    model: Any = field(repr=False)  # tf_backend.SavedModel or ort_backend.OnnxTwin
    #: What answers computed once for this version (server.answers), not part of its identity.
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def meta(self) -> Metadata:
        """The metadata through its reader (keys from regserve_contracts.metadata)."""
        return Metadata(self.metadata)

    @property
    def title(self) -> str:
        """Readable description of the penalty, e.g. ``L2 on activations, lambda 0.01``."""
        return str(self.meta.label or self.name)

    @property
    def runtime(self) -> str:
        return self.model.runtime


def version_fingerprint(path: Path, version: int) -> Fingerprint:
    """Cheap identity of a version folder, so an unchanged folder is never loaded twice.

    Every file under it counts, ``variables/`` and ``model.onnx`` included: a version seen
    half-copied changes its fingerprint when the copy completes, and is tried again. A version
    is a handful of files, so this is a few stat calls.
    """
    stats = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            file = Path(root, name)
            try:
                stat = file.stat()
                stats.append((str(file.relative_to(path)), stat.st_size, stat.st_mtime_ns))
            except OSError:  # removed while we looked: the next scan sees the new state
                stats.append((str(file.relative_to(path)), None, None))
    return (version, tuple(stats))


def load_variant(name: str, path: Path, version: int,
                 options: RuntimeOptions = RuntimeOptions(), runtime: str | None = None,
                 ) -> LoadedVariant:
    """Load and check one version folder with ``runtime`` (default: chosen for it alone);
    raise :class:`ModelLoadError` saying what is wrong and how to fix it."""
    fingerprint = version_fingerprint(path, version)
    try:
        document = layout.read_metadata(path)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"metadata.json is unreadable: {error}") from None
    try:
        metadata = Metadata.parse(document)
    except MetadataError as error:
        raise ModelLoadError(str(error)) from None
    runtime = runtime or choose_runtime(options.runtime, [path])
    model = _load_model(Path(path), runtime, options)
    return LoadedVariant(name, version, fingerprint, metadata.raw,
                         _labels(metadata, model.probe()), model)


def _load_model(path: Path, runtime: str, options: RuntimeOptions):
    if not installed(runtime):
        if runtime == ONNX:
            raise ModelLoadError("onnxruntime is not installed: pip install 'regserve[serve]'")
        raise ModelLoadError(f"TensorFlow is not installed: serve the ONNX twin with "
                             f"REGSERVE_RUNTIME=auto or onnx, or {TF_EXTRA}")
    if runtime == ONNX:
        if not (path / layout.ONNX_FILE).is_file():
            raise ModelLoadError(
                f"no {layout.ONNX_FILE} (the ONNX twin ONNX Runtime serves): write it with "
                f"`python -m trainer --onnx --models-dir {path.parent.parent}`, or serve the "
                f"SavedModel with TensorFlow ({TF_EXTRA}, REGSERVE_RUNTIME=tensorflow)")
        from server.runtime.ort_backend import OnnxTwin

        what, load = layout.ONNX_FILE, lambda: OnnxTwin.load(path / layout.ONNX_FILE,
                                                            options.ort_intra_op_threads)
    else:
        from server.runtime.tf_backend import SavedModel, configure_tensorflow

        def load():
            configure_tensorflow(options.tf_intra_op_threads, options.tf_inter_op_threads)
            return SavedModel.load(path)

        what = "the SavedModel"
    try:
        return load()
    except Exception as error:  # both runtimes (and protobuf) raise many kinds for broken files
        message = " ".join(str(error).split())[:300] or type(error).__name__
        raise ModelLoadError(f"{what} cannot be loaded: {message}") from None


def _labels(metadata: Metadata, probe: Mapping[str, np.ndarray]) -> tuple[str, ...]:
    if SERVING_PROBABILITIES not in probe:
        raise ModelLoadError(
            f"the '{SIGNATURE_KEY}' signature has no '{SERVING_PROBABILITIES}' output"
        )
    for key, value in probe.items():
        rank = 2 if key == SERVING_PROBABILITIES else 1
        if len(value.shape) != rank or value.shape[0] != 1:
            raise ModelLoadError(
                f"output {key!r} has shape {list(value.shape)}, expected rank {rank}"
            )
    classes = int(np.shape(probe[SERVING_PROBABILITIES])[1])
    try:
        return metadata.label_names(classes)
    except KeyError as error:
        raise ModelLoadError(f"metadata.json labels lack class {error} of {classes}") from None


def build_engine(runtime: str, variants: Mapping[str, LoadedVariant], subset_cache: int,
                 options: RuntimeOptions = RuntimeOptions()) -> SubsetEngine:
    """The fused engine over ``variants`` (keyed as requests address them), all of ``runtime``."""
    models = {key: variant.model for key, variant in variants.items()}
    if runtime == ONNX:
        from server.runtime import ort_backend

        return ort_backend.build_engine(models, subset_cache, options.ort_intra_op_threads)
    from server.runtime import tf_backend

    return tf_backend.build_engine(models, subset_cache)
