"""The authorization matrix over HTTP, generated from the app's route table.

Every route is called by every role: roles not declared get the role check's 403, declared ones
never do (404, 409, 422... are fine: the empty body and sample ids are not the point). Then grid
staff of another grid get 404 (not 403, no existence leak) on every route about one event they
may not see. That every route declares its roles at all (``RolesAllowed``) is checked in
tests/integration/test_authz_matrix.py.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from starlette.responses import StreamingResponse
from starlette.types import Message

from domain.roles import Role
from kernel.settings import get_settings
from service.api.app import create_app
from tests.kit.events import GRID_01, MakeEvent
from tests.kit.routes import USER_OF_ROLE, ApiRoute, api_routes, declared_roles

Headers = Callable[[str], dict[str, str]]

ROLE_REFUSAL = re.compile(r"^role \w+ may not do this")


_ROUTES = [(m, r.path) for r in api_routes(create_app()) for m in sorted(r.methods)]


def _route(app: FastAPI, method: str, path: str) -> ApiRoute:
    for r in api_routes(app):
        if r.path == path and method in r.methods:
            return r
    raise LookupError(f"{method} {path}")


@pytest.fixture
def media(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Uploads in these tests go to a temporary media folder."""
    monkeypatch.setattr(get_settings(), "media_dir", tmp_path)
    return tmp_path


def _fill(path: str, *, event_id: int) -> str:
    """Path parameters from fixtures: the event of grid 01, a grid, a category; else 1."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "event_id":
            return str(event_id)
        if name == "code":
            return "exposed_garbage" if path.startswith("/api/v1/categories") else GRID_01
        return "1"

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def _is_stream(route: ApiRoute) -> bool:
    cls = getattr(route.response_class, "value", route.response_class)
    return isinstance(cls, type) and issubclass(cls, StreamingResponse)


async def _asgi_status(
    app: FastAPI, method: str, url: str, headers: dict[str, str]
) -> tuple[int, bytes]:
    """Call the app directly and hang up after the first body chunk: endless streams (SSE)
    cannot be read to their end through TestClient."""
    status = 0
    body = b""
    started = anyio.Event()
    path, _, query = url.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent_request = False

    async def receive() -> Message:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await started.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")
            started.set()

    with anyio.fail_after(10):
        await app(scope, receive, send)
    return status, body


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _sample(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A minimal instance of an OpenAPI schema (required fields only)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _sample(spec["components"]["schemas"][name], spec)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return _sample(options[0], spec) if options else None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _sample(props[k], spec) for k in schema.get("required", []) if k in props}
    if kind == "array":
        return [_sample(schema.get("items", {}), spec)] * max(schema.get("minItems", 1), 1)
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return datetime.now(UTC).isoformat()
    if fmt == "binary":
        return _png()
    return "x" * max(int(schema.get("minLength", 1)), 1)


def _body_kwargs(
    route: ApiRoute, method: str, spec: dict[str, Any], *, valid: bool
) -> dict[str, Any]:
    """Request-body arguments for TestClient: empty JSON, or a schema-valid sample."""
    if method not in ("POST", "PUT", "PATCH"):
        return {}
    operation = spec["paths"][route.path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    if not valid:
        return {"json": {}} if content else {}
    if "multipart/form-data" in content:
        sample = _sample(content["multipart/form-data"]["schema"], spec)
        files = {
            k: ("sample.png", v, "image/png") for k, v in sample.items() if isinstance(v, bytes)
        }
        data = {k: v for k, v in sample.items() if not isinstance(v, bytes)}
        return {"files": files, "data": data}
    if "application/json" in content:
        return {"json": _sample(content["application/json"]["schema"], spec)}
    return {}


@pytest.fixture
def grid01_event(make_event: MakeEvent) -> int:
    """An event of grid 01, dispatched to one of its members."""
    return make_event("g01m1", assignee="g01m2")


@pytest.fixture
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _call(
    client: TestClient,
    app: FastAPI,
    route: ApiRoute,
    method: str,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
) -> tuple[int, Any]:
    if _is_stream(route):
        status, raw = client.portal.call(_asgi_status, app, method, url, headers)  # type: ignore[union-attr]
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")
    r = client.request(method, url, headers=headers, **body)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def test_roles_matrix(
    app: FastAPI,
    client: TestClient,
    token_for: Headers,
    grid01_event: int,
    spec: dict[str, Any],
    media: Path,
) -> None:
    """Every route x every role (one test, so the app and its fixtures are built once)."""
    problems = []
    for method, path in _ROUTES:
        route = _route(app, method, path)
        allowed = declared_roles(route.dependant) or frozenset()
        url = _fill(path, event_id=grid01_event)
        empty = _body_kwargs(route, method, spec, valid=False)
        for role, user in USER_OF_ROLE.items():
            status, detail = _call(client, app, route, method, url, token_for(user), empty)
            refused = status == 403 and ROLE_REFUSAL.match(str(_msg(detail))) is not None
            if role in allowed and (status == 401 or refused):
                problems.append(f"{method} {path}: {role} is declared but got {status} {detail}")
            if role not in allowed and not refused:
                problems.append(f"{method} {path}: {role} is not declared but got {status}")
            if status >= 500:
                problems.append(f"{method} {path}: {role} got {status} {detail}")
        anonymous, _ = _call(client, app, route, method, url, {}, empty)
        if anonymous != 401:
            problems.append(f"{method} {path}: anonymous got {anonymous}, not 401")
    assert not problems, "\n".join(problems)


def _msg(detail: Any) -> Any:
    if isinstance(detail, dict) and isinstance(detail.get("detail"), list) and detail["detail"]:
        return detail["detail"][0].get("msg")
    return detail


_EVENT_ROUTES = [(m, p) for m, p in _ROUTES if "{event_id}" in p]


def _member_event_routes(app: FastAPI) -> Iterator[tuple[str, ApiRoute]]:
    for method, path in _EVENT_ROUTES:
        route = _route(app, method, path)
        roles = declared_roles(route.dependant) or frozenset()
        if Role.MEMBER in roles:
            yield method, route


def test_grid_staff_of_another_grid_get_404_on_every_event_route(
    app: FastAPI,
    client: TestClient,
    token_for: Headers,
    grid01_event: int,
    spec: dict[str, Any],
    media: Path,
) -> None:
    checked = []
    problems = []
    for method, route in _member_event_routes(app):
        url = _fill(route.path, event_id=grid01_event)
        body = _body_kwargs(route, method, spec, valid=True)
        for user in ("g02m1", "g02h"):
            status, detail = _call(client, app, route, method, url, token_for(user), body)
            if status != 404:
                problems.append(f"{method} {route.path} as {user}: {status} {detail}")
        # the same request by grid 01's handler is not a 404: the event exists
        status, detail = _call(client, app, route, method, url, token_for("g01m2"), body)
        if status == 404:
            problems.append(f"{method} {route.path} as g01m2 (own grid): 404 {detail}")
        checked.append(f"{method} {route.path}")
    assert {"GET /api/v1/events/{event_id}", "GET /api/v1/events/{event_id}/history"} <= set(
        checked
    )
    assert not problems, "\n".join(problems)
