"""What every peer shares with RegServe: the models as RegServe loads them, and its answer fields.

A peer differs from RegServe only in how it is served (its HTTP layer, batching, processes),
so each loads the same SavedModels with :func:`server.runtime.loading.load_variant` and builds
each image's answer with RegServe's own functions. A user of BentoML or LitServe would serve
the SavedModel with TensorFlow, so the peers do, whichever runtime RegServe uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts import layout
from regserve_contracts.signature import SERVING_INPUT, to_model_input
from server.answers import agreement, input_echo, variant_answer
from server.runtime.loading import TENSORFLOW, LoadedVariant, load_variant

#: Labels listed per variant in a peer's answers.
TOP = 5


def load_variants(folder: Path) -> dict[str, LoadedVariant]:
    """Every variant's newest version in ``folder``."""
    variants = {}
    for variant_dir in layout.variant_dirs(folder):
        path = layout.newest_version(variant_dir)
        variants[variant_dir.name] = load_variant(variant_dir.name, path, int(path.name),
                                                  runtime=TENSORFLOW)
    return variants


def as_pixels(values: Any) -> np.ndarray:
    """Pixel values sent as JSON, rounded and clipped to uint8, as RegServe takes them."""
    return np.clip(np.rint(np.asarray(values, dtype=np.float64)), 0, 255).astype(np.uint8)


def answers(variants: dict[str, LoadedVariant], pixels: np.ndarray,
            kinds: Sequence[str]) -> list[dict[str, Any]]:
    """One RegServe-shaped answer per 28x28 uint8 image of ``pixels`` (a batch; ``kinds`` says
    how each image came, "image" or "pixels"): every variant's serving signature called once on
    the whole batch."""
    import tensorflow as tf

    batch = tf.constant(to_model_input(pixels))
    outputs = {name: {key: value.numpy() for key, value in
                      variant.model.signature(**{SERVING_INPUT: batch}).items()}
               for name, variant in variants.items()}
    found = []
    for row in range(len(pixels)):
        per_variant = {
            name: variant_answer(variant, {key: value[row] for key, value in
                                           outputs[name].items()}, TOP)
            for name, variant in variants.items()
        }
        found.append({"variants": per_variant, "agreement": agreement(per_variant),
                      "input": input_echo(pixels[row], kinds[row], kinds[row] == "pixels")})
    return found
