"""POST /predict: one image, any set of variants, one call into the runtime."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug import Request

from regserve_contracts.labels import NUM_CLASSES
from regserve_contracts.signature import to_model_input
from server.answers import DATA_ALIAS, agreement, input_echo, packed_answers, trained_on
from server.errors import ApiError
from server.intake.forms import read_input
from server.lookup import ALL, unknown_variants, version_failed
from server.runtime.registry import Snapshot
from server.state import ServerState, current_state
from server.views import insight

bp = Blueprint("predict", __name__)
#: The query parameters /predict reads; any other is a 400, so a typo (?topk=5) is not ignored.
PARAMETERS = ("variant", "top", "include")


@bp.post("/predict")
def predict():
    """Answer one image with every requested variant's prediction and sparsity."""
    return jsonify(answer(request, current_state()))


def answer(request: Request, state: ServerState) -> dict[str, Any]:
    """The body of /predict's answer to ``request`` (Flask's, or any Werkzeug request whose
    ``max_content_length`` is the server's); raises :class:`ApiError` or ``ImageInputError``."""
    started = time.perf_counter()
    check_parameters(list(request.args))
    snapshot = state.registry.snapshot  # this request keeps this model set, even over a reload
    names = resolve_variants(request.args.getlist("variant"), snapshot)
    served = {name: snapshot.resolve(name) for name in names}  # name@v -> (engine key, variant)
    top = parse_top(request.args.get("top"), state.settings.top_k_default)
    include = insight.parse_include(request.args.getlist("include"))
    with state.batcher.ticket() as ticket:
        image = read_input(request, state.settings)
        batch = to_model_input(image.pixels)
        packed = ticket.run_packed(snapshot.engine,
                                   list(dict.fromkeys(k for k, _ in served.values())), batch)
    columns = snapshot.engine.columns
    answers = packed_answers({name: (variant, packed[key][0], columns(key))
                              for name, (key, variant) in served.items()}, top)
    for name, (_, variant) in served.items():  # an older version answers for a failed newest
        answers[name].update(version_failed(snapshot, name, variant))
    shared = {}
    if include:  # the plain path does no extra work
        shared = insight.add_views(answers, snapshot, served, image.pixels, include)
    body = {
        "variants": answers,
        "agreement": agreement(answers),
        "input": input_echo(image.pixels, image.kind, image.preprocessed, as_array=True),
        "data": (data := trained_on([variant for _, variant in served.values()])),
        DATA_ALIAS: data,  # the old name, deprecated: one release, then gone
        **shared,  # views given once for all variants (?include=corruptions: the images)
    }
    state.metrics.observe_prediction(names, time.perf_counter() - started)
    return body


def check_parameters(names: list[str]) -> None:
    """400 naming the valid query parameters when one is not among them."""
    unknown = [name for name in dict.fromkeys(names) if name not in PARAMETERS]
    if unknown:
        listed = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise ApiError(400, f"unknown query parameter {listed}: /predict takes "
                       f"{', '.join(PARAMETERS)}", "unknown_parameter",
                       valid_parameters=list(PARAMETERS))


def resolve_variants(requested: list[str], snapshot: Snapshot) -> list[str]:
    """Loaded variant names from ``?variant=`` values (repeated or comma-separated; ``all``).

    ``name@version`` picks one loaded version. Names are only ever looked up among the loaded
    variants, never used as paths.
    """
    if not snapshot.variants or snapshot.engine is None:
        raise ApiError(503, "no model is loaded yet: train some with `python -m trainer --all`",
                       failed=snapshot.failures())
    names: list[str] = []
    for value in requested:
        names.extend(part.strip() for part in value.split(",") if part.strip())
    if not names or ALL in names:
        return list(snapshot.variants)
    unknown = [name for name in dict.fromkeys(names) if snapshot.resolve(name) is None]
    if unknown:
        raise unknown_variants(snapshot, unknown)
    return list(dict.fromkeys(names))


def parse_top(value: str | None, default: int) -> int:
    """``?top=k``: how many labels each variant lists, 1..47."""
    if value is None or value == "":
        return int(default)
    try:
        top = int(value)
    except ValueError:
        raise ApiError(400, f"top must be a whole number from 1 to {NUM_CLASSES}, got {value!r}",
                       "invalid_parameter") from None
    if not 1 <= top <= NUM_CLASSES:
        raise ApiError(400, f"top must lie between 1 and {NUM_CLASSES}, got {top}",
                       "invalid_parameter")
    return top
