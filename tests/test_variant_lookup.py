"""A variant that is not served gets one 404 wherever it is asked for: it says which name or
version is missing, and lists exactly the names it would accept; one name per fact besides."""

from __future__ import annotations

import re

import pytest

from regserve_contracts.variants import VARIANT_NAMES
from tests.support.api import post_png


def listed_names(detail: str) -> list[str]:
    return re.search(r"valid names: (.*)$", detail).group(1).split(", ")


@pytest.mark.parametrize("ask", [
    lambda client, png: post_png(client, png, "?variant=none@7"),
    lambda client, png: client.get("/variants/none@7"),
    lambda client, png: client.get("/variants/none@7/filters.png"),
], ids=["predict", "variant detail", "filters"])
def test_a_missing_version_is_named_with_the_versions_that_exist(client, png, ask):
    answer = ask(client, png)
    body = answer.get_json()
    assert answer.status_code == 404 and body["error"] == "unknown_variant"
    assert body["detail"].startswith("no version 7 of none; versions: 1; valid names: ")


def test_v2_names_a_missing_version_the_same_way(client):
    answer = client.get("/v2/models/none/versions/7")
    assert answer.status_code == 404
    assert answer.get_json()["error"] == "no version 7 of none; versions: 1"


@pytest.mark.parametrize("path", ["/predict?variant=nope", "/variants/nope"])
def test_the_detail_lists_exactly_the_valid_variants_and_all_is_not_one(client, png, path):
    """`all` is a keyword of /predict, not a variant: neither the detail nor valid_variants
    lists it, and both list the same names."""
    answer = (post_png(client, png, path.removeprefix("/predict")) if path.startswith("/predict")
              else client.get(path))
    body = answer.get_json()
    assert answer.status_code == 404 and "unknown variant 'nope'" in body["detail"]
    assert listed_names(body["detail"]) == body["valid_variants"] == list(VARIANT_NAMES)


def test_the_data_block_is_called_data_with_the_old_name_deprecated(client, png):
    """`data`, as in metadata.json, in /variants and /predict; `data_source` is the same block
    under its old name, marked deprecated in the OpenAPI document."""
    summaries = client.get("/variants").get_json()["variants"]
    assert all(entry["data"] == entry["data_source"] and entry["data"]["name"]
               for entry in summaries)
    answer = post_png(client, png).get_json()
    assert answer["data"] == answer["data_source"] == summaries[0]["data"]
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    for schema in ("PredictResponse", "VariantSummary"):
        assert "data" in schemas[schema]["required"]
        assert schemas[schema]["properties"]["data_source"]["deprecated"] is True
