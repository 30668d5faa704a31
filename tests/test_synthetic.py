"""The bundled offline set: EMNIST's form, balanced, deterministic, honest about what it is."""

from __future__ import annotations

import numpy as np
import pytest

from regserve_contracts.labels import LABELS, NUM_CLASSES
from tests.support import NO_SAMPLE, SHARED_SAMPLE
from trainer.data import Dataset, DataSourceError, validate
from trainer.data.strokes import forms_for_class, glyph_table, overshoot, resample, trim
from trainer.data.synthetic import balanced_labels, generate, load_synthetic

REAL_SAMPLE = SHARED_SAMPLE


@pytest.fixture(scope="module")
def small() -> Dataset:
    """Two images per class for training and one per class (plus a remainder) for testing."""
    return load_synthetic(train_size=2 * NUM_CLASSES, test_size=NUM_CLASSES + 5, seed=3)


def test_arrays_have_emnist_shapes_dtypes_and_labels(small):
    """Images are uint8 (N, 28, 28), labels int64 in 0..46, as every data source must give."""
    assert validate(small) is small
    assert small.x_train.shape == (2 * NUM_CLASSES, 28, 28)
    assert small.x_test.shape == (NUM_CLASSES + 5, 28, 28)
    assert small.x_train.dtype == np.uint8 and small.y_train.dtype == np.int64
    assert small.y_test.min() >= 0 and small.y_test.max() < NUM_CLASSES


def test_name_and_description_say_it_is_not_emnist(small):
    """Every model's metadata carries the name, so no one can take it for EMNIST."""
    assert "emnist" not in small.name.lower()
    assert "synthetic" in small.name
    assert "NOT EMNIST" in small.description
    assert small.summary()["train_size"] == 2 * NUM_CLASSES


def test_every_class_is_drawn_equally_often(small):
    """train_size // 47 images per class; a remainder goes to distinct classes, one each."""
    assert np.array_equal(np.bincount(small.y_train, minlength=NUM_CLASSES), np.full(47, 2))
    counts = np.bincount(small.y_test, minlength=NUM_CLASSES)
    assert counts.min() == 1 and counts.max() == 2 and counts.sum() == NUM_CLASSES + 5


def test_balanced_labels_spread_any_remainder():
    """Sizes below one per class still give distinct classes."""
    labels = balanced_labels(10, np.random.default_rng(0))
    assert len(set(labels.tolist())) == 10


def test_every_class_has_glyphs_to_draw():
    """All 47 classes have glyphs to draw, each chosen with a positive probability."""
    table = glyph_table()
    assert len(table) == len(LABELS)
    for glyphs, probabilities, script in table:
        assert len(glyphs) == len(probabilities) == len(script) >= 1
        assert np.isclose(probabilities.sum(), 1.0) and (probabilities > 0).all()
        assert all(len(stroke) >= 1 for glyph in glyphs for stroke in glyph)


def test_merged_classes_draw_both_cases():
    """EMNIST's capital class holds both cases where they look alike (C/c), not where not (A/a)."""
    assert forms_for_class("C") == ["C", "c"]
    assert forms_for_class("A") == ["A"]
    assert forms_for_class("a") == ["a"]
    assert forms_for_class("7") == ["7"]


def test_pen_helpers_keep_closed_strokes_closed_and_run_open_ones_on():
    """Trimming never opens an O (it would become a C or a U); overshoot lengthens a line."""
    angles = np.linspace(0, 2 * np.pi, 40)
    ring = np.stack([np.cos(angles), np.sin(angles)], 1) * 0.5
    assert np.array_equal(trim(ring, 0.2, 0.2), ring)
    line = resample(np.array([[0.0, 0.0], [0.0, 1.0]]), 0.03)
    assert len(trim(line, 0.2, 0.2)) < len(line)
    longer = overshoot(line, 0.1, 0.1)
    assert np.isclose(np.ptp(longer[:, 1]), 1.2)


def test_white_ink_on_black_that_does_not_fill_the_frame(small):
    """Borders are dark, every image has full-strength ink, and ink covers a minority of pixels."""
    images = np.concatenate([small.x_train, small.x_test]).astype(np.float64)
    borders = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], 1)
    assert borders.max(axis=1).max() < 64
    assert (images.max(axis=(1, 2)) == 255).all()
    ink_share = (images > 127).mean(axis=(1, 2))
    assert (ink_share > 0.02).all() and (ink_share < 0.6).all()


def test_same_seed_gives_the_same_images_and_another_seed_does_not():
    """Generation is deterministic for a seed and size; another seed draws other images."""
    first, labels_first = generate(20, seed=7)
    again, labels_again = generate(20, seed=7)
    other, _ = generate(20, seed=8)
    assert np.array_equal(first, again) and np.array_equal(labels_first, labels_again)
    assert not np.array_equal(first, other)


def test_train_and_test_come_from_different_streams(small):
    """The test split is not a copy of the training split."""
    n = NUM_CLASSES
    assert not np.array_equal(small.x_train[:n], small.x_test[:n])
    train_rows = {image.tobytes() for image in small.x_train}
    assert not any(image.tobytes() in train_rows for image in small.x_test)


def test_bad_arguments_raise_a_data_source_error():
    """Negative sizes or seeds and unknown splits are refused with a clear error."""
    with pytest.raises(DataSourceError, match="seed"):
        load_synthetic(train_size=1, test_size=1, seed=-1)
    with pytest.raises(DataSourceError, match=">= 0"):
        generate(-1)
    with pytest.raises(DataSourceError, match="split"):
        generate(1, split="validation")


@pytest.mark.skipif(not REAL_SAMPLE.exists(), reason=NO_SAMPLE)
def test_statistics_are_close_to_real_emnist(small):
    """Mean brightness, ink share and ink box size are within a sensible range of real EMNIST's."""
    with np.load(REAL_SAMPLE) as data:
        real = data["x_train"][:2000]
    fake = np.concatenate([small.x_train, small.x_test])

    def stats(images: np.ndarray) -> dict[str, float]:
        ink = images > 127
        rows, cols = ink.any(axis=2), ink.any(axis=1)
        height = 28 - np.argmax(rows, 1) - np.argmax(rows[:, ::-1], 1)
        width = 28 - np.argmax(cols, 1) - np.argmax(cols[:, ::-1], 1)
        return {
            "mean": float(images.mean()),
            "ink": float(ink.mean()),
            "side": float(np.maximum(height, width).mean()),
            "area": float((height * width).mean()),
        }

    real_stats, fake_stats = stats(real), stats(fake)
    for key, value in real_stats.items():
        assert 0.85 * value <= fake_stats[key] <= 1.18 * value, (key, fake_stats, real_stats)
