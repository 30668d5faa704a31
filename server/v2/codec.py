"""Open Inference Protocol V2 bodies: parse inference requests, encode responses.

JSON tensors as the KServe spec has them (row-major data, flat or nested), plus Triton's
binary tensor data extension, which ``tritonclient`` uses by default: a JSON header of
``Inference-Header-Content-Length`` bytes followed by the raw tensors in input order.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

#: The request header saying how long the JSON part of a binary body is.
HEADER_LENGTH = "Inference-Header-Content-Length"
#: V2 datatypes the server reads or writes, and their numpy types.
NUMPY_TYPES = {"FP32": np.float32, "FP64": np.float64, "INT32": np.int32, "INT64": np.int64}
#: Most images one request may carry.
MAX_BATCH_IMAGES = 1024


class V2Error(Exception):
    """A request the protocol answers with ``{"error": message}`` and a 4xx status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InputTensor:
    """One request input: numbers as a flat numpy array, or BYTES as a list of bytes."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Any


@dataclass(frozen=True)
class RequestedOutput:
    """An output the client asked for, and how it wants it."""

    name: str
    binary: bool | None = None  # None: the request's binary_data_output decides
    classification: int = 0  # Triton's classification extension: top-k as BYTES


@dataclass(frozen=True)
class InferRequest:
    """A parsed inference request."""

    id: str | None
    parameters: dict[str, Any]
    inputs: list[InputTensor]
    outputs: list[RequestedOutput] | None  # None: every output
    binary_output: bool = False


def parse_request(body: bytes, header_length: str | None) -> InferRequest:
    """Parse a JSON (or JSON + binary) inference request; :class:`V2Error` says what is wrong."""
    binary = b""
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError:
            raise V2Error(f"{HEADER_LENGTH} must be a whole number, got {header_length!r}"
                          ) from None
        if not 0 < size <= len(body):
            raise V2Error(f"{HEADER_LENGTH} is {size} but the body has {len(body)} bytes")
        body, binary = body[:size], body[size:]
    if not body:
        raise V2Error("the body is empty: send an inference request object")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise V2Error(f"the inference request is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise V2Error("the inference request must be a JSON object")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise V2Error("'id' must be a string")
    parameters = _parameters(payload.get("parameters"), "the request")
    raw_inputs = payload.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise V2Error("'inputs' must be a non-empty list of input tensors")
    inputs, offset = [], 0
    for raw in raw_inputs:
        tensor, offset = _input(raw, binary, offset)
        inputs.append(tensor)
    if offset != len(binary):
        raise V2Error(f"the body has {len(binary) - offset} bytes of binary data no input claims")
    outputs = None
    if "outputs" in payload:
        if not isinstance(payload["outputs"], list):
            raise V2Error("'outputs' must be a list of requested outputs")
        outputs = [_requested_output(raw) for raw in payload["outputs"]]
    binary_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_output, bool):
        raise V2Error("parameter 'binary_data_output' must be true or false")
    return InferRequest(request_id, parameters, inputs, outputs, binary_output)


def _parameters(raw: Any, where: str) -> dict[str, Any]:
    """Parameters are an object of strings, numbers and booleans (the spec's $parameters)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(value, (str, int, float, bool)) for value in raw.values()
    ):
        raise V2Error(f"'parameters' of {where} must be an object of strings, numbers, booleans")
    return raw


def _input(raw: Any, binary: bytes, offset: int) -> tuple[InputTensor, int]:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise V2Error("each input must be an object with a 'name'")
    name = raw["name"]
    datatype = raw.get("datatype")
    if not isinstance(datatype, str):
        raise V2Error(f"input {name!r} has no 'datatype'")
    shape = raw.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise V2Error(f"input {name!r}: 'shape' must be a list of whole numbers >= 0")
    parameters = _parameters(raw.get("parameters"), f"input {name!r}")
    count = math.prod(shape)
    size = parameters.get("binary_data_size")
    if size is not None:
        if type(size) is not int or size < 0 or offset + size > len(binary):
            raise V2Error(f"input {name!r}: binary_data_size {size!r} does not fit the body")
        chunk, offset = binary[offset:offset + size], offset + size
        data = _from_binary(name, datatype, chunk, count)
    elif "data" in raw:
        data = _from_json(name, datatype, raw["data"], count)
    else:
        raise V2Error(f"input {name!r} has neither 'data' nor binary data")
    return InputTensor(name, datatype, tuple(shape), data), offset


