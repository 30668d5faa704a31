"""The LitServe peer: the same SavedModels, preprocessing and answer fields, LitServe's batching.

Started by the serving benchmark as ``python -m benchmarks.peers.litserve_service HOST PORT``
with ``MODELS_DIR`` and ``PEER_WORKERS`` set; ready when ``GET /health`` answers 200. Written
the way LitServe's documentation writes a batched service: a :class:`litserve.LitAPI` whose
``decode_request`` turns one request into a 28x28 image (an upload through
:func:`regserve_contracts.emnist_form.preprocess_bytes`, RegServe's own decode and preprocessing;
pixels as sent), whose ``predict`` gets the images LitServe batched and calls every variant's
serving signature once on them, with ``PEER_WORKERS`` inference processes on the CPU. Uploads
arrive as multipart ``images`` files at ``/predict``, pixels as JSON ``{"pixels": [28x28]}``
at ``/predict_pixels`` (the BentoML peer's bodies).

No ``from __future__ import annotations`` here: LitServe reads ``decode_request``'s annotation
as a class (``fastapi.Request``) to decide to parse the body; a string would not match.
"""


import os
import sys
from pathlib import Path
from typing import Any

import litserve as ls
import numpy as np
from fastapi import Request

from benchmarks.peers.common import answers, as_pixels, load_variants
from regserve_contracts.emnist_form import preprocess_bytes

MAX_BATCH = 32
#: Seconds LitServe waits to fill a batch (its documentation's examples use 0.001-0.05).
BATCH_TIMEOUT = 0.005


class RegServeLitAPI(ls.LitAPI):
    """Every variant's newest version, answered per image with RegServe's answer fields."""

    def setup(self, device: str) -> None:
        self.variants = load_variants(Path(os.environ["MODELS_DIR"]))

    def decode_request(self, request: Request) -> tuple[str, np.ndarray]:
        if "pixels" in request:  # JSON; a batch of one, as the BentoML peer takes it
            return "pixels", as_pixels(request["pixels"]).reshape(-1, 28, 28)[0]
        return "image", preprocess_bytes(request["images"].file.read())

    def batch(self, inputs: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
        return inputs  # kinds differ per request: predict stacks the images itself

    def predict(self, inputs: list[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
        return answers(self.variants, np.stack([pixels for _, pixels in inputs]),
                       [kind for kind, _ in inputs])

    def unbatch(self, output: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return output

    def encode_response(self, output: dict[str, Any]) -> dict[str, Any]:
        return output


def main(host: str, port: int) -> None:
    workers = int(os.environ.get("PEER_WORKERS") or 2)
    apis = [RegServeLitAPI(max_batch_size=MAX_BATCH, batch_timeout=BATCH_TIMEOUT, api_path=path)
            for path in ("/predict", "/predict_pixels")]
    server = ls.LitServer(apis, accelerator="cpu", workers_per_device=workers, timeout=60)
    server.run(host=host, port=port, num_api_servers=1, generate_client_file=False,
               log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
