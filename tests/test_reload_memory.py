"""A reload lets go of the old model set: once no request holds it, its engine (sessions and
merged graphs) is freed, even after the batch thread has run it."""

from __future__ import annotations

import gc
import shutil
import weakref

import numpy as np

from regserve_contracts import layout
from regserve_contracts.signature import INPUT_SHAPE
from server.runtime.batcher import MicroBatcher
from server.runtime.registry import ModelRegistry
from tests.support.models import copy_models


def publish(models, variant: str) -> None:
    with layout.new_version(models, variant) as staged:
        shutil.copytree(layout.newest_version(models / variant), staged.path, dirs_exist_ok=True)


def test_the_old_engine_is_freed_after_a_reload_once_no_request_holds_it(models_dir, tmp_path):
    models = copy_models(models_dir, tmp_path, ["none", "l2_activity"])
    registry = ModelRegistry(models, (1,))
    registry.refresh()
    batcher = MicroBatcher(window=0.0, max_batch=8)
    old = registry.snapshot.engine
    images = np.zeros((1, *INPUT_SHAPE), np.float32)
    with batcher.ticket() as ticket:  # the batch thread runs the old engine once
        ticket.run(old, list(registry.snapshot.variants), images)
    gone = weakref.ref(old)
    del old, ticket
    publish(models, "none")
    assert registry.refresh()
    gc.collect()
    assert gone() is None, gc.get_referrers(gone())
    assert registry.snapshot.variants["none"].version == 2
