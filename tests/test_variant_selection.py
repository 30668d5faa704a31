"""Which variants answer: one, several or all; a subset answers as the all-variant call does;
unknown names are 404 listing the valid ones; /variants lists and details them."""

from __future__ import annotations

import pytest

from regserve_contracts import layout
from regserve_contracts.labels import LABELS
from regserve_contracts.variants import VARIANT_NAMES
from tests.support.api import assert_full_answer, assert_same_top, post_png


@pytest.mark.parametrize("query, expected", [
    ("?variant=none", ["none"]),
    ("?variant=l2_activity&variant=none", ["l2_activity", "none"]),
    ("?variant=l2_activity,none,l1_activity", ["l2_activity", "none", "l1_activity"]),
    ("?variant=none,none", ["none"]),
    ("?variant=all", list(VARIANT_NAMES)),
    ("?variant=none&variant=all", list(VARIANT_NAMES)),
])
def test_variant_selection_one_several_or_all(client, png, query, expected):
    """?variant= repeated or comma-separated, duplicates once, 'all' meaning every variant."""
    assert_full_answer(post_png(client, png, query).get_json(), expected)


def test_a_subset_answers_exactly_as_the_all_variant_call(client, png):
    """The fused function of a subset and a single variant's own signature agree with 'all'."""
    everything = post_png(client, png).get_json()["variants"]
    for query in ("?variant=none", "?variant=l1_activity,l2_kernel_bias,none"):
        for name, answer in post_png(client, png, query).get_json()["variants"].items():
            assert_same_top(answer, everything[name])
            assert answer["activation_sparsity"] == pytest.approx(
                everything[name]["activation_sparsity"], abs=1e-6)


@pytest.mark.parametrize("query", ["?variant=nope", "?variant=none,nope", "?variant=../none",
                                   "?variant=/etc/passwd"])
def test_an_unknown_variant_is_404_listing_the_valid_names(client, png, query):
    answer = post_png(client, png, query)
    assert answer.status_code == 404
    body = answer.get_json()
    assert body["error"] == "unknown_variant" and body["valid_variants"] == list(VARIANT_NAMES)
    assert "none" in body["detail"]


def test_variants_lists_every_variant_with_its_training_and_scores(client, models_dir):
    body = client.get("/variants").get_json()
    names = [d.name for d in layout.variant_dirs(models_dir)]
    assert sorted(entry["name"] for entry in body["variants"]) == sorted(names)
    assert body["failed"] == []
    for entry in body["variants"]:
        metadata = layout.read_metadata(layout.newest_version(models_dir / entry["name"]))
        assert entry["test"] == metadata["test"] and 0 <= entry["test"]["accuracy"] <= 1
        assert entry["penalty"] == metadata["variant"]
        assert entry["data"] == entry["data_source"] == metadata["data"]
        assert entry["weight_sparsity"] == metadata["weight_sparsity"]
        assert entry["history"] == metadata["history"]


def test_one_variant_in_detail_or_404_listing_the_names(client):
    detail = client.get("/variants/l1_activity").get_json()
    assert detail["name"] == "l1_activity" and detail["labels"] == list(LABELS)
    answer = client.get("/variants/nope")
    assert answer.status_code == 404 and answer.get_json()["valid_variants"] == list(VARIANT_NAMES)
