"""What every request must be before a route parses it (docs/decisions/0008-hardening.md).

- **Size**: a body larger than its route's limit is a 413, refused on its declared
  ``Content-Length`` before a byte is read, or as soon as a chunked body passes the limit.
  Limits: ``WANGGE_BODY_MAX_BYTES`` (small) for every route, ``WANGGE_BODY_MAX_BYTES_ROUTES``
  for the routes that take more (path patterns, ``*`` one segment); photo uploads take the
  photo limit (their route enforces it too, with its own message).
- **Text that PostgreSQL and JSON cannot carry**: NUL characters, lone UTF-16 surrogates and
  invalid UTF-8 in the query string, the path, a form or a JSON body are a 422 naming the field.
- **JSON numbers**: ``NaN``, ``Infinity`` (and ``1e400``, which Python reads as infinity) and
  integers outside signed 64 bits are a 422 naming the field: no column holds them.

Bodies are read here (they are within the limit), checked, and handed on as read; multipart
bodies (photos) stream through, counted.
"""

from __future__ import annotations

import json
import math
import re
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.settings import Settings, get_settings
from service.api import open311_format

#: Envelope a multipart upload may add to the photo itself (part headers, the stage field).
UPLOAD_ENVELOPE_BYTES = 64 * 1024
#: Routes that take a photo: a staff photo upload, and an Open311 report with its ``media``.
_UPLOAD_PATHS = ("/api/v1/events/*/photos", "/open311/v2/requests.*")
_INT64 = (-(2**63), 2**63 - 1)
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


class _Rejected(Exception):
    def __init__(self, status: int, items: list[dict[str, Any]]) -> None:
        self.status = status
        self.items = items


class _Bad:
    """A JSON number no column can hold, kept in place so the walk can name its field."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _float(text: str) -> float | _Bad:
    value = float(text)
    return value if math.isfinite(value) else _Bad(text)


def _int(text: str) -> int | _Bad:
    value = int(text)
    return value if _INT64[0] <= value <= _INT64[1] else _Bad(text)


def _text_problem(text: str) -> str | None:
    match = _BAD_CHARS.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "NUL characters are not accepted"
    return "lone UTF-16 surrogates are not text: send valid Unicode"


def _json_problems(value: Any, loc: list[str | int], out: list[dict[str, Any]]) -> None:
    """Every field of ``value`` that holds what no column can, as 422 items (at most 20)."""
    if len(out) >= 20:
        return
    if isinstance(value, str):
        problem = _text_problem(value)
        if problem:
            out.append({"loc": loc, "msg": problem, "type": "string_unicode"})
    elif isinstance(value, _Bad):
        number_kind = "int_range" if value.text.lstrip("-").isdigit() else "finite_number"
        msg = (
            "integers must lie within signed 64 bits"
            if number_kind == "int_range"
            else "numbers must be finite (no NaN, Infinity or overflowing exponents)"
        )
        out.append({"loc": loc, "msg": msg, "type": number_kind})
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _text_problem(key)
            if problem:
                out.append(
                    {"loc": [*loc, _printable(key)], "msg": problem, "type": "string_unicode"}
                )
            else:
                _json_problems(item, [*loc, key], out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _json_problems(item, [*loc, index], out)


def _printable(text: str) -> str:
    return _BAD_CHARS.sub("\ufffd", text)[:64]


def check_json(body: bytes) -> None:
    """Raise ``_Rejected`` (422) when ``body`` is JSON holding what no column can. Not JSON at
    all is left to FastAPI, which answers its own ``json_invalid`` 422."""
    try:
        value = json.loads(body, parse_constant=_Bad, parse_float=_float, parse_int=_int)
    except (ValueError, RecursionError):
        return
    problems: list[dict[str, Any]] = []
    _json_problems(value, ["body"], problems)
    if problems:
        raise _Rejected(422, problems)


def check_pairs(raw: bytes, where: str) -> None:
    """An ``a=1&b=2`` string (query or form): every name and value must be NUL-free UTF-8."""
    if not raw:
        return
    problems: list[dict[str, Any]] = []
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        decoded_name = _decoded(name)
        decoded_value = _decoded(value)
        for decoded in (decoded_name, decoded_value):
            problem = "not UTF-8 text" if decoded is None else _text_problem(decoded)
            if problem:
                label = _printable(decoded_name) if decoded_name is not None else "?"
                problems.append({"loc": [where, label], "msg": problem, "type": "string_unicode"})
                break
    if problems:
        raise _Rejected(422, problems[:20])


def _decoded(raw: bytes) -> str | None:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


@lru_cache(maxsize=256)
def body_limit(path: str) -> int:
    """The most bytes a request body on ``path`` may have."""
    return _limit_for(path, get_settings())


def _limit_for(path: str, settings: Settings) -> int:
    def matches(pattern: str) -> bool:
        return fnmatchcase(path.rstrip("/"), pattern) and path.count("/") == pattern.count("/")

    if any(matches(pattern) for pattern in _UPLOAD_PATHS):
        # the route refuses past photo + envelope with its own message; this is the backstop
        return settings.photo_max_bytes + 2 * UPLOAD_ENVELOPE_BYTES
    for pattern, limit in settings.body_max_bytes_routes.items():
        if matches(pattern):
            return limit
    return settings.body_max_bytes


def _too_large(limit: int) -> _Rejected:
    return _Rejected(
        413,
        [
            {
                "loc": ["body"],
                "msg": f"the request body is larger than {limit} bytes",
                "type": "too_large",
                "limit": limit,
            }
        ],
    )


def _media(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return str(value.split(b";", 1)[0].strip().lower().decode("latin-1"))
    return ""


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(send: Send, rejected: _Rejected) -> None:
    body = json.dumps({"detail": rejected.items}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": rejected.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class InputGuardMiddleware:
    """Pure ASGI: size limits and the text and number checks above, before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            if "\x00" in scope["path"]:
                raise _Rejected(
                    422,
                    [
                        {
                            "loc": ["path"],
                            "msg": "NUL characters are not accepted",
                            "type": "string_unicode",
                        }
                    ],  # fmt: skip
                )
            check_pairs(scope.get("query_string", b""), "query")
            limit = body_limit(scope["path"])
            declared = _declared_length(scope)
            if declared is not None and declared > limit:
                raise _too_large(limit)
            media = _media(scope)
            if media.startswith("multipart/"):
                receive = _counted(receive, limit)  # a photo streams through, counted
            elif scope["method"] not in _BODILESS:
                body = await _read(receive, limit)
                if media == "application/json" or media.endswith("+json"):
                    check_json(body)
                elif media == "application/x-www-form-urlencoded":
                    check_pairs(body, "body")
                receive = _replay(body, receive)
        except _Rejected as rejected:
            await _refuse(scope, receive, send, rejected)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except _Rejected as rejected:  # a streamed body passed its limit
            if started:
                raise
            await _refuse(scope, receive, send, rejected)


async def _refuse(scope: Scope, receive: Receive, send: Send, rejected: _Rejected) -> None:
    """The refusal in the one error shape, or in the GeoReport v2 shape on the Open311 door."""
    path = str(scope["path"])
    if path.startswith("/open311/"):
        status = 400 if rejected.status == 422 else rejected.status
        await open311_format.errors(path, status, rejected.items, None)(scope, receive, send)
        return
    await _answer(send, rejected)


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _counted(receive: Receive, limit: int) -> Receive:
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise _too_large(limit)
        return message

    return counted
