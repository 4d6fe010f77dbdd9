"""Socket values: the platform's JSON schemas, strict JSON text, validation before writing.

The schemas are package data (``grandchallenge/schemas/``; their source is stated in
``schemas/NOTICE.md``): the platform's value schema of each socket kind, and fracturelab's own
schemas for its "Anything" sockets.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from typing import Any

from fracturelab.errors import FracturelabError

__all__ = ["KIND_CODES", "check_value", "json_text", "kind_code", "load_schema"]

#: Platform kind name (as the socket list on grand-challenge.org shows it) -> kind code.
KIND_CODES: dict[str, str] = {
    "String": "STR",
    "Integer": "INT",
    "Float": "FLT",
    "Bool": "BOOL",
    "Anything": "JSON",
    "Point": "POIN",
    "Multiple points": "MPOI",
}


def kind_code(kind: str) -> str:
    """The code of a platform kind name (``"Multiple points"`` -> ``"MPOI"``); codes pass."""
    if kind in KIND_CODES.values():
        return kind
    if kind not in KIND_CODES:
        raise ValueError(f"socket kind {kind!r} is not one fracturelab writes")
    return KIND_CODES[kind]


@cache
def load_schema(name: str) -> dict[str, Any]:
    """One of the packaged schema files, ``interface_values`` or ``fracturelab_values``."""
    text = resources.files("fracturelab.grandchallenge").joinpath(f"schemas/{name}.json")
    document: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return document


def check_value(value: Any, kind: str, schema: str | None = None) -> None:
    """Check a socket value against the platform's schema of its kind (and ours, if named).

    Args:
        value: The value, as it will be written.
        kind: The socket's kind name or code (``"Multiple points"``, ``"FLT"``).
        schema: A definition of ``fracturelab_values.json`` the value must also meet.

    Raises:
        FracturelabError: The value does not validate, or holds a NaN or infinity (which
            JSON cannot carry); a bug in fracturelab, not the user's input.

    """
    import jsonschema

    checks = [("interface_values", kind_code(kind))]
    if schema is not None:
        checks.append(("fracturelab_values", schema))
    for document_name, definition in checks:
        document = load_schema(document_name)
        wrapper = {
            "$schema": document["$schema"],
            "definitions": document["definitions"],
            "$ref": f"#/definitions/{definition}",
        }
        errors = sorted(
            jsonschema.Draft7Validator(wrapper).iter_errors(value), key=lambda e: list(e.path)
        )
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "(top)"
            raise FracturelabError(
                f"output value of kind {kind} does not meet schema {definition} at {where}: "
                f"{errors[0].message}"
            )
    _check_finite(value, kind)
    json_text(value)


def json_text(value: Any) -> str:
    """JSON text of ``value`` as the platform reads it: no NaN or infinity, UTF-8, indented."""
    try:
        return json.dumps(value, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    except ValueError as error:
        raise FracturelabError(f"output value cannot be written as JSON: {error}") from None


def _check_finite(value: Any, kind: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise FracturelabError(f"output value of kind {kind} holds {value}; JSON cannot carry it")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item, kind)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_finite(item, kind)
