"""Reporting is rate limited per account and per source address, 429 with Retry-After, from
settings (issue 19, finding 5; sign-in's limits are in test_auth.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session

from kernel.settings import get_settings
from tests.conftest import Clock
from tests.kit.events import GRID_01, interior_point, report_body

Headers = Callable[[str], dict[str, str]]
URL = "/api/v1/events"


def test_reporting_is_limited_per_account(
    client: TestClient,
    db: Session,
    clock: Clock,
    token_for: Headers,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "report_rate_per_account", "3/minute")
    point = interior_point(db, GRID_01)
    for _ in range(3):
        assert (
            client.post(URL, json=report_body(point), headers=token_for("g01m1")).status_code == 201
        )
    r = client.post(URL, json=report_body(point), headers=token_for("g01m1"))
    assert r.status_code == 429, r.text
    assert r.json()["detail"][0]["type"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 20
    # another account is not affected; the same one may go on once the wait is over
    assert client.post(URL, json=report_body(point), headers=token_for("g01m2")).status_code == 201
    clock.advance(seconds=int(r.headers["retry-after"]))
    assert client.post(URL, json=report_body(point), headers=token_for("g01m1")).status_code == 201


def test_reporting_is_limited_per_source(
    app: FastAPI,
    db: Session,
    token_for: Headers,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "report_rate_per_source", "4/minute")
    point = interior_point(db, GRID_01)
    with (
        TestClient(app, client=("203.0.113.50", 1)) as shared,
        TestClient(app, client=("203.0.113.51", 1)) as other,
    ):
        for user in ("g01m1", "g01m2", "g01h", "g01m1"):
            assert (
                shared.post(URL, json=report_body(point), headers=token_for(user)).status_code
                == 201
            )
        r = shared.post(URL, json=report_body(point), headers=token_for("g01m2"))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert (
            other.post(URL, json=report_body(point), headers=token_for("g01m2")).status_code == 201
        )


def test_reports_are_not_lost_when_the_limiter_is_down(
    client: TestClient, db: Session, token_for: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.asyncio import Redis as AsyncRedis

    from kernel.ratelimit import AsyncRateLimiter
    from service.api import limits

    def unreachable(_: object) -> AsyncRateLimiter:
        return AsyncRateLimiter(AsyncRedis(host="127.0.0.1", port=1, socket_connect_timeout=0.5))

    monkeypatch.setattr(limits, "limiter_of", unreachable)
    r = client.post(URL, json=report_body(interior_point(db, GRID_01)), headers=token_for("g01m1"))
    assert r.status_code == 201, r.text
