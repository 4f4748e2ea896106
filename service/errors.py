"""Domain exceptions and the one table that maps them to HTTP status codes.

Code below the routers raises these (never ``HTTPException``); the handler installed
by :func:`install` turns them into ``{"detail": ...}`` responses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request


class DomainError(Exception):
    """Base class; ``detail`` is JSON-serialisable and names the field or state at fault."""

    status_code = 400

    def __init__(self, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Unauthorized(DomainError):
    status_code = 401

    def __init__(self, detail: Any = "not authenticated") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Conflict(DomainError):
    """State conflicts: illegal transitions, stale versions, idempotency-key reuse."""

    status_code = 409


class Invalid(DomainError):
    """Well-formed input that the domain rejects (outside the jurisdiction, too old...)."""

    status_code = 422


class TooLarge(DomainError):
    status_code = 413


class UnsupportedMedia(DomainError):
    status_code = 415


class TooManyRequests(DomainError):
    status_code = 429


class Unavailable(DomainError):
    status_code = 503


def field_error(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> list[Any]:
    """A detail in FastAPI's validation-error shape, so clients parse one format."""
    return [{"loc": list(loc), "msg": msg, "type": kind}]


async def _handle(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _handle_dispatch(_: Request, exc: Exception) -> JSONResponse:
    """The dispatch core's errors: illegal transitions and stale versions are 409s."""
    from dispatch.domain import IllegalTransition, InvalidCommand, StaleVersion

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
            {"detail": [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]}, status_code=422
        )
    return JSONResponse({"detail": str(exc)}, status_code=400)


def install(app: FastAPI) -> None:
    from dispatch.domain import DomainError as DispatchError

    app.add_exception_handler(DomainError, _handle)
    app.add_exception_handler(DispatchError, _handle_dispatch)
