"""The BentoML 1.4 peer: the same SavedModels, preprocessing and answer fields, adaptive batching.

Served by the serving benchmark as ``bentoml serve benchmarks.peers.bentoml_service:RegServePeer``
with ``MODELS_DIR`` and ``PEER_WORKERS`` set. It is written the way BentoML's documentation
writes a batched image service: one batchable API per input kind, whose function receives the
requests BentoML's dispatcher grouped, preprocesses each image with
:func:`regserve_contracts.emnist_form.image_to_emnist` and calls every variant's serving signature
once on the whole batch. Uploads arrive as multipart ``images`` files (BentoML's image input),
pixels as JSON ``{"pixels": [28x28]}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
from PIL.Image import Image

from benchmarks.peers.common import answers, as_pixels, load_variants
from regserve_contracts.emnist_form import image_to_emnist

WORKERS = int(os.environ.get("PEER_WORKERS") or 2)
MAX_BATCH = 32
#: BentoML's upper bound on a request's wait for its batch; the dispatcher adapts below it.
MAX_LATENCY_MS = 1000


@bentoml.service(workers=WORKERS, traffic={"timeout": 60})
class RegServePeer:
    """Every variant's newest version, answered per image with RegServe's answer fields."""

    def __init__(self) -> None:
        self.variants = load_variants(Path(os.environ["MODELS_DIR"]))

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=MAX_LATENCY_MS,
                 route="/predict")
    def predict(self, images: list[Image]) -> list[dict[str, Any]]:
        """One answer per uploaded image."""
        pixels = np.stack([image_to_emnist(image) for image in images])
        return answers(self.variants, pixels, ["image"] * len(pixels))

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=MAX_LATENCY_MS,
                 route="/predict_pixels")
    def predict_pixels(self, pixels: np.ndarray) -> list[dict[str, Any]]:
        """One answer per 28x28 array of already preprocessed pixels."""
        return answers(self.variants, as_pixels(pixels), ["pixels"] * len(pixels))
