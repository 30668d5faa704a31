"""The naive baseline: a plain Flask app that runs each variant's SavedModel one after another.

This is how such demos are usually deployed, and what the serving benchmark compares against:
:func:`naive_command` (plain gunicorn sync workers, no project config) with ``MODELS_DIR`` set,
started through :func:`server.launcher.start`. Each worker loads every variant with
``tf.saved_model.load`` and, per request, preprocesses the PNG with the project's own
``regserve_contracts.emnist_form.preprocess_bytes`` (so both servers do the same image work) and
calls the models in turn, batch of one each.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from flask import Flask, jsonify, request

from regserve_contracts import layout
from regserve_contracts.decoding import ImageInputError
from regserve_contracts.emnist_form import preprocess_bytes
from regserve_contracts.labels import LABELS
from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    to_model_input,
    zero_fraction_output,
)

TOP_K = 5


def naive_command(bind: str, workers: int, timeout: float) -> list[str]:
    """The baseline's gunicorn: ``workers`` sync workers, no project config, this module's app."""
    return [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
            "--timeout", str(int(timeout)), "--bind", bind, "benchmarks.naive_server:create_app()"]


class NoModelsError(RuntimeError):
    """``MODELS_DIR`` is unset or holds no complete model version."""


def load_models(models_dir: Path) -> dict:
    """Every variant's newest SavedModel, loaded the plain way, by variant name."""
    import tensorflow as tf

    models = {}
    for variant_dir in layout.variant_dirs(models_dir):
        models[variant_dir.name] = tf.saved_model.load(str(layout.newest_version(variant_dir)))
    if not models:
        raise NoModelsError(f"no trained models under {models_dir}")
    return models


def create_app(models_dir: str | os.PathLike | None = None) -> Flask:
    """The baseline app; ``models_dir`` defaults to the ``MODELS_DIR`` environment variable."""
    import tensorflow as tf

    folder = models_dir or os.environ.get("MODELS_DIR")
    if not folder:
        raise NoModelsError("set MODELS_DIR to the folder of trained models")
    models = load_models(Path(folder))
    app = Flask(__name__)

    @app.get("/readyz")
    def readyz():
        return jsonify(ready=True, variants=sorted(models))

    @app.post("/predict")
    def predict():
        wanted = [name for value in request.args.getlist("variant")
                  for name in value.split(",") if name]
        names = sorted(models) if not wanted or "all" in wanted else wanted
        unknown = [name for name in names if name not in models]
        if unknown:
            return jsonify(error=f"unknown variant(s): {', '.join(unknown)}"), 404
        try:
            pixels = preprocess_bytes(request.get_data())
        except ImageInputError as error:
            return jsonify(error=str(error)), 400
        image = tf.constant(to_model_input(pixels))
        answers = {}
        for name in names:  # one model after another, as the naive demo does
            outputs = models[name].signatures[SIGNATURE_KEY](**{SERVING_INPUT: image})
            probabilities = outputs[SERVING_PROBABILITIES].numpy()[0]
            top = np.argsort(probabilities)[::-1][:TOP_K]
            answers[name] = {
                "prediction": LABELS[int(top[0])],
                "top": [{"char": LABELS[int(i)], "probability": float(probabilities[i])}
                        for i in top],
                "activation_zero_fraction": {
                    layer: float(outputs[zero_fraction_output(layer)].numpy()[0])
                    for layer in ACTIVATION_LAYERS
                },
            }
        return jsonify(predictions=answers)

    return app
