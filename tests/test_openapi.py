"""The OpenAPI document tells the truth: every documented path, method and status is produced by
the real app and its body matches the documented schema; every route is documented."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

from benchmarks.drawing import draw, encode
from server.routes.openapi import DOCUMENT
from tests.support.api import override_settings
from tests.support.v2_openapi_cases import V2_CASES

PNG = encode(draw("A"))
METHODS = ("get", "post", "put", "patch", "delete")
DOCUMENTED = [
    (path, method, status)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items() if method in METHODS
    for status in operation["responses"]
]


@dataclass
class Context:
    """What a case may use: the shared app, an app with no models, pytest helpers."""

    app: object
    empty_app: object
    monkeypatch: pytest.MonkeyPatch
    tmp_path: object

    @property
    def client(self):
        return self.app.test_client()


def broken_engine(ctx: Context):
    def fail(*args, **kwargs):
        raise RuntimeError("simulated fault")

    ctx.monkeypatch.setattr(ctx.app.extensions["regserve"].registry.snapshot.engine, "run_packed",
                            fail)
    return ctx.client.post("/predict", data=PNG, content_type="image/png")


def with_reports(ctx: Context, path: str):
    (ctx.tmp_path / "reports").mkdir()
    (ctx.tmp_path / "reports" / "comparison.png").write_bytes(PNG)
    override_settings(ctx.monkeypatch, ctx.app, models_dir=ctx.tmp_path)
    return ctx.client.get(path)


def with_comparison(ctx: Context, document: object = None):
    """A comparison.json built by the trainer from the shared app's models (or ``document``)."""
    from analysis.comparison import build_comparison

    (ctx.tmp_path / "reports").mkdir()
    if document is None:
        document = build_comparison(ctx.app.extensions["regserve"].settings.models_dir)
    (ctx.tmp_path / "reports" / "comparison.json").write_text(json.dumps(document))
    override_settings(ctx.monkeypatch, ctx.app, models_dir=ctx.tmp_path)
    return ctx.client.get("/comparison")


def too_large(ctx: Context):
    ctx.monkeypatch.setitem(ctx.app.config, "MAX_CONTENT_LENGTH", 100)
    return ctx.client.post("/predict", data=PNG, content_type="image/png")


#: One request per documented (path, method, status), made against the real app.
CASES: dict[tuple[str, str, str], Callable[[Context], object]] = {
    ("/predict", "post", "200"): lambda c: c.client.post(
        "/predict?top=2", data={"image": (io.BytesIO(PNG), "a.png")}),
    ("/predict", "post", "400"): lambda c: c.client.post(
        "/predict", data=b"not an image", content_type="image/png"),
    ("/predict", "post", "404"): lambda c: c.client.post(
        "/predict?variant=nope", data=PNG, content_type="image/png"),
    ("/predict", "post", "413"): too_large,
    ("/predict", "post", "415"): lambda c: c.client.post(
        "/predict", data=b"A", content_type="text/plain"),
    ("/predict", "post", "500"): broken_engine,
    ("/predict", "post", "503"): lambda c: c.empty_app.test_client().post(
        "/predict", data=PNG, content_type="image/png"),
    ("/variants", "get", "200"): lambda c: c.client.get("/variants"),
    ("/variants/{name}", "get", "200"): lambda c: c.client.get("/variants/none"),
    ("/variants/{name}", "get", "404"): lambda c: c.client.get("/variants/nope"),
    ("/variants/{name}/filters.png", "get", "200"): lambda c: c.client.get(
        "/variants/none/filters.png"),
    ("/variants/{name}/filters.png", "get", "404"): lambda c: c.client.get(
        "/variants/nope/filters.png"),
    ("/comparison", "get", "200"): with_comparison,
    ("/comparison", "get", "404"): lambda c: c.client.get("/comparison"),
    ("/comparison", "get", "503"): lambda c: with_comparison(c, {"variants": {}}),
    ("/healthz", "get", "200"): lambda c: c.client.get("/healthz"),
    ("/readyz", "get", "200"): lambda c: c.client.get("/readyz"),
    ("/readyz", "get", "503"): lambda c: c.empty_app.test_client().get("/readyz"),
    ("/metrics", "get", "200"): lambda c: c.client.get("/metrics"),
    ("/openapi.json", "get", "200"): lambda c: c.client.get("/openapi.json"),
    ("/", "get", "200"): lambda c: c.client.get("/"),
    ("/favicon.ico", "get", "200"): lambda c: c.client.get("/favicon.ico"),
    ("/reports", "get", "200"): lambda c: with_reports(c, "/reports"),
    ("/reports/{filename}", "get", "200"): lambda c: with_reports(c, "/reports/comparison.png"),
    ("/reports/{filename}", "get", "404"): lambda c: c.client.get("/reports/missing.png"),
    ("/sweeps", "get", "200"): lambda c: c.client.get("/sweeps"),
    **V2_CASES,
}


