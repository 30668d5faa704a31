"""The variant registry: the eight penalties of EXPERIMENT.md, as data, and custom variants."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regserve_contracts.variants import (
    RESERVED_NAMES,
    VARIANT_NAMES,
    VARIANTS,
    UnknownVariantError,
    Variant,
    get_variant,
    parse_custom,
)

#: EXPERIMENT.md's table: name -> (penalty, where, lambda).
EXPERIMENT = {
    "none": ("none", "none", 0.0),
    "l1_kernel_bias": ("l1", "kernel_bias", 0.01),
    "l1_activity": ("l1", "activity", 0.01),
    "l2_kernel_bias": ("l2", "kernel_bias", 0.01),
    "l2_activity": ("l2", "activity", 0.01),
    "l2_activity_strong": ("l2", "activity", 0.10),
    "elasticnet_kernel_bias": ("elasticnet", "kernel_bias", 0.01),
    "elasticnet_activity": ("elasticnet", "activity", 0.01),
}
#: The Keras regularizer class and config each penalty must become.
KERAS = {
    "l1": ("L1", lambda lam: {"l1": lam}),
    "l2": ("L2", lambda lam: {"l2": lam}),
    "elasticnet": ("L1L2", lambda lam: {"l1": lam, "l2": lam}),
}


def test_registry_is_the_experiments_eight_variants_in_order():
    """Exactly the eight variants of the original experiment, in its order, names unique."""
    assert VARIANT_NAMES == tuple(EXPERIMENT)
    assert len(set(VARIANT_NAMES)) == len(VARIANTS) == 8


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_NAMES)
def test_each_variant_has_the_experiments_penalty(variant):
    """Penalty, place and lambda as EXPERIMENT.md lists them; l1/l2 follow from the penalty."""
    assert (variant.penalty, variant.where, variant.lam) == pytest.approx(EXPERIMENT[variant.name])
    assert variant.l1 == (variant.lam if variant.penalty in ("l1", "elasticnet") else 0.0)
    assert variant.l2 == (variant.lam if variant.penalty in ("l2", "elasticnet") else 0.0)
    assert variant.label


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_NAMES)
def test_regularizer_kwargs_attach_the_right_keras_regularizers(variant):
    """kernel_bias -> kernel and bias regularizers; activity -> activity regularizer only;
    each a fresh Keras object of the right class with the right coefficients."""
    from trainer.model import regularizer_kwargs

    kwargs = regularizer_kwargs(variant)
    if variant.penalty == "none":
        assert kwargs == {}
        return
    places = (("kernel_regularizer", "bias_regularizer") if variant.where == "kernel_bias"
              else ("activity_regularizer",))
    assert set(kwargs) == set(places)
    class_name, config = KERAS[variant.penalty]
    for place in places:
        regularizer = kwargs[place]
        assert type(regularizer).__name__ == class_name
        assert regularizer.get_config() == pytest.approx(config(variant.lam))
    assert regularizer_kwargs(variant)[places[0]] is not kwargs[places[0]]


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_NAMES)
def test_build_model_puts_the_penalty_on_all_four_weighted_layers(variant):
    """The shared CNN carries the variant's regularizers on conv1, conv2, dense1 and output."""
    from trainer.model import PENALIZED_LAYERS, build_model, regularizer_kwargs

    model = build_model(variant)
    expected = {key: value.get_config() for key, value in regularizer_kwargs(variant).items()}
    for name in PENALIZED_LAYERS:
        layer = model.get_layer(name)
        for place in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
            attached = getattr(layer, place)
            if place in expected:
                assert attached.get_config() == pytest.approx(expected[place]), (name, place)
            else:
                assert attached is None, (name, place)


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_NAMES)
def test_to_dict_from_dict_round_trip_through_json(variant):
    """to_dict is JSON-safe, carries l1/l2/label, and from_dict rebuilds the same variant."""
    data = json.loads(json.dumps(variant.to_dict()))
    assert {"name", "penalty", "where", "lam", "l1", "l2", "label"} <= set(data)
    assert Variant.from_dict(data) == variant


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("l1:activity:0.001", Variant("l1_activity_0.001", "l1", "activity", 0.001)),
        ("l2:kernel_bias:1e-4", Variant("l2_kernel_bias_0.0001", "l2", "kernel_bias", 1e-4)),
        ("elasticnet:activity:0.05:en5", Variant("en5", "elasticnet", "activity", 0.05)),
    ],
)
def test_parse_custom_reads_penalty_where_lambda_and_name(spec, expected):
    """PENALTY:WHERE:LAMBDA[:NAME]; without a name, one is made from the parts."""
    assert parse_custom(spec) == expected


@given(
    penalty=st.sampled_from(["l1", "l2", "elasticnet"]),
    where=st.sampled_from(["kernel_bias", "activity"]),
    lam=st.floats(min_value=1e-8, max_value=10.0, allow_nan=False),
    name=st.from_regex(r"[a-z0-9][a-z0-9_.\-]{0,20}", fullmatch=True).filter(
        lambda name: name not in RESERVED_NAMES),
)
def test_parse_custom_round_trips_any_valid_spec(penalty, where, lam, name):
    """Any valid variant written as a spec parses back to itself, via to_dict too."""
    variant = Variant(name, penalty, where, lam)
    assert parse_custom(f"{penalty}:{where}:{lam!r}:{name}") == variant
    assert Variant.from_dict(parse_custom(f"{penalty}:{where}:{lam!r}:{name}").to_dict()) == variant


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("l1:activity", "PENALTY:WHERE:LAMBDA"),
        ("l1:activity:0.01:name:extra", "PENALTY:WHERE:LAMBDA"),
        ("l3:activity:0.01", "penalty 'l3'"),
        ("l1:everywhere:0.01", "where 'everywhere'"),
        ("l1:activity:lots", "not a number"),
        ("l1:activity:0", "lambda must be > 0"),
        ("l1:activity:-0.5", "lambda must be > 0"),
        ("l1:activity:nan", "lambda must be > 0"),
        ("l1:none:0.01", "needs a place"),
        ("none:activity:0.01", "needs a place"),
        ("l1:activity:0.01:Upper", "variant name"),
        ("l1:activity:0.01:", "variant name"),
        ("l1:activity:0.01:all", "'all' is reserved"),
        ("l1:activity:0.01:reports", "'reports' is reserved"),
    ],
)
def test_parse_custom_rejects_bad_specs_with_a_reason(spec, words):
    """A bad spec raises ValueError whose message says what is wrong."""
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_custom(spec)


def test_unknown_variant_error_lists_every_valid_name():
    """get_variant on a typo raises UnknownVariantError (a ValueError) naming all variants."""
    with pytest.raises(UnknownVariantError) as caught:
        get_variant("l2_activty")
    assert isinstance(caught.value, ValueError)
    assert all(name in str(caught.value) for name in VARIANT_NAMES)


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_get_variant_returns_the_registered_one(name):
    """Every registered name resolves to its registry entry."""
    assert get_variant(name) is VARIANTS[VARIANT_NAMES.index(name)]
