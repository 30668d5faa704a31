"""What one app holds at run time (models, batcher, metrics), kept on the app, not in globals."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from server.batcher import MicroBatcher
from server.metrics import Metrics
from server.registry import ModelRegistry

EXTENSION = "regserve"


@dataclass(frozen=True)
class ServerState:
    """The app's model registry, micro-batcher and metrics."""

    registry: ModelRegistry
    batcher: MicroBatcher
    metrics: Metrics


def current_state() -> ServerState:
    """The state of the app handling the current request."""
    return current_app.extensions[EXTENSION]
