"""What the OpenAPI document says beyond the routes' own types: the one error shape for each
status a route can answer, the GeoJSON shapes PostGIS writes, and short operation ids.

Routers list the statuses they can really answer (``problems(401, 403, 404)``); the shape is
the one ``service.api.errors`` writes for every 4xx.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field


class ProblemItem(BaseModel):
    """One thing wrong: where (``loc``: the request part, then the field path), what and which
    kind. Some kinds carry more keys (a 409 names the status, version and allowed actions)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(examples=[["body", "category"]])
    msg: str = Field(examples=["unknown category 'garbage'"])
    type: str = Field(examples=["value_error"])


class Problem(BaseModel):
    """Every 4xx (and 503) body."""

    detail: list[ProblemItem]


_SAYS: dict[int, str] = {
    401: "no bearer token, or one that is expired, revoked or malformed",
    403: "your role may not do this, or not on this object",
    404: "no such object, or not one you may see",
    409: "conflicts with the current state: an illegal transition (names the status and the "
    "allowed actions), a stale version (names the current one), or a reused key",
    413: "larger than the limit allows",
    415: "content of a kind that is not accepted",
    422: "a field is missing, malformed or out of range (``loc`` names it)",
    429: "too many requests: retry after the ``Retry-After`` header's seconds",
    503: "a part this needs (Redis, the database) is unavailable: retry later",
}

_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {"loc": [], "msg": "not authenticated", "type": "unauthorized"},
    403: {"loc": [], "msg": "role grid_member may not do this", "type": "forbidden"},
    404: {"loc": ["path", "event_id"], "msg": "no event 42", "type": "not_found"},
    409: {
        "loc": [],
        "msg": "action 'acknowledge' is not allowed while the event is registered",
        "type": "illegal_transition",
        "status": "registered",
        "action": "acknowledge",
        "allowed": ["dispatch", "void"],
        "version": 1,
    },
    422: {"loc": ["body", "location", "lat"], "msg": "Input should be less than or equal to 90",
          "type": "less_than_equal"},
}  # fmt: skip


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these statuses, each with the one error shape."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": Problem, "description": _SAYS[status]}
        example = _EXAMPLES.get(status)
        if example is not None:
            entry["content"] = {"application/json": {"example": {"detail": [example]}}}
        out[status] = entry
    return out


AUTHENTICATED = problems(401, 403, 422)  # every route behind a token


def operation_id(route: APIRoute) -> str:
    """The handler's name (``list_events``, ``report_event``): short, and unique (tested)."""
    return route.name


# GeoJSON (RFC 7946) as the grid map's routes write it: typed for clients and the docs.
Position = list[float]


class MultiPolygon(BaseModel):
    type: Literal["MultiPolygon"]
    coordinates: list[list[list[Position]]] = Field(
        description="polygons → rings → [longitude, latitude] in WGS-84, 7 decimals"
    )


class GridStaffMember(BaseModel):
    id: int
    name: str
    role: str = Field(examples=["head"])


class GridProperties(BaseModel):
    code: str = Field(examples=["130203001001001"])
    name: str = Field(examples=["第1网格"])
    community: str = Field(examples=["学院路社区"])
    community_code: str
    area_km2: float
    staff: list[GridStaffMember] = Field(description="the grid head first, then the members")


class GridFeature(BaseModel):
    type: Literal["Feature"]
    id: str = Field(description="the grid's code")
    geometry: MultiPolygon
    properties: GridProperties


class GridCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[GridFeature]


BINARY: dict[str, Any] = {"type": "string", "format": "binary"}

#: Tables answer JSON by default, or a file with ``format=csv`` / ``format=xlsx``.
EXPORTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON; with format=csv a UTF-8 CSV (streamed), with format=xlsx a workbook",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": BINARY},
        },
    }
}


def openapi_with_json_errors(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` whose error replies are ``application/json`` on every route: FastAPI
    files a response ``model`` under the route's own media type (GeoJSON, SSE), but errors are
    always JSON."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            for operations in doc.get("paths", {}).values():
                for operation in operations.values():
                    for status, answer in operation.get("responses", {}).items():
                        if status[0] in "45":
                            _errors_as_json(answer.get("content", {}))
            app.openapi_schema = doc
        return app.openapi_schema

    return openapi


def _errors_as_json(content: dict[str, Any]) -> None:
    for media in [m for m in content if m != "application/json"]:
        schema = content[media].get("schema")
        if schema == {"$ref": "#/components/schemas/Problem"}:
            content.pop(media)
            content.setdefault("application/json", {})["schema"] = schema
