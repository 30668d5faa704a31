"""One MLflow tracking store for one command: opened on first use, off after its first failure.

Every call is guarded: a locked database, a server that went away or a folder that cannot be
written turns tracking off with one warning line, and training and export go on. MLflow is
imported here only, on first use (it takes seconds).
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from regserve_contracts import layout

#: MLflow's run states (mlflow.entities.RunStatus), spelled out so no caller imports MLflow.
FINISHED, FAILED, KILLED = "FINISHED", "FAILED", "KILLED"
PARENT_TAG = "mlflow.parentRunId"
#: The UI's "Source" column (MLflow's fluent API sets it, and the user; its client does not).
SOURCE_TAGS = {"mlflow.source.type": "LOCAL", "mlflow.source.name": "regserve trainer"}
#: Set unless the user chose otherwise: a server that went away should cost seconds, not
#: MLflow's minutes of retries with backoff, and MLflow's usage telemetry would phone home.
ENV_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "30", "MLFLOW_DISABLE_TELEMETRY": "true"}


class TrackingStore:
    """An MLflow store and experiment; each method returns ``None`` once tracking is off."""

    def __init__(self, uri: str, experiment: str, warn: Callable[[str], None]) -> None:
        self.uri, self.experiment, self.warn = uri, experiment, warn
        self.off = False
        self._client: Any = None
        self._experiment_id: str | None = None

    @property
    def client(self) -> Any:
        """The ``MlflowClient``, inside :meth:`guard` (``None`` before the store is opened)."""
        return self._client

    def guard(self, what: str, action: Callable[[], Any]) -> Any:
        """``action()``'s result; on any failure, one warning, tracking off and ``None``."""
        if self.off:
            return None
        try:
            if self._client is None:
                self._open()
            return action()
        except Exception as exc:  # noqa: BLE001 (any tracker failure must spare the model)
            if self.off:  # a guarded call inside ``action`` has warned already
                return None
            self.off = True
            reason = next(iter(str(exc).strip().splitlines()), "") or type(exc).__name__
            if len(reason) > 240:  # the cause ends a long message ("Connection refused")
                reason = f"{reason[:150]} ... {reason[-80:]}"
            self.warn(f"warning: MLflow tracking is off from here on: cannot {what} at "
                      f"{redact(self.uri)} ({type(exc).__name__}: {reason}); "
                      "training and export go on")
            return None

    def _open(self) -> None:
        for key, value in ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        check_sqlite(self.uri)
        from mlflow import MlflowClient

        # MLflow announces its tables at INFO and each of its retries at WARNING; what failed
        # is said once, by guard().
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        client = MlflowClient(tracking_uri=self.uri)
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            self._experiment_id = found.experiment_id
        else:
            self._experiment_id = client.create_experiment(
                self.experiment, artifact_location=artifact_root(self.uri))
        self._client = client

    def start(self, name: str, tags: Mapping[str, str], params: Mapping[str, str] | None = None,
              parent: str | None = None, start_time: float | None = None) -> str | None:
        """Create a run (a child of ``parent`` if given); its id."""
        def create() -> str:
            run_tags = {**SOURCE_TAGS, "mlflow.user": _user(), **tags,
                        **({PARENT_TAG: parent} if parent else {})}
            run = self._client.create_run(self._experiment_id, run_name=name, tags=run_tags,
                                          start_time=_ms(start_time))
            self._log(run.info.run_id, params=params or {})
            return run.info.run_id
        return self.guard("start a run", create)

    def log(self, run_id: str | None, *, metrics: Sequence[tuple[str, float, int]] = (),
            params: Mapping[str, str] | None = None, tags: Mapping[str, str] | None = None
            ) -> None:
        """Log ``(name, value, step)`` metrics, params and tags to a run."""
        if run_id is not None:
            self.guard("log to a run",
                        lambda: self._log(run_id, metrics, params or {}, tags or {}))

    def _log(self, run_id: str, metrics: Sequence[tuple[str, float, int]] = (),
             params: Mapping[str, str] | None = None, tags: Mapping[str, str] | None = None
             ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = _ms(None)
        self._client.log_batch(
            run_id, metrics=[Metric(key, value, now, step) for key, value, step in metrics],
            params=[Param(key, value) for key, value in (params or {}).items()],
            tags=[RunTag(key, value) for key, value in (tags or {}).items()])

    def artifact(self, run_id: str | None, path: Path) -> None:
        """Copy a small file into the run's artifacts."""
        if run_id is not None:
            self.guard("store an artifact", lambda: self._client.log_artifact(run_id, str(path)))

    def end(self, run_id: str | None, status: str = FINISHED, end_time: float | None = None,
            name: str | None = None) -> None:
        """Mark the run ended (and rename it, now that its version is known)."""
        def finish() -> None:
            if name:
                self._client.update_run(run_id, name=name)
            self._client.set_terminated(run_id, status, end_time=_ms(end_time))
        if run_id is not None:
            self.guard("end a run", finish)

    def find(self, tags: Mapping[str, str]) -> list[Any]:
        """The experiment's runs carrying all of ``tags`` (``[]`` once tracking is off)."""
        query = " and ".join(f"tags.`{key}` = '{_quote(value)}'" for key, value in tags.items())

        def search() -> list[Any]:
            found, token = [], None
            while True:
                page = self._client.search_runs([self._experiment_id], query, max_results=1000,
                                                page_token=token)
                found += list(page)
                token = page.token
                if not token:
                    return found
        return self.guard("search runs", search) or []


def check_sqlite(uri: str, timeout: float = 5.0) -> None:
    """Take and drop a write lock on an SQLite store: MLflow itself retries a store it cannot
    open for about 100 s, with a warning each time, before it gives up."""
    path = _sqlite_path(uri)
    if path is None:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=timeout)
    try:
        connection.execute("BEGIN IMMEDIATE")  # creates the file if need be; waits for a lock
        connection.rollback()
    finally:
        connection.close()


def _sqlite_path(uri: str) -> str | None:
    match = re.match(r"sqlite:///([^?]+)$", uri)
    return None if not match or match.group(1) == ":memory:" else match.group(1)


def artifact_root(uri: str) -> str | None:
    """Beside an SQLite store, its artifacts (MLflow's own default is ./mlruns, in whatever
    folder the command ran); a server chooses its own (``None``)."""
    path = _sqlite_path(uri)
    if path is None:
        return None
    return (Path(path).parent.resolve() / layout.TRACKING_ARTIFACTS_DIR).as_uri()


def redact(uri: str) -> str:
    """The URI without a password (``http://user:secret@host`` -> ``http://user:***@host``)."""
    return re.sub(r"(//[^/:@]+:)[^/@]+@", r"\1***@", uri)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "unknown"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _ms(seconds: float | None) -> int:
    return int((time.time() if seconds is None else seconds) * 1000)
