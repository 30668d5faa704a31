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


LARGE_DECODES = """
import sys, threading
from server.runtime.memory import return_large_buffers
if sys.argv[1] == "fixed":
    assert return_large_buffers()
from benchmarks.hostile import png
from server.intake import files
from server.settings import ServerSettings

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

settings, data, small = ServerSettings(), png(2048), png(280)
def decode(body):
    files.to_emnist(files.open_upload(body, settings), settings)
decode(small)
start = rss_mb()
for _ in range(3):
    decode(data)
    for _ in range(20):
        decode(small)
thread = threading.Thread(target=decode, args=(data,))
thread.start()
thread.join()
print(rss_mb() - start)
"""


def test_a_decoded_large_image_goes_back_to_the_system_when_freed():
    """Three PNGs at the pixel limit (16 MB each as RGBA) and one more on another thread, then
    RSS: with the mmap threshold fixed (as every worker sets it) within 8 MB of where it began;
    the control, glibc's moving threshold, keeps 20 MB or more (37 measured)."""
    import subprocess
    import sys

    grown = {}
    for mode in ("fixed", "moving"):
        done = subprocess.run([sys.executable, "-c", LARGE_DECODES, mode], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        grown[mode] = float(done.stdout.split()[-1])
    print(f"\nRSS kept after 4 large decodes: {grown} MB")
    assert grown["fixed"] < 8, grown
    assert grown["moving"] >= 20, grown
