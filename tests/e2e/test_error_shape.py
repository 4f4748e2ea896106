"""One error shape for every 4xx (docs/decisions/0012-operability.md): FastAPI's list of
``{"loc": [...], "msg": "...", "type": "..."}``, whichever layer refused the request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import Clock
from tests.kit.dispatch import report

Headers = Callable[[str], dict[str, str]]


def assert_shape(status: int, body: Any) -> None:
    assert isinstance(body, dict) and set(body) == {"detail"}, (status, body)
    items = body["detail"]
    assert isinstance(items, list) and items, (status, body)
    for item in items:
        assert isinstance(item["loc"], list), (status, item)
        assert isinstance(item["msg"], str) and item["msg"], (status, item)
        assert isinstance(item["type"], str) and item["type"], (status, item)


def test_every_refusal_has_the_one_shape(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    member, evaluator = token_for("g01m1"), token_for("evaluator")
    event = report(db, "g01m1", now=clock.now)
    seen: dict[int, str] = {}

    def check(expected: int, method: str, url: str, **kwargs: Any) -> None:
        r = client.request(method, url, **kwargs)
        assert r.status_code == expected, (method, url, r.status_code, r.text)
        assert_shape(r.status_code, r.json())
        seen.setdefault(expected, r.json()["detail"][0]["type"])

    check(401, "GET", "/api/v1/events")  # no token
    check(401, "GET", "/api/v1/events", headers={"Authorization": "Bearer not-a-token"})
    check(401, "POST", "/api/v1/auth/token", data={"username": "g01m1", "password": "wrong!"})
    check(403, "GET", "/api/v1/stats/resolution", headers=member)
    check(403, "POST", "/api/v1/categories", headers=evaluator, json={})
    check(404, "GET", "/api/v1/no-such-thing", headers=member)  # Starlette's own 404
    check(404, "GET", "/api/v1/events/99999999", headers=member)
    check(405, "DELETE", "/api/v1/events", headers=member)
    check(409, "POST", f"/api/v1/events/{event}/acknowledge", headers=member)
    check(415, "POST", f"/api/v1/events/{event}/photos", headers=member,
          files={"file": ("a.txt", b"plain text", "text/plain")})  # fmt: skip
    check(422, "POST", "/api/v1/events", headers=member, json={"category": 5})
    check(422, "GET", "/api/v1/events", headers=member, params={"limit": "many"})
    for _ in range(5):  # signin_failure_rates: 5/minute per account and source
        client.post("/api/v1/auth/token", data={"username": "g03m1", "password": "wrong!"})
    check(429, "POST", "/api/v1/auth/token", data={"username": "g03m1", "password": "wrong!"})
    assert (
        seen[401] == "unauthorized"
        and seen[404] == "not_found"
        and seen[409] == ("illegal_transition")
    )
