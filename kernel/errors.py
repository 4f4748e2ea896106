"""The errors code below the routers raises: plain exceptions that say what is wrong, not how a
protocol answers it (the API maps them to status codes in one table, ``service.api.errors``).

``detail`` is JSON-serialisable and names the field or the state at fault. A field is named by
its own path (``("category",)``, ``("location", "coord")``), never by where a request carried
it: the API knows whether that was the body, the query or the path.
"""

from __future__ import annotations

from typing import Any


class WanggeError(Exception):
    """Base class of the errors raised on purpose below the routers."""

    def __init__(self, detail: Any) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(WanggeError):
    """No such thing, or not one the caller may see (no existence leak)."""


class Forbidden(WanggeError):
    """The caller is known but may not do this."""


class Unauthorized(WanggeError):
    """No caller, or credentials that do not hold."""

    def __init__(self, detail: Any = "not authenticated") -> None:
        super().__init__(detail)


class Conflict(WanggeError):
    """State conflicts: illegal transitions, stale versions, idempotency-key reuse."""


class Invalid(WanggeError):
    """Well-formed input that the rules reject (outside the jurisdiction, too old...)."""


class TooLarge(WanggeError):
    """More than a limit allows (an upload, an export)."""


class UnsupportedMedia(WanggeError):
    """Content of a kind that is not accepted."""


class TooManyRequests(WanggeError):
    """Try again later: ``retry_after`` seconds."""

    def __init__(self, detail: Any, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(WanggeError):
    """A part this needs is down, or kept changing; retrying may help."""


def field_error(
    field: str | tuple[str | int, ...], msg: str, kind: str = "value_error", **extra: Any
) -> list[dict[str, Any]]:
    """A detail in FastAPI's validation-error shape (``loc``, ``msg``, ``type``), so clients
    parse one format. ``field`` is the field's name or path; the API puts the part of the
    request that carried it in front (``body``, ``query``, ``path``)."""
    loc = [field] if isinstance(field, str) else list(field)
    return [{"loc": loc, "msg": msg, "type": kind, **extra}]
