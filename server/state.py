"""What one app holds at run time (settings, models, batcher, metrics), kept on the app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from server.metrics import Metrics
from server.runtime.batcher import MicroBatcher
from server.runtime.registry import ModelRegistry
from server.settings import ServerSettings

EXTENSION = "regserve"


@dataclass(frozen=True)
class ServerState:
    """The app's model registry, micro-batcher, metrics and the settings it was built with."""

    registry: ModelRegistry
    batcher: MicroBatcher
    metrics: Metrics
    settings: ServerSettings


def current_state() -> ServerState:
    """The state of the app handling the current request."""
    return current_app.extensions[EXTENSION]
