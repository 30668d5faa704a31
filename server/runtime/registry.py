"""The loaded models: each variant's versions by policy, failures, hot reload by whole-set swaps."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts import layout
from regserve_contracts.signature import INPUT_SHAPE
from regserve_contracts.variants import VARIANT_NAMES
from server.runtime.engine import SubsetEngine
from server.runtime.loading import (
    Fingerprint,
    LoadedVariant,
    ModelLoadError,
    RuntimeOptions,
    build_engine,
    choose_runtime,
    load_variant,
    version_fingerprint,
)
from server.runtime.memory import release_memory, trim_heap
from server.runtime.selection import (
    ALL_VARIANTS,
    DEFAULT_MAX_VARIANTS,
    LATEST,
    VersionPolicy,
    choose_variants,
    split_key,
    version_key,
)

__all__ = ["FailedVariant", "LoadedVariant", "ModelLoadError", "ModelRegistry", "Snapshot",
           "load_variant", "version_fingerprint"]
log = logging.getLogger(__name__)
#: Seconds before a failed version is tried again although nothing under it changed, doubling
#: per failure up to the cap: a fault outside the folder (memory, a mount) may clear by itself.
RETRY_BACKOFF, RETRY_BACKOFF_CAP = 30.0, 600.0


@dataclass(frozen=True)
class FailedVariant:
    """A variant version that could not be loaded, and why."""

    name: str
    version: int
    fingerprint: Fingerprint
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "error": self.error}


@dataclass(frozen=True)
class Snapshot:
    """Everything one request needs, swapped as one reference: in-flight requests keep theirs."""

    variants: dict[str, LoadedVariant]
    failed: dict[str, FailedVariant]
    engine: SubsetEngine | None
    generation: int = 0
    #: Loaded versions other than each variant's newest loaded one, keyed ``name@version``.
    older: dict[str, LoadedVariant] = field(default_factory=dict)
    #: Complete versions on disk per variant considered, and a note on variants not loaded.
    on_disk: dict[str, tuple[int, ...]] = field(default_factory=dict)
    skipped_note: str | None = None
    #: The runtime every loaded version runs on (``onnx`` or ``tensorflow``); None before a scan.
    runtime: str | None = None

    def resolve(self, key: str) -> tuple[str, LoadedVariant] | None:
        """``name`` or ``name@version`` -> (the engine's name for it, the variant), or None."""
        try:
            name, version = split_key(key)
        except ValueError:
            return None
        newest = self.variants.get(name)
        if newest is not None and version in (None, newest.version):
            return name, newest
        older = self.older.get(key) if version is not None else None
        return (key, older) if older is not None else None

    def versions_of(self, name: str) -> list[LoadedVariant]:
        """Every loaded version of ``name``, oldest first."""
        found = [v for v in self.older.values() if v.name == name]
        found += [self.variants[name]] if name in self.variants else []
        return sorted(found, key=lambda variant: variant.version)

    def failures(self) -> list[dict[str, Any]]:
        """Failed versions as JSON; ``serving_version`` says if an older version still serves."""
        return [
            {**failure.to_dict(),
             "serving_version": self.variants[name].version if name in self.variants else None}
            for name, failure in self.failed.items()
        ]


class ModelRegistry:
    """Loads ``models_dir`` and keeps it current; :attr:`snapshot` is what requests use."""

    def __init__(self, models_dir: Path, warmup_batch_sizes: Iterable[int] = (1,),
                 subset_cache: int = 16, version_policy: VersionPolicy = LATEST,
                 variant_patterns: tuple[str, ...] = ALL_VARIANTS,
                 max_variants: int = DEFAULT_MAX_VARIANTS,
                 options: RuntimeOptions | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.options = options or RuntimeOptions()
        self.version_policy = version_policy
        self.variant_patterns, self.max_variants = tuple(variant_patterns), max_variants
        self.warmup_batch_sizes = tuple(warmup_batch_sizes)
        self.subset_cache = subset_cache
        self.snapshot = Snapshot({}, {}, None)
        self.listeners: list[Callable[[Snapshot], None]] = []
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Per variant: failures of its newest version in a row, and when to try it again.
        self._retry: dict[str, tuple[int, float]] = {}
        self._runtime: str | None = None  # chosen at the first scan that finds versions

    def refresh(self) -> bool:
        """Load what changed on disk and swap in a new snapshot; return whether anything changed."""
        with self._reload_lock:
            current = self.snapshot
            variants, failed, older, on_disk = {}, {}, {}, {}
            dirs = {d.name: d for d in layout.variant_dirs(self.models_dir)}
            choice = choose_variants(sorted(dirs, key=_order), self.variant_patterns,
                                     self.max_variants)
            plans = {}
            for name in choice.chosen:
                found = layout.versions(dirs[name])
                on_disk[name] = tuple(found)
                plans[name] = self.version_policy.select(found)
            if self._runtime is None and any(plans.values()):
                # Chosen once, at the first scan that finds versions; hot reloads keep it, so a
                # version copied without its twin fails alone rather than moving every model
                # to another runtime (a restart chooses afresh).
                self._runtime = choose_runtime(self.options.runtime, [
                    dirs[name] / str(v) for name, wanted in plans.items() for v in wanted])
            for name, wanted in plans.items():
                if wanted:
                    self._plan(dirs[name], current, variants, failed, wanted)
                    self._plan_older(dirs[name], wanted, current, variants, older, failed)
            variants = dict(sorted(variants.items(), key=lambda item: _order(item[0])))
            older = dict(sorted(older.items(), key=lambda i: (_order(i[1].name), i[1].version)))
            note = choice.note(self.max_variants)
            unchanged = failed == current.failed and note == current.skipped_note and (
                [(n, id(v)) for n, v in [*variants.items(), *older.items()]]
                == [(n, id(v)) for n, v in [*current.variants.items(), *current.older.items()]]
            )
            if unchanged:
                return False
            started = time.perf_counter()
            engine = None
            if variants:
                engine = build_engine(self._runtime, {**variants, **older}, self.subset_cache,
                                      self.options)
                engine.warm_up([size for size in self.warmup_batch_sizes
                                if size <= WARM_BEFORE_SWAP])
                if older:  # plain /predict asks for the newest versions: build that set now too
                    engine.run(np.zeros((1, *INPUT_SHAPE), np.float32), list(variants))
            self.snapshot = Snapshot(variants, failed, engine, current.generation + 1, older,
                                     on_disk, note, self._runtime)
            if note:
                log.warning("not serving every variant on disk: %s", note)
            served = [f"{v.name} v{v.version}" for v in [*variants.values(), *older.values()]]
            # Worded so that a variant called "none" cannot read as a list of failures.
            log.info("serving %d model version(s) on %s: %s (fused and warmed in %.2f s); %s",
                     len(served), self._runtime, ", ".join(served) or "(nothing)",
                     time.perf_counter() - started,
                     f"{len(failed)} failed to load: " + ", ".join(
                         f"{n} v{f.version}" for n, f in failed.items())
                     if failed else "every version found loaded")
            del current  # the old set: freed below unless a request still holds it
        for listener in self.listeners:
            listener(self.snapshot)
        release_memory()
        if engine is not None:
            # The larger batch sizes' working memory (about 20 MB for 8 variants at 32) comes
            # after the old set is gone, not on top of both sets.
            engine.warm_up([size for size in self.warmup_batch_sizes
                            if size > WARM_BEFORE_SWAP])
            trim_heap()  # the warm-up's buffers; nothing new to collect
        return True

    def _plan(self, variant_dir: Path, current: Snapshot, variants: dict, failed: dict,
              wanted: list[int]) -> None:
        name, found = variant_dir.name, layout.versions(variant_dir)
        newest = wanted[-1]  # the newest version the policy wants
        fingerprint = version_fingerprint(variant_dir / str(newest), newest)
        serving, broken = current.variants.get(name), current.failed.get(name)
        if serving is not None and serving.fingerprint == fingerprint:
            variants[name] = serving
            return
        if broken is not None and broken.fingerprint == fingerprint and not self._retry_due(name):
            failed[name] = broken  # tried already, nothing under it changed: keep as is
            if serving is not None:
                variants[name] = serving
            return
        # A variant not served yet falls back to older versions; one served keeps its version.
        candidates = ([newest] if serving is not None
                      else sorted((v for v in found if v <= newest), reverse=True))
        for version in candidates:
            path = variant_dir / str(version)
            try:
                variants[name] = self._load(name, path, version)
                log.info("loaded %s version %d from %s", name, version, path)
                break
            except ModelLoadError as error:
                log.error("cannot load %s version %d from %s: %s", name, version, path, error)
                if version == newest:
                    failed[name] = FailedVariant(name, newest, fingerprint, str(error))
        if name in failed:
            attempts = self._retry.get(name, (0, 0.0))[0] + 1
            delay = min(RETRY_BACKOFF_CAP, RETRY_BACKOFF * 2 ** (attempts - 1))
            self._retry[name] = (attempts, time.monotonic() + delay)
        else:
            self._retry.pop(name, None)
        if name not in variants and serving is not None:
            variants[name] = serving

    def _load(self, name: str, path: Path, version: int) -> LoadedVariant:
        return load_variant(name, path, version, self.options, runtime=self._runtime)

    def _retry_due(self, name: str) -> bool:
        """Whether a failed version's backoff has run out (it is tried again, unchanged)."""
        return time.monotonic() >= self._retry.get(name, (0, float("inf")))[1]

    def _plan_older(self, variant_dir: Path, wanted: list[int], current: Snapshot,
                    variants: dict, older: dict, failed: dict) -> None:
        """Load the policy's other versions (``latest:N``, ``all``, ``specific``) as ``name@v``."""
        name = variant_dir.name
        primary = variants.get(name)
        for version in wanted:
            if primary is None or version >= primary.version:
                continue  # the newest loaded version is served as plain ``name``
            key, path = version_key(name, version), variant_dir / str(version)
            fingerprint = version_fingerprint(path, version)
            # A version served before, plainly or as name@v, is reused rather than reloaded.
            reusable = [current.older.get(key), current.variants.get(name)]
            same = [v for v in reusable if v is not None and v.version == version
                    and v.fingerprint == fingerprint]
            if same:
                older[key] = same[0]
                continue
            broken = current.failed.get(key)
            if broken is not None and broken.fingerprint == fingerprint:
                failed[key] = broken
                continue
            try:
                older[key] = self._load(name, path, version)
                log.info("loaded %s version %d from %s", name, version, path)
            except ModelLoadError as error:
                log.error("cannot load %s version %d from %s: %s", name, version, path, error)
                failed[key] = FailedVariant(name, version, fingerprint, str(error))

    def start_polling(self, interval: float) -> None:
        """Check ``models_dir`` for new versions every ``interval`` seconds, in a daemon thread."""
        if interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._poll, args=(interval,),
                                        name="model-reloader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (the thread ends after its current check)."""
        self._stop.set()

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # a bad scan must not kill reloading for good
                log.exception("reloading models from %s failed", self.models_dir)


#: Batch sizes warmed before a new model set is served; larger ones right after the swap.
WARM_BEFORE_SWAP = 8

def _order(name: str) -> tuple[int, str]:
    """The registry's order first (the experiment's table), then custom variants by name."""
    return (VARIANT_NAMES.index(name), "") if name in VARIANT_NAMES else (len(VARIANT_NAMES), name)
