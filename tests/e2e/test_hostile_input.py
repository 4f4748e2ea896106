"""Hostile input against every operation of the OpenAPI document: no answer may be a 5xx.

Schemathesis (test_schemathesis.py) generates what the schemas describe; this suite sends what
they cannot: NUL bytes, lone UTF-16 surrogates, invalid UTF-8, NaN / Infinity / 1e400,
integers past 64 bits, dates at the edge of the calendar (``9999-12-31T23:59:59-14:00``), in
every query parameter, path parameter and top-level JSON field (starting from the schema's
example, so the rest of the body is valid and the hostile value reaches the handler), in the
sign-in form, in cursors and in headers. Each request runs on the rolled-back test session.
The counts are printed (``hostile input: N requests, M 5xx``) and M must be 0.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.e2e.test_schemathesis import PREFERENCE
from tests.kit.events import MakeEvent
from tests.kit.routes import USER_OF_ROLE, api_routes, declared_roles

pytestmark = pytest.mark.heavy  # scheduled first (tests/conftest.py)

Headers = Callable[[str], dict[str, str]]

# Query and path values, already percent-encoded (so invalid UTF-8 reaches the server as is).
RAW_VALUES = [
    "a%00b",  # NUL
    "%ED%A0%80",  # a UTF-16 surrogate encoded as UTF-8 (invalid UTF-8)
    "%FF%FE",  # not UTF-8 at all
    "99999999999999999999999",  # past bigint
    "-9223372036854775809",
    "NaN",
    "Infinity",
    "1e400",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00%2B14:00",
    "9999-12-31",
    "0000-01-01",
    "",
]
# JSON values spliced into bodies as raw JSON text.
JSON_VALUES = [
    '"a\\u0000b"',
    '"\\ud800"',
    '"\\udfff x"',
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "18446744073709551616",
    "-9223372036854775809",
    '"9999-12-31T23:59:59-14:00"',
    '"0001-01-01T00:00:00+14:00"',
    '"99999999999999999999-01-01"',
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    '{"a": "\\u0000"}',
]
# Cursors as this service writes them (base64url JSON) but holding what it never would.
CURSORS = [
    base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    for raw in [
        "[99999999999999999999999]",
        "[-1, -1]",
        '["\\u0000", 1]',
        '["\\ud800", 1]',
        "[1e400, 1]",
        "[NaN]",
        '["9999-12-31T23:59:59-14:00", 1]',
        '["0001-01-01", 9223372036854775808]',
        '{"a": 1}',
        "[[[[[[[[]]]]]]]]",
        '"' + "x" * 100 + '"',
    ]
] + ["!!!", "=", "a" * 199]
# Authorization headers that are no token (bytes as sent).
AUTHORIZATIONS = [b"Bearer " + b"a" * 8000, b"Bearer \xff\xfe", b"Bearer a.b.c", b"Basic Og==",
                  b"Bearer", b"bearer  x"]  # fmt: skip
# Bodies that are not JSON objects (or JSON at all).
RAW_BODIES = ["NaN", '"\\ud800"', "1e400", "[]", "null", '{"a": 1', "\x00", '{"\\u0000": 1}']
SKIP = {("POST", "/api/v1/auth/token")}  # its own test below (a form, and argon2 is slow)
SPLICE = "__HOSTILE__"


def _streams(route: Any) -> bool:
    return "EventSource" in getattr(route.response_class, "__name__", "")


def _callers(app: FastAPI) -> Iterator[tuple[str, str, str]]:
    for route in api_routes(app):
        if _streams(route):
            continue
        roles = declared_roles(route.dependant) or frozenset()
        user = next((USER_OF_ROLE[r] for r in PREFERENCE if r in roles), "admin")
        for method in sorted(route.methods):
            if (method, route.path) not in SKIP:
                yield method, route.path, user


def _example(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        schema = components[ref.rsplit("/", 1)[-1]]
    examples = schema.get("examples") or []
    first = examples[0] if examples else {}
    return dict(first) if isinstance(first, dict) else {}


class Probe:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.requests = 0
        self.failures: list[str] = []

    def send(self, method: str, url: str, **kwargs: Any) -> int:
        self.requests += 1
        response = self.client.request(method, url, **kwargs)
        if response.status_code >= 500:
            body = kwargs.get("content", "")
            self.failures.append(
                f"{method} {url} {str(body)[-160:]!r} -> {response.status_code} "
                f"{response.text[:200]}"
            )
        return int(response.status_code)


@pytest.fixture
def probe(app: FastAPI) -> Iterator[Probe]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Probe(client)


def test_no_hostile_input_answers_5xx(
    app: FastAPI, probe: Probe, token_for: Headers, make_event: MakeEvent, capsys: Any
) -> None:
    event_id = make_event("g01m1", assignee="g01m2")
    document = app.openapi()
    components = document["components"]["schemas"]
    valid_path = {"event_id": str(event_id), "code": "exposed_garbage", "photo_id": "1",
                  "patrol_id": "1", "collection_id": "grids", "feature_id": "1"}  # fmt: skip
    for method, path, user in _callers(app):
        operation = document["paths"][path][method.lower()]
        headers = token_for(user)
        params = [p for p in operation.get("parameters", []) if p["in"] in ("query", "path")]
        base = path
        for p in params:
            if p["in"] == "path":
                base = base.replace("{" + p["name"] + "}", valid_path.get(p["name"], "1"))
        for p in params:
            for raw in RAW_VALUES:
                if p["in"] == "query":
                    url = f"{base}?{p['name']}={raw}"
                else:
                    url = path.replace("{" + p["name"] + "}", raw or "%20")
                    for other in params:
                        if other["in"] == "path" and other is not p:
                            url = url.replace(
                                "{" + other["name"] + "}", valid_path.get(other["name"], "1")
                            )
                probe.send(method, url, headers=headers)
        for p in params:
            if p["name"] == "cursor":
                for cursor in CURSORS:
                    probe.send(method, f"{base}?cursor={cursor}", headers=headers)
        for authorization in AUTHORIZATIONS:
            probe.send(method, base, headers={"Authorization": authorization})
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        example = _example(content["application/json"].get("schema", {}), components)
        json_headers = {**headers, "Content-Type": "application/json"}
        for field in example or {"x": None}:
            for value in JSON_VALUES:
                body = json.dumps({**example, field: SPLICE}).replace(f'"{SPLICE}"', value)
                probe.send(method, base, headers=json_headers, content=body)
        for raw_body in RAW_BODIES:
            probe.send(method, base, headers=json_headers, content=raw_body)
    with capsys.disabled():
        print(f"\nhostile input: {probe.requests} requests, {len(probe.failures)} 5xx")
    assert probe.requests > 1000
    assert not probe.failures, "\n".join(probe.failures[:40])


def test_sign_in_form_with_hostile_values_is_4xx(probe: Probe) -> None:
    for username, password in [
        ("a%00b", "x"),
        ("g01m1", "a%00b"),
        ("%ED%A0%80", "x"),
        ("g01m1", "%FF%FE"),
    ]:
        status = probe.send(
            "POST",
            "/api/v1/auth/token",
            content=f"username={username}&password={password}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert 400 <= status < 500, (username, password, status)
    assert not probe.failures


@pytest.mark.parametrize("value", ["9" * 20, "9223372036854775808"])
def test_last_event_id_past_bigint_is_422_before_the_stream(
    probe: Probe, token_for: Headers, value: str
) -> None:
    response = probe.client.get(
        "/api/v1/dispatch/stream", headers={**token_for("dispatch1"), "Last-Event-ID": value}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["header", "last-event-id"]
