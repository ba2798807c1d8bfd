"""The published /openapi.json: every body and answer typed, 400 (not 422) for bad input.

FastAPI documents a 422 for every route with parameters; this service answers 400 in
the error shape (api/errors.py), so the schema says so. Routes that read their body by
hand (registrations, re-fetch requests: a body may be one object, a batch or a list)
name its models with :func:`json_body`; their schemas are added here.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from . import models

REF = "#/components/schemas/{model}"
BODY_MODELS = (models.ResourceIn, models.ResourceBatch, models.RefetchBody, models.ErrorBody)
"""Models only named by :func:`json_body` (and the error shape), added to the components."""
INVALID = {
    "description": "Invalid input: the error shape, code validation_error or invalid_json",
    "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
}


def json_body(*names: str, required: bool = True) -> dict:
    """``openapi_extra`` for a JSON body that is one of these models (``Name[]``: a list)."""

    def schema(name: str) -> dict:
        if name.endswith("[]"):
            return {"type": "array", "items": {"$ref": REF.format(model=name[:-2])}}
        return {"$ref": REF.format(model=name)}

    choices = [schema(name) for name in names]
    body = choices[0] if len(choices) == 1 else {"anyOf": choices}
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": body}}}
    }


def install(app: FastAPI) -> None:
    """Publish the schema with 400 in place of 422 and the hand-read bodies' models."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        _, defs = models_json_schema(
            [(model, "validation") for model in BODY_MODELS], ref_template=REF
        )
        components.update(defs["$defs"])
        for item in schema["paths"].values():
            for operation in item.values():
                responses = operation["responses"]
                takes_input = operation.get("parameters") or operation.get("requestBody")
                if responses.pop("422", None) is not None or takes_input:
                    responses["400"] = INVALID
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
