"""The one table that turns the errors raised below the routers into HTTP answers.

Kernel errors (``kernel.errors``) and the dispatch core's errors (``domain.lifecycle``) map to
status codes here and nowhere else; the body is FastAPI's ``{"detail": ...}``. Code below the
routers names a field by its own path (``["category"]``); the answer's ``loc`` puts in front
the part of the request that carried it, read from the matched route's declared inputs
(path, query, header, body), so clients see FastAPI's own ``["body", "category"]``.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request

from domain.lifecycle import DomainError as LifecycleError
from domain.lifecycle import IllegalTransition, InvalidCommand, StaleVersion
from kernel import errors

STATUS: dict[type[errors.WanggeError], int] = {
    errors.Invalid: 422,
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Unauthorized: 401,
    errors.Conflict: 409,
    errors.TooLarge: 413,
    errors.UnsupportedMedia: 415,
    errors.TooManyRequests: 429,
    errors.Unavailable: 503,
}
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def _status(exc: errors.WanggeError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def _headers(exc: errors.WanggeError) -> dict[str, str] | None:
    if isinstance(exc, errors.Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, errors.TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    return None


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation names (``X``, ``X | None``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


_route_sources: dict[int, dict[str, str]] = {}


def input_sources(route: APIRoute) -> dict[str, str]:
    """Each input name of ``route`` → the part of the request that carries it."""
    known = _route_sources.get(id(route))
    if known is not None:
        return known
    found: dict[str, str] = {}
    stack: list[Dependant] = [route.dependant]
    while stack:
        dependant = stack.pop()
        stack.extend(dependant.dependencies)
        for source, params in (
            ("path", dependant.path_params),
            ("query", dependant.query_params),
            ("header", dependant.header_params),
            ("cookie", dependant.cookie_params),
        ):
            for param in params:
                found.setdefault(param.alias, source)
        for param in dependant.body_params:
            found.setdefault(param.alias, "body")
            for model in _models(param.field_info.annotation):
                for name, field in model.model_fields.items():
                    found.setdefault(field.alias or name, "body")
    body = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
    for media in body.values():
        for name in media.get("schema", {}).get("properties", {}):
            found.setdefault(name, "body")
    _route_sources[id(route)] = found
    return found


def _located(detail: Any, sources: dict[str, str]) -> Any:
    """``detail`` with each ``loc`` prefixed by the request part that carried its field."""

    def fix(item: Any) -> Any:
        if not isinstance(item, dict) or not isinstance(item.get("loc"), list | tuple):
            return item
        loc = list(item["loc"])
        if loc and loc[0] not in _SOURCES and loc[0] in sources:
            return {**item, "loc": [sources[str(loc[0])], *loc]}
        return item

    if isinstance(detail, list):
        return [fix(item) for item in detail]
    return fix(detail)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.WanggeError)
    route = request.scope.get("route")
    detail = exc.detail
    if isinstance(route, APIRoute):
        detail = _located(detail, input_sources(route))
    return JSONResponse({"detail": detail}, status_code=_status(exc), headers=_headers(exc))


async def _handle_lifecycle(_: Request, exc: Exception) -> JSONResponse:
    """The dispatch core's errors: illegal transitions and stale versions are 409s."""
    if isinstance(exc, IllegalTransition):
        detail: Any = {
            "msg": str(exc),
            "status": exc.state.status.value,
            "level": exc.state.level,
            "action": exc.action.value,
            "allowed": [a.value for a in exc.allowed],
            "version": exc.state.version,
        }
        return JSONResponse({"detail": detail}, status_code=409)
    if isinstance(exc, StaleVersion):
        detail = {"msg": str(exc), "expected_version": exc.expected, "version": exc.actual}
        return JSONResponse({"detail": detail}, status_code=409)
    if isinstance(exc, InvalidCommand):
        return JSONResponse(
            {"detail": [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]},
            status_code=422,
        )
    return JSONResponse({"detail": str(exc)}, status_code=400)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.WanggeError, _handle)
    app.add_exception_handler(LifecycleError, _handle_lifecycle)
