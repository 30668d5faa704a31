"""Micro-batching: predictions that arrive together run as one batch in one runtime call."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

from server import cooperative
from server.runtime.engine import Outputs, SubsetEngine

log = logging.getLogger(__name__)


class _Job:
    __slots__ = ("engine", "names", "images", "future")

    def __init__(self, engine: SubsetEngine, names: tuple[str, ...], images: np.ndarray) -> None:
        self.engine, self.names, self.images = engine, names, images
        self.future: Future = Future()


class MicroBatcher:
    """One thread per worker process that runs queued predictions in batches.

    A batch closes when no announced prediction is still reading its input, when it holds
    ``max_batch`` images, or ``window`` seconds after its first job, whichever comes first. So a
    lone request never waits, and under load the requests that piled up while the runtime was
    busy run together: one call for 16 images costs far less than 16 calls for one.
    """

    def __init__(self, window: float = 0.002, max_batch: int = 32,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self.window, self.max_batch = window, max_batch
        self.on_batch = on_batch  # told each batch's size (for metrics)
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._coming = 0  # predictions announced whose job is not queued yet
        self._coming_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def ticket(self) -> Ticket:
        """Announce a prediction whose input is still being read; use as a context manager."""
        return Ticket(self)

    def _submit(self, engine: SubsetEngine, names: Sequence[str], images: np.ndarray) -> Future:
        if self.max_batch <= 1:
            future: Future = Future()
            future.set_result(engine.run_packed(images, names))
            return future
        self._ensure_thread()
        job = _Job(engine, tuple(names), images)
        self._queue.put(job)
        return job.future

    def _announce(self, delta: int) -> None:
        with self._coming_lock:
            self._coming += delta

    def _ensure_thread(self) -> None:
        # Started on first use, so it runs in the gunicorn worker, never in a parent that forks.
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="micro-batcher",
                                                    daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        idle = cooperative.idle()
        if idle is not None:
            return self._loop_cooperative(idle)
        while True:
            jobs = [self._queue.get()]
            size = len(jobs[0].images)
            deadline = time.monotonic() + self.window
            while size < self.max_batch and (self._coming > 0 or not self._queue.empty()):
                remaining = deadline - time.monotonic()
                try:
                    job = (self._queue.get(timeout=remaining) if remaining > 0
                           else self._queue.get_nowait())
                except queue.Empty:
                    break
                jobs.append(job)
                size += len(job.images)
            self._run(jobs)
            del jobs  # not kept while waiting: it would hold the engine of a reloaded model set

    def _loop_cooperative(self, idle: Callable[[], None]) -> None:
        """Under gevent every request is a greenlet of this one thread: a batch closes when the
        event loop has nothing else to run, so every request that could reach the queue has."""
        while True:
            jobs = [self._queue.get()]
            size = len(jobs[0].images)
            while size < self.max_batch:
                idle()
                if self._queue.empty():
                    break
                while size < self.max_batch and not self._queue.empty():
                    job = self._queue.get_nowait()
                    jobs.append(job)
                    size += len(job.images)
            self._run(jobs)
            del jobs

    def _run(self, jobs: list[_Job]) -> None:
        # Jobs for different engines (a reload in between) or variant sets run as separate calls.
        groups: dict[tuple[int, tuple[str, ...]], list[_Job]] = {}
        for job in jobs:
            groups.setdefault((id(job.engine), tuple(sorted(job.names))), []).append(job)
        for group in groups.values():
            try:
                images = group[0].images if len(group) == 1 else np.concatenate(
                    [job.images for job in group])
                outputs = group[0].engine.run_packed(images, group[0].names)
                if self.on_batch is not None:
                    self.on_batch(len(images))
            except BaseException as error:  # noqa: BLE001 - handed to every waiting request
                for job in group:
                    job.future.set_exception(error)
                continue
            start = 0
            for job in group:
                stop = start + len(job.images)
                job.future.set_result({name: packed[start:stop]
                                       for name, packed in outputs.items()})
                start = stop


class Ticket:
    """A prediction in progress: counted from its start so the batcher can wait for its input."""

    def __init__(self, batcher: MicroBatcher) -> None:
        self._batcher = batcher
        self._pending = False

    def __enter__(self) -> Ticket:
        self._batcher._announce(1)
        self._pending = True
        return self

    def __exit__(self, *exc_info) -> None:
        self._settle()

    def run(
        self, engine: SubsetEngine, names: Sequence[str], images: np.ndarray
    ) -> dict[str, Outputs]:
        """Outputs of ``names`` for ``images``, computed in a batch with other requests' images."""
        packed = self.run_packed(engine, names, images)
        return {name: engine.unpack(name, values) for name, values in packed.items()}

    def run_packed(
        self, engine: SubsetEngine, names: Sequence[str], images: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Like :meth:`run`, each variant's outputs packed as
        :meth:`SubsetEngine.run_packed` gives them: one array per variant, not one per output."""
        # Queued before the announcement is withdrawn, so the batcher never misses it.
        future = self._batcher._submit(engine, names, images)
        self._settle()
        return future.result()

    def _settle(self) -> None:
        if self._pending:
            self._pending = False
            self._batcher._announce(-1)
