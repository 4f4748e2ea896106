"""A query string validated as one model, for the hottest read routes.

FastAPI validates each query parameter on its own path, which measured ~60 µs per request
for the four parameters of the grid lookup (ADR 0005); validating the query string as one
pydantic model costs a few. ``parse_query(Model, request)`` validates (called in the route, so
it is not one more dependency to solve either), ``query_parameters(Model)`` is the OpenAPI
description of the same fields (the route's ``openapi_extra``), and errors are FastAPI's own
422 (``loc`` ``["query", field]``), so clients see no difference.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

M = TypeVar("M", bound=BaseModel)


def parse_query(model: type[M], request: Request) -> M:
    """The request's query string validated as ``model`` (unknown parameters are ignored, a
    repeated one counts once: its last value, as FastAPI does)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [_as_fastapi(e) for e in exc.errors(include_url=False)]
        ) from None


def _as_fastapi(error: Any) -> dict[str, Any]:
    """A model error as FastAPI reports a query parameter's (a missing one has no input)."""
    shaped: dict[str, Any] = {**error, "loc": ("query", *error["loc"])}
    if error["type"] == "missing":
        shaped["input"] = None
    return shaped


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring the model's fields as query parameters (references to
    other schemas written out, so the description stands on its own)."""
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})

    def inline(prop: dict[str, Any]) -> dict[str, Any]:
        ref = prop.get("$ref")
        if ref is None:
            return prop
        rest = {k: v for k, v in prop.items() if k != "$ref"}
        return {**definitions[ref.rsplit("/", 1)[-1]], **rest}

    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        field = inline(prop)
        entry: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in field.items() if k != "description"},
        }
        if "description" in field:
            entry["description"] = field["description"]
        parameters.append(entry)
    return {"parameters": parameters}
