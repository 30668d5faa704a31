"""Which variants and versions load: TF Serving's version policies and REGSERVE_VARIANTS."""

from __future__ import annotations

import pytest

from server.runtime.selection import (
    VersionPolicy,
    choose_variants,
    parse_variant_patterns,
    parse_version_policy,
    split_key,
)
from server.settings import ConfigError, load_settings

ON_DISK = [1, 2, 3, 5]


@pytest.mark.parametrize("text, loaded", [
    ("latest", [5]), ("LATEST:2", [3, 5]), ("latest:9", [1, 2, 3, 5]), ("all", [1, 2, 3, 5]),
    ("specific:1,3", [1, 3]), ("specific:4", []), ("specific: 5 , 1", [1, 5]),
])
def test_each_policy_selects_the_versions_tf_serving_would(text, loaded):
    assert parse_version_policy(text).select(ON_DISK) == loaded


@pytest.mark.parametrize("text", ["", "newest", "latest:0", "latest:x", "all:2", "specific",
                                  "specific:", "specific:0", "specific:a,b"])
def test_a_policy_that_cannot_be_read_is_refused_with_the_valid_forms(text):
    with pytest.raises(ValueError, match="latest:N"):
        parse_version_policy(text)


def test_policies_read_back_as_written():
    for text in ("latest", "latest:3", "all", "specific:1,3"):
        assert str(parse_version_policy(text)) == text
    assert VersionPolicy().select([]) == []


def test_patterns_choose_variants_in_order_and_the_limit_leaves_a_note():
    names = ["none", "l1_kernel_bias", "l1_kernel_bias_0.001", "l1_kernel_bias_0.1", "l2_activity"]
    choice = choose_variants(names, parse_variant_patterns("none,l1_kernel_bias_*"), 2)
    assert choice.chosen == ("none", "l1_kernel_bias_0.001")
    assert choice.over_limit == ("l1_kernel_bias_0.1",)
    assert choice.unmatched == ("l1_kernel_bias", "l2_activity")
    note = choice.note(2)
    assert "REGSERVE_MAX_VARIANTS=2" in note and "l1_kernel_bias_0.1" in note
    everything = choose_variants(names, parse_variant_patterns(""), 64)
    assert everything.chosen == tuple(names) and everything.note(64) is None


def test_versions_are_addressed_as_name_at_version():
    assert split_key("l2_activity@2") == ("l2_activity", 2)
    assert split_key("none") == ("none", None)
    with pytest.raises(ValueError):
        split_key("none@latest")


@pytest.mark.parametrize("variable, value", [
    ("REGSERVE_VERSION_POLICY", "newest"), ("REGSERVE_VARIANTS", "../etc"),
    ("REGSERVE_VARIANTS", "none@1"), ("REGSERVE_MAX_VARIANTS", "0"),
])
def test_bad_selection_settings_stop_the_server_naming_the_setting(variable, value):
    with pytest.raises(ConfigError):
        load_settings(environ={variable: value})


def test_selection_settings_come_from_the_environment():
    settings = load_settings(environ={"REGSERVE_VERSION_POLICY": "all",
                                      "REGSERVE_VARIANTS": "none,l2_*",
                                      "REGSERVE_MAX_VARIANTS": "8"})
    assert (str(settings.version_policy), settings.variants, settings.max_variants) == (
        "all", ("none", "l2_*"), 8)
    assert load_settings(environ={}).variants == ("*",)
