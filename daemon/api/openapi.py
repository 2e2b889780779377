"""The OpenAPI 3.1 document, generated from the route tables and their pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from daemon import __version__
from daemon.api.routing import Endpoint, Routes

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "problems": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
                    },
                },
            },
        }
    },
}

_ERRORS = {
    "400": "malformed JSON",
    "401": "missing or unknown token",
    "403": "token lacks the permission or tenant",
    "404": "not found",
    "409": "refused by the current state or a missing gate",
    "413": "body too large",
    "415": "not application/json",
    "422": "invalid field (named in problems)",
}


def _parameters(e: Endpoint, defs: dict[str, Any]) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", e.path)
    ]
    if e.query is not None:
        schema = e.query.model_json_schema(ref_template="#/components/schemas/{model}")
        defs.update(schema.pop("$defs", {}))
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return params


def document(tables: Iterable[Routes]) -> dict[str, Any]:
    endpoints = [e for t in tables for e in t.endpoints]
    models: set[type[BaseModel]] = {m for e in endpoints for m in (e.body, e.response) if m is not None}
    ordered = sorted(models, key=lambda m: m.__name__)
    keys, top = models_json_schema([(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        op: dict[str, Any] = {
            "summary": e.summary,
            "tags": [e.tag],
            "operationId": e.handler.__name__,
            "parameters": _parameters(e, schemas),
        }
        if e.permission is not None:
            op["security"] = [{"bearer": []}]
            op["x-micd-permission"] = e.permission.value
            if e.alternatives:
                op["x-micd-permission-alternatives"] = sorted(p.value for p in e.alternatives)
        if e.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": keys[(e.body, "validation")]}},
            }
        if e.response is not None:
            content: dict[str, Any] = {"application/json": {"schema": keys[(e.response, "validation")]}}
        elif e.raw_response is not None:
            content = {e.raw_response: {"schema": {"type": "string"}}}
        else:
            content = {"application/json": {"schema": {"type": "object"}}}
        op["responses"] = {str(e.status): {"description": "success", "content": content}} | {
            code: {
                "description": why,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            for code, why in _ERRORS.items()
        }
        paths.setdefault(e.path, {})[e.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "micd", "version": __version__, "description": "Major incident command daemon"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
