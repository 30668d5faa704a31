"""Small builders of JSON Schema pieces for the OpenAPI documents (the API's and V2's)."""

from __future__ import annotations

from typing import Any

NUMBER = {"type": "number"}
SHARE = {"type": "number", "minimum": 0, "maximum": 1}
INTEGER = {"type": "integer"}
STRING = {"type": "string"}
NUMBERS = {"type": "array", "items": NUMBER}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object schema; extra properties are allowed so the API can grow without breaking."""
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}}


def json_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def error(description: str) -> dict[str, Any]:
    return json_response(description, "Error")