def _from_binary(name: str, datatype: str, chunk: bytes, count: int) -> Any:
    if datatype == "BYTES":
        items, position = [], 0
        while position < len(chunk):
            if position + 4 > len(chunk):
                raise V2Error(f"input {name!r}: BYTES data ends inside a length prefix")
            (length,) = struct.unpack_from("<I", chunk, position)
            position += 4
            if position + length > len(chunk):
                raise V2Error(f"input {name!r}: a BYTES element runs past the data")
            items.append(chunk[position:position + length])
            position += length
        if len(items) != count:
            raise V2Error(f"input {name!r} has {len(items)} BYTES elements; its shape says {count}")
        return items
    if datatype not in NUMPY_TYPES:
        raise V2Error(f"input {name!r}: datatype {datatype!r} is not supported")
    dtype = np.dtype(NUMPY_TYPES[datatype]).newbyteorder("<")
    if len(chunk) != count * dtype.itemsize:
        raise V2Error(f"input {name!r} has {len(chunk)} bytes; shape and {datatype} need "
                      f"{count * dtype.itemsize}")
    return np.frombuffer(chunk, dtype=dtype).astype(NUMPY_TYPES[datatype])


def _from_json(name: str, datatype: str, data: Any, count: int) -> Any:
    if not isinstance(data, list):
        raise V2Error(f"input {name!r}: 'data' must be a list (flat or nested, row-major)")
    if datatype == "BYTES":
        items = list(_flatten(data))
        if not all(isinstance(item, str) for item in items):
            raise V2Error(f"input {name!r}: BYTES data in JSON must be base64 strings")
        if len(items) != count:
            raise V2Error(f"input {name!r} has {len(items)} elements; its shape says {count}")
        return [_base64(name, item) for item in items]
    if datatype not in NUMPY_TYPES:
        raise V2Error(f"input {name!r}: datatype {datatype!r} is not supported")
    try:
        array = np.asarray(data)
    except (ValueError, TypeError):
        raise V2Error(f"input {name!r}: 'data' is a ragged array") from None
    if array.size and array.dtype.kind not in "iuf":
        raise V2Error(f"input {name!r}: {datatype} data must be numbers")
    if array.size != count:
        raise V2Error(f"input {name!r} has {array.size} elements; its shape says {count}")
    return array.reshape(-1).astype(NUMPY_TYPES[datatype])


def _flatten(data: list) -> Any:
    for item in data:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _base64(name: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise V2Error(f"input {name!r}: a BYTES element is not valid base64") from None


def _requested_output(raw: Any) -> RequestedOutput:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise V2Error("each requested output must be an object with a 'name'")
    parameters = _parameters(raw.get("parameters"), f"output {raw['name']!r}")
    binary = parameters.get("binary_data")
    if binary is not None and not isinstance(binary, bool):
        raise V2Error(f"output {raw['name']!r}: 'binary_data' must be true or false")
    classification = parameters.get("classification", 0)
    if type(classification) is not int or classification < 0:
        raise V2Error(f"output {raw['name']!r}: 'classification' must be a whole number >= 0")
    return RequestedOutput(raw["name"], binary, classification)


@dataclass(frozen=True)
class OutputTensor:
    """One response output: numbers as an array, or BYTES as a list of bytes, and its shape."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Any
    binary: bool


def encode_response(header: dict[str, Any], outputs: list[OutputTensor]) -> tuple[bytes, dict]:
    """The response body and headers: plain JSON, or JSON + binary tensors when any asks for it."""
    rendered, chunks = [], []
    for output in outputs:
        entry = {"name": output.name, "datatype": output.datatype, "shape": list(output.shape)}
        if output.binary:
            raw = _to_binary(output)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        elif output.datatype == "BYTES":
            entry["data"] = [item.decode("utf-8") for item in output.data]
        else:
            entry["data"] = np.asarray(output.data).astype(np.float64).reshape(-1).tolist()
        rendered.append(entry)
    text = orjson.dumps({**header, "outputs": rendered})
    if not chunks:
        return text, {"Content-Type": "application/json"}
    return text + b"".join(chunks), {"Content-Type": "application/octet-stream",
                                     HEADER_LENGTH: str(len(text))}


def _to_binary(output: OutputTensor) -> bytes:
    if output.datatype == "BYTES":
        return b"".join(struct.pack("<I", len(item)) + item for item in output.data)
    dtype = np.dtype(NUMPY_TYPES[output.datatype]).newbyteorder("<")
    return np.ascontiguousarray(output.data, dtype=dtype).tobytes()
