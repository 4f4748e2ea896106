"""The one table that turns the errors raised below the routers into HTTP answers.

Kernel errors (``kernel.errors``) and the dispatch core's errors (``domain.lifecycle``) map to
status codes here and nowhere else. Every 4xx and 5xx body has one shape, FastAPI's validation
list (docs/decisions/0012-operability.md): ``{"detail": [{"loc": [...], "msg": "...", "type":
"..."}, ...]}``, where an item may carry more keys (a 409 names the status, version and allowed
actions). Code below the routers names a field by its own path (``["category"]``); the answer's
``loc`` puts in front the part of the request that carried it, read from the matched route's
declared inputs (path, query, header, body), so clients see FastAPI's own
``["body", "category"]``. Starlette's own errors (an unknown path, a wrong method) and
``HTTPException`` get the same shape.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from domain.lifecycle import DomainError as LifecycleError
from domain.lifecycle import IllegalTransition, InvalidCommand, StaleVersion
from kernel import errors
from service.api import open311_format

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
# The ``type`` of an item whose code below the routers gave only a message.
KIND: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    422: "value_error",
    429: "rate_limited",
    503: "unavailable",
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


def as_items(detail: Any, status: int) -> list[dict[str, Any]]:
    """``detail`` in the one shape: a list of ``{"loc", "msg", "type", ...}``."""
    kind = KIND.get(status, "error")
    items: list[dict[str, Any]] = []
    for item in detail if isinstance(detail, list) else [detail]:
        if isinstance(item, dict):
            loc = item.get("loc", [])
            rest = {k: v for k, v in item.items() if k not in ("loc", "msg", "type")}
            items.append(
                {
                    "loc": list(loc) if isinstance(loc, list | tuple) else [loc],
                    "msg": str(item.get("msg", "")),
                    "type": str(item.get("type", kind)),
                    **rest,
                }
            )
        else:
            items.append({"loc": [], "msg": str(item), "type": kind})
    return items


#: Paths of the Open311 GeoReport v2 door, which answers errors in its spec's shape.
OPEN311_PREFIX = "/open311/"


def _answer(
    request: Request, detail: Any, status: int, headers: dict[str, str] | None = None
) -> Response:
    route = request.scope.get("route")
    items = as_items(detail, status)
    if isinstance(route, APIRoute):
        items = _located(items, input_sources(route))
    if request.url.path.startswith(OPEN311_PREFIX):
        # the spec's "invalid input" is a 400
        code = 400 if status == 422 else status
        return open311_format.errors(request.url.path, code, items, headers)
    return JSONResponse({"detail": items}, status_code=status, headers=headers)


async def _handle(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.WanggeError)
    return _answer(request, exc.detail, _status(exc), _headers(exc))


async def _handle_lifecycle(request: Request, exc: Exception) -> Response:
    """The dispatch core's errors: illegal transitions and stale versions are 409s."""
    if isinstance(exc, IllegalTransition):
        detail: Any = {
            "loc": [],
            "msg": str(exc),
            "type": "illegal_transition",
            "status": exc.state.status.value,
            "level": exc.state.level,
            "action": exc.action.value,
            "allowed": [a.value for a in exc.allowed],
            "version": exc.state.version,
        }
        return _answer(request, detail, 409)
    if isinstance(exc, StaleVersion):
        detail = {
            "loc": ["version"],
            "msg": str(exc),
            "type": "stale_version",
            "expected_version": exc.expected,
            "version": exc.actual,
        }
        return _answer(request, detail, 409)
    if isinstance(exc, InvalidCommand):
        loc = ["body"] if exc.field is None else ["body", exc.field]
        return _answer(request, {"loc": loc, "msg": str(exc)}, 422)
    return _answer(request, str(exc), 400)


async def _handle_http(request: Request, exc: Exception) -> Response:
    """Starlette's and FastAPI's ``HTTPException`` (unknown path, wrong method...)."""
    assert isinstance(exc, HTTPException)
    return _answer(request, exc.detail, exc.status_code, dict(exc.headers or {}))


#: The most characters of a rejected input a 422 echoes back (the rest is cut, marked "…").
EXCERPT_CHARS = 120
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def _clean(text: str, limit: int) -> str:
    """Text that JSON (as UTF-8) can carry, at most ``limit`` characters."""
    cut = text[:limit] + "…" if len(text) > limit else text
    return _UNSAFE.sub("\ufffd", cut)


def excerpt(value: Any) -> Any:
    """A bounded, serialisable excerpt of a rejected input: scalars as they are (non-finite
    numbers as text), text and structures cut to ``EXCERPT_CHARS``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else _clean(str(value), EXCERPT_CHARS)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _clean(value, EXCERPT_CHARS)
    if isinstance(value, bytes):
        return _clean(value[: EXCERPT_CHARS * 4].decode("utf-8", "replace"), EXCERPT_CHARS)
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return _clean(text, EXCERPT_CHARS)


def _safe_scalar(value: Any) -> Any:
    if isinstance(value, str | bool | type(None)) or (
        isinstance(value, int | float) and excerpt(value) == value
    ):
        return excerpt(value)
    return _clean(str(value), EXCERPT_CHARS)


def validation_items(raw: Any) -> list[dict[str, Any]]:
    """Pydantic's errors in the one shape, with every input cut to an excerpt: an answer that
    is always small and always serialisable, whatever was sent."""
    items: list[dict[str, Any]] = []
    for error in list(raw)[:50]:
        item: dict[str, Any] = {
            "loc": [
                part if isinstance(part, int) else _clean(str(part), 64)
                for part in error.get("loc", ())
            ],
            "msg": _clean(str(error.get("msg", "")), 500),
            "type": _clean(str(error.get("type", "value_error")), 64),
        }
        if "input" in error:
            item["input"] = excerpt(error["input"])
        ctx = error.get("ctx")
        if isinstance(ctx, dict):
            item["ctx"] = {str(k): _safe_scalar(v) for k, v in list(ctx.items())[:10]}
        items.append(item)
    return items


async def _handle_validation(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, without echoing more than an excerpt of the input (in the spec's shape,
    as a 400, on the Open311 door)."""
    assert isinstance(exc, RequestValidationError)
    items = validation_items(exc.errors())
    if request.url.path.startswith(OPEN311_PREFIX):
        return _answer(request, items, 422)
    return JSONResponse({"detail": items}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(errors.WanggeError, _handle)
    app.add_exception_handler(LifecycleError, _handle_lifecycle)
    app.add_exception_handler(HTTPException, _handle_http)
