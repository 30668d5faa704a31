"""On real handwritten characters (the shared EMNIST sample): the baseline's calibration in its
metadata matches its SavedModel, and corruptions cost it accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from regserve_contracts import corruptions, layout
from regserve_contracts.signature import to_model_input
from regserve_contracts.variants import get_variant
from tests.support import SHARED_SAMPLE
from tests.support.reference_calibration import ece_by_loops

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def baseline(real_sample, tmp_path_factory):
    """``none`` trained two epochs on 3,000 real training images, and the data it saw."""
    from trainer.data.sources import load_dataset
    from trainer.train import TrainConfig, train_variant

    dataset = load_dataset(str(SHARED_SAMPLE), seed=0, limit=3000, progress=False)
    target = tmp_path_factory.mktemp("real-models")
    result = train_variant(get_variant("none"), dataset, TrainConfig(epochs=2, verbose=0), target)
    return result.version_dir, layout.read_metadata(result.version_dir), dataset


def test_the_ece_in_metadata_is_the_saved_models(baseline):
    from trainer.backfill import saved_model_predictor

    version_dir, metadata, dataset = baseline
    probabilities = np.asarray(saved_model_predictor(version_dir)(to_model_input(dataset.x_test)),
                               dtype=np.float64)
    ece, _ = ece_by_loops(probabilities, dataset.y_test)
    assert abs(metadata["calibration"]["ece"] - ece) <= 0.005


def test_every_corruption_has_an_accuracy_and_they_cost_the_baseline(baseline):
    _, metadata, dataset = baseline
    robustness = metadata["robustness"]
    assert set(robustness["corruptions"]) == set(corruptions.CORRUPTIONS)
    assert len(robustness["corruptions"]) >= 12
    assert all(0 <= accuracy <= 1 for accuracy in robustness["corruptions"].values())
    assert robustness["images"] == len(dataset.x_test) == 304
    assert robustness["mean_accuracy"] < robustness["clean_accuracy"] == pytest.approx(
        metadata["test"]["accuracy"], abs=1e-6)