def wrong_method(path: str) -> Callable[[Context], object]:
    concrete = path.replace("{name}", "none").replace("{filename}", "comparison.png")
    concrete = concrete.replace("{version}", "1")
    return lambda c: c.client.open(concrete, method="PATCH")


@pytest.fixture(scope="module")
def empty_app(tmp_path_factory):
    from server import create_app

    return create_app(models_dir=tmp_path_factory.mktemp("no-models"), reload_interval=0)


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    """A JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) that resolves the components."""
    return jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def validate_openapi(document: dict) -> None:
    """Raise unless ``document`` is a valid OpenAPI 3.1 document whose every $ref resolves
    (OpenAPIValidationError, or referencing's Unresolvable for a dangling $ref)."""
    OpenAPIV31SpecValidator(document).validate()


def media_matches(documented: str, actual: str) -> bool:
    kind, _, sub = documented.partition("/")
    return documented in ("*/*", actual) or (sub == "*" and actual.startswith(kind + "/"))


def test_every_documented_status_has_a_case_and_every_case_is_documented():
    documented = {case for case in DOCUMENTED if case[2] != "405"}
    assert documented == set(CASES)
    assert all("405" in DOCUMENT["paths"][path][method]["responses"]
               for path, method, _ in DOCUMENTED)


@pytest.mark.parametrize("path, method, status", DOCUMENTED, ids=[" ".join(c) for c in DOCUMENTED])
def test_the_real_answer_matches_the_document(app, empty_app, monkeypatch, tmp_path,
                                              path, method, status):
    """Each documented response: its status, a documented media type, a body matching the schema."""
    make = wrong_method(path) if status == "405" else CASES[(path, method, status)]
    with make(Context(app, empty_app, monkeypatch, tmp_path)) as answer:
        assert str(answer.status_code) == status, answer.get_data(as_text=True)[:300]
        content = DOCUMENT["paths"][path][method]["responses"][status]["content"]
        media = [m for m in content if media_matches(m, answer.mimetype)]
        assert media, f"{answer.mimetype} is not among {list(content)}"
        if answer.mimetype == "application/json":
            validator(content[media[0]]["schema"]).validate(answer.get_json())
        if status == "405":
            assert method.upper() in answer.headers["Allow"]


def test_every_route_of_the_app_is_documented(app):
    documented = {(path, method.upper()) for path, method, _ in DOCUMENTED}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}").replace("path:", "")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not in the OpenAPI document"


@pytest.mark.parametrize("body", [{"image": "iVBORw0KGgo="}, {"pixels": [[0] * 28] * 28},
                                  {"pixels": [[0] * 28] * 28, "preprocessed": True}])
def test_the_json_request_bodies_the_tests_send_are_the_documented_ones(body):
    schema = DOCUMENT["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    validator(schema["schema"]).validate(body)


def test_the_served_document_is_openapi_3_1_and_refs_resolve(app):
    served = app.test_client().get("/openapi.json").get_json()
    assert served == json.loads(json.dumps(DOCUMENT)) and served["openapi"].startswith("3.1")
    validate_openapi(served)  # the OpenAPI 3.1 schema itself, every $ref resolved


def test_the_openapi_validator_refuses_a_dangling_ref_and_a_bad_document():
    """The control: the check above fails for the faults it is there to catch."""
    dangling = json.loads(json.dumps(DOCUMENT))
    dangling["components"]["schemas"]["Failure"]["properties"]["name"] = {
        "$ref": "#/components/schemas/NoSuchSchema"}
    no_description = json.loads(json.dumps(DOCUMENT))  # a Response Object must describe itself
    del no_description["paths"]["/healthz"]["get"]["responses"]["200"]["description"]
    for broken in (dangling, no_description):
        with pytest.raises((OpenAPIValidationError, Unresolvable)):
            validate_openapi(broken)
