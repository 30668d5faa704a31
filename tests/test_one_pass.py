"""One training runs its model over the test set once; the measurements are pure functions of
that pass, the test loss is what Keras' evaluate reports, and one builder writes metadata.json."""

from __future__ import annotations

import numpy as np
import pytest

from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.labels import NUM_CLASSES
from regserve_contracts.signature import to_model_input
from regserve_contracts.variants import get_variant
from trainer import beyond, evaluation
from trainer.data.sources import load_dataset
from trainer.penalty_views import PRUNING_THRESHOLDS


@pytest.fixture(scope="module")
def tiny():
    """470 synthetic test images and 94 training images: enough to fit a few steps."""
    return load_dataset("synthetic", limit=94, seed=3, progress=False)


def fitted(name: str, tiny):
    import keras

    from trainer.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model(get_variant(name))
    model.fit(to_model_input(tiny.x_train), keras.utils.to_categorical(tiny.y_train, NUM_CLASSES),
              epochs=1, batch_size=47, verbose=0)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("name", ["none", "l2_kernel_bias", "l1_activity"])
def test_the_test_loss_from_one_pass_is_what_keras_evaluate_reports(name, tiny):
    """Cross-entropy of the pass's probabilities plus the weight and activity penalties equals
    Keras' evaluate (at another batch size: Keras divides activity penalties by the batch)."""
    import keras

    model = fitted(name, tiny)
    x_test = to_model_input(tiny.x_test)
    answers = evaluation.evaluation_pass(model, x_test)
    block = evaluation.loss_and_accuracy(model, answers, tiny.y_test)
    loss, accuracy = model.evaluate(x_test, keras.utils.to_categorical(tiny.y_test, NUM_CLASSES),
                                    batch_size=100, verbose=0)
    assert block["loss"] == pytest.approx(loss, rel=1e-4)
    assert block["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    variant = get_variant(name)
    if variant.where == "kernel_bias":  # lambda * sum of squares, typed out
        weights = [w for layer in ("conv1", "conv2", "dense1", "output")
                   for w in model.get_layer(layer).get_weights()]
        expected = variant.lam * sum(float(np.sum(np.square(w, dtype=np.float64)))
                                     for w in weights)
        assert evaluation.weight_penalty(model) == pytest.approx(expected, rel=1e-5)
    else:
        assert evaluation.weight_penalty(model) == 0.0
    assert (answers.activity_penalty > 0) == (variant.where == "activity")


@pytest.mark.slow
def test_a_training_passes_over_the_test_set_once(tiny, tmp_path, monkeypatch):
    """Keras' evaluate and predict are never called; the trained model runs over the test
    images in one pass, and again only as each pruned copy of itself; metadata.json keeps
    the loss Keras' evaluate gives for that model."""
    import keras

    from trainer.train import TrainConfig, train_variant

    passes, full_predictions, keras_losses = [], [], []
    original_pass, original_predict_all = evaluation.evaluation_pass, beyond.predict_all
    original_evaluate = keras.Model.evaluate
    x_test = to_model_input(tiny.x_test)

    def one_pass(model, images, *args, **kwargs):
        passes.append(len(images))
        keras_losses.append(original_evaluate(model, x_test, keras.utils.to_categorical(
            tiny.y_test, NUM_CLASSES), batch_size=94, verbose=0)[0])
        return original_pass(model, images, *args, **kwargs)

    def spy_predict_all(predict, images, *args, **kwargs):
        if images.shape == x_test.shape and np.array_equal(images, x_test):
            full_predictions.append(1)
        return original_predict_all(predict, images, *args, **kwargs)

    def refusing(method):
        def refuse(model, *args, **kwargs):  # fit's validation goes through evaluate: allowed
            images = kwargs.get("x", args[0] if args else None)
            if images is not None and np.shape(images) == x_test.shape:
                raise AssertionError(f"a training must not call Keras' {method.__name__} on "
                                     "the test set")
            return method(model, *args, **kwargs)
        return refuse

    monkeypatch.setattr("trainer.train.evaluation_pass", one_pass)
    monkeypatch.setattr("trainer.train.predict_all", spy_predict_all)
    monkeypatch.setattr("trainer.beyond.predict_all", spy_predict_all)
    monkeypatch.setattr(keras.Model, "evaluate", refusing(original_evaluate))
    monkeypatch.setattr(keras.Model, "predict", refusing(keras.Model.predict))
    result = train_variant(get_variant("l1_activity"), tiny,
                           TrainConfig(epochs=1, batch_size=47, verbose=0), tmp_path)
    assert passes == [len(tiny.x_test)]
    assert len(full_predictions) == len(PRUNING_THRESHOLDS) - 1  # the pruned copies only
    metadata = layout.read_metadata(result.version_dir)
    assert metadata[md.TEST]["loss"] == pytest.approx(keras_losses[0], rel=1e-4)
    pruning = metadata[md.PRUNING]
    assert pruning[0]["threshold"] == 0 and pruning[0]["test_accuracy"] == result.test_accuracy
    assert metadata[md.TRAINING]["optimizer"] == md.OPTIMIZER == "adam"
    assert md.Metadata.parse(metadata).missing() == [md.SWEEP, md.REPEAT]


def test_the_metadata_builder_refuses_a_block_it_does_not_know():
    with pytest.raises(md.MetadataError, match="not a metadata block: surprise"):
        md.build_metadata(
            variant={}, labels={"0": "0"}, data={}, training={}, history={}, test={"loss": 1,
            "accuracy": 0}, parameters=1, weight_sparsity={}, weights_sha256="", serving={},
            activation_sparsity_test={}, training_seconds=1, samples_per_second=1, created="",
            blocks={"surprise": 1})
