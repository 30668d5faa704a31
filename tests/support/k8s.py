"""Kubernetes manifests checked against the API's own models, without a cluster.

Every object is walked against the ``kubernetes`` client's model classes (generated from the
Kubernetes OpenAPI document): an unknown field, a value of the wrong type or a missing
required field is a problem. KServe's InferenceService is a custom resource the client does not
know; its three outer types come from ``kserve_v1beta1.json`` (taken from KServe's Python SDK),
and what they hold (containers, volumes, metadata) is checked against the Kubernetes models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client

#: (apiVersion, kind) -> the model class name that describes it.
KINDS = {
    ("apps/v1", "Deployment"): "V1Deployment",
    ("v1", "Service"): "V1Service",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2HorizontalPodAutoscaler",
    ("serving.kserve.io/v1beta1", "InferenceService"): "V1beta1InferenceService",
}
KSERVE_TYPES = json.loads(Path(__file__).with_name("kserve_v1beta1.json").read_text())["types"]
PRIMITIVES = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
              "object": (object,), "datetime": (str,), "date": (str,)}


def problems(manifest: dict) -> list[str]:
    """Everything wrong with one manifest; empty when the API would accept its shape."""
    key = (manifest.get("apiVersion"), manifest.get("kind"))
    if key not in KINDS:
        return [f"unknown apiVersion/kind {key}"]
    return check(manifest, KINDS[key], manifest.get("kind", "?"))


def check(value: Any, type_name: str, path: str) -> list[str]:
    """Problems of ``value`` as an instance of the OpenAPI type ``type_name`` at ``path``."""
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        inner = type_name[5:-1]
        return [p for index, item in enumerate(value)
                for p in check(item, inner, f"{path}[{index}]")]
    if type_name.startswith(("dict(", "dict[")):  # the client spells both
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping, got {type(value).__name__}"]
        inner = type_name[5:-1].split(", ", 1)[1]
        return [p for key, item in value.items() for p in check(item, inner, f"{path}.{key}")]
    if type_name in PRIMITIVES:
        wrong = isinstance(value, bool) and type_name in ("int", "float")
        if wrong or not isinstance(value, PRIMITIVES[type_name]):
            return [f"{path}: expected {type_name}, got {value!r}"]
        return []
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({type_name}), got {value!r}"]
    if type_name in KSERVE_TYPES:
        fields = KSERVE_TYPES[type_name]
        found = [f"{path}: {type_name} has no field {key!r}" for key in value if key not in fields]
        return found + [p for key, item in value.items() if key in fields
                        for p in check(item, fields[key], f"{path}.{key}")]
    model = getattr(client.models, type_name, None)
    if model is None:
        return [f"{path}: type {type_name} is neither a Kubernetes model nor in the KServe file"]
    by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
    found = [f"{path}: {type_name} has no field {key!r}" for key in value if key not in by_json]
    for key, item in value.items():
        if key in by_json:
            found += check(item, model.openapi_types[by_json[key]], f"{path}.{key}")
    try:  # the generated setters refuse a missing required field and a value outside an enum
        model(**{by_json[key]: item for key, item in value.items() if key in by_json})
    except (ValueError, TypeError) as error:
        found.append(f"{path}: {error}")
    return found
