"""Helpers for the HTTP API tests: requests, the checks of a full answer, changed settings."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io

import numpy as np
import pytest
import requests
from PIL import Image

from regserve_contracts.labels import LABELS
from regserve_contracts.signature import ACTIVATION_LAYERS

#: Settings of the in-process test app: no reload thread, a short warm-up.
TEST_SETTINGS = {"reload_interval": 0, "warmup_batch_sizes": (1, 4)}


def override_settings(monkeypatch, app, **changes) -> None:
    """Give ``app`` changed settings until the test ends (the settings themselves are frozen)."""
    from server.state import EXTENSION

    state = app.extensions[EXTENSION]
    changed = dataclasses.replace(state, settings=dataclasses.replace(state.settings, **changes))
    monkeypatch.setitem(app.extensions, EXTENSION, changed)


def server_message(response: requests.Response) -> str:
    """The words a client must show for an error answer.

    The API answers ``{"error": code, "detail": ...}``: the detail when it is text, else the code.
    """
    body = response.json()
    detail = body.get("detail")
    return detail if isinstance(detail, str) and detail.strip() else str(body["error"])


def post_png(client, data: bytes, query: str = ""):
    return client.post(f"/predict{query}", data=data, content_type="image/png")


def assert_same_top(answer: dict, reference: dict) -> None:
    """Same labels in the same order, probabilities equal up to float rounding."""
    assert [e["label"] for e in answer["top"]] == [e["label"] for e in reference["top"]]
    assert [e["probability"] for e in answer["top"]] == pytest.approx(
        [e["probability"] for e in reference["top"]], rel=1e-4, abs=1e-7)


def assert_agreement(body: dict) -> None:
    """The vote counts every variant that is not collapsed, once; a tie has no majority."""
    agreement, answers = body["agreement"], body["variants"]
    counted = [a["prediction"] for a in answers.values() if a["collapsed"] is not True]
    assert agreement["excluded"] == [n for n, a in answers.items() if a["collapsed"] is True]
    assert agreement["votes"] == {label: counted.count(label) for label in agreement["votes"]}
    assert set(agreement["votes"]) == set(counted) and agreement["counted"] == len(counted)
    assert agreement["unanimous"] == (len(set(counted)) == 1)
    leaders = [k for k, n in agreement["votes"].items() if n == max(agreement["votes"].values())]
    assert agreement["tie"] == (len(leaders) > 1)
    assert agreement["majority"] == (leaders[0] if len(leaders) == 1 else None)


def assert_full_answer(body: dict, names: list[str], top: int = 3) -> None:
    """Every variant answers with a label, top-k, weight and activation sparsity, version."""
    assert list(body["variants"]) == names
    for answer in body["variants"].values():
        probabilities = [entry["probability"] for entry in answer["top"]]
        assert len(answer["top"]) == top
        assert answer["prediction"] == answer["top"][0]["label"] and answer["prediction"] in LABELS
        assert probabilities == sorted(probabilities, reverse=True)
        assert all(0 <= p <= 1 for p in probabilities) and sum(probabilities) <= 1 + 1e-5
        assert set(answer["activation_sparsity"]) == set(ACTIVATION_LAYERS)
        assert all(0 <= share <= 1 for share in answer["activation_sparsity"].values())
        assert set(answer["weight_sparsity"]["all"]) == {"<1e-02", "<1e-03", "<1e-04", "==0"}
        assert isinstance(answer["version"], int) and answer["label"]
    assert_agreement(body)
    pixels = np.asarray(body["input"]["pixels"])
    assert pixels.shape == (28, 28) and pixels.max() == 255
    echoed = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["input"]["image_png_base64"]))))
    assert np.array_equal(echoed, pixels)
    assert body["data"]["name"] and body["data_source"] == body["data"]


@contextlib.contextmanager
def decode_budget_full(max_pixels: int):
    """The worker's whole decode budget in use (as many images at ``max_pixels`` as it admits),
    so a large image that asks for room waits and then gets 503."""
    from server.intake import files as intake

    with contextlib.ExitStack() as full:
        for _ in range(intake.BUDGET.decodes_at_once):
            full.enter_context(intake.BUDGET.reserve(max_pixels, max_pixels))
        yield
