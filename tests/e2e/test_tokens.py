"""Tokens that stop working when they should (issue 19, finding 6): a replayed refresh token
revokes its whole family, and signing out or deactivation voids access tokens within seconds,
change streams included."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session

from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from staff import auth
from tests.conftest import Clock
from tests.e2e.test_dispatch_stream import TIMEOUT, Listener, api  # noqa: F401 - fixture
from tests.kit.servers import ApiServer

PW = get_settings().dev_password


def _login(client: TestClient | httpx.Client, username: str) -> dict[str, Any]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PW})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_replaying_a_rotated_refresh_token_revokes_the_family(
    client: TestClient, redis: Redis, clock: Clock
) -> None:
    first = _login(client, "dispatch2")
    elsewhere = _login(client, "dispatch2")  # another sign-in (another phone)
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    clock.advance(seconds=1)
    # the first token is replayed (a thief's copy): refused, and the family is revoked
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert replay.json()["detail"][0]["msg"] == "refresh token is invalid, expired or revoked"
    rotated = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
    )
    assert rotated.status_code == 401, "the legitimate holder's newer token is revoked too"
    assert client.get("/api/v1/auth/me", headers=_bearer(second.json())).status_code == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(first)).status_code == 401
    # the other sign-in is not affected
    assert client.get("/api/v1/auth/me", headers=_bearer(elsewhere)).status_code == 200
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]}
        ).status_code
        == 200
    )


def test_logout_voids_the_access_token_at_once(client: TestClient, redis: Redis) -> None:
    tokens = _login(client, "dispatch3")
    other = _login(client, "dispatch3")
    assert client.get("/api/v1/auth/me", headers=_bearer(tokens)).status_code == 200
    out = client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=_bearer(tokens),
    )
    assert out.status_code == 204
    r = client.get("/api/v1/auth/me", headers=_bearer(tokens))
    assert r.status_code == 401
    assert r.json()["detail"][0]["msg"] == "invalid or expired access token"
    assert client.get("/api/v1/auth/me", headers=_bearer(other)).status_code == 200


def test_deactivation_voids_every_token(
    client: TestClient, db: Session, redis: Redis, clock: Clock
) -> None:
    tokens = _login(client, "comm02")
    clock.advance(seconds=1)
    auth.deactivate(uow=UnitOfWork(db), redis=redis, username="comm02", now=clock.now)
    assert client.get("/api/v1/auth/me", headers=_bearer(tokens)).status_code == 401
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": "comm02", "password": PW})
    assert r.status_code == 401


def test_another_process_sees_a_revocation_within_the_recheck(
    redis: Redis, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from staff.revocation import Revocations

    monkeypatch.setattr(get_settings(), "token_revocation_recheck_seconds", 0.2)
    here, there = Revocations(), Revocations()
    issued = int(clock.now.timestamp() * 1000)
    token: dict[str, Any] = {"user_id": 7, "family": "f" * 32, "issued_ms": issued}
    assert not there.is_revoked(redis, **token)  # read and remembered
    here.revoke_family(redis, "f" * 32, clock.advance(seconds=1))
    assert here.is_revoked(redis, **token)  # at once where it was made
    time.sleep(0.25)
    assert there.is_revoked(redis, **token)  # within the recheck elsewhere
    other: dict[str, Any] = {"user_id": 8, "family": None, "issued_ms": issued}
    assert not there.is_revoked(redis, **other)
    here.revoke_user(redis, 8, clock.advance(seconds=1))
    time.sleep(0.25)
    assert there.is_revoked(redis, **other)
    later = {**other, "issued_ms": int(clock.advance(seconds=1).timestamp() * 1000)}
    assert not there.is_revoked(redis, **later)  # a token issued after the deactivation


def test_a_change_stream_ends_when_its_sign_in_is_revoked(api: ApiServer) -> None:  # noqa: F811
    with httpx.Client(base_url=api.base, timeout=TIMEOUT) as http:
        tokens = _login(http, "dispatch1")
        listener = Listener(api.base + "/api/v1/dispatch/stream", _bearer(tokens))
        listener.wait_live()
        out = http.post(
            "/api/v1/auth/logout",
            json={"refresh_token": tokens["refresh_token"]},
            headers=_bearer(tokens),
        )
        assert out.status_code == 204
        listener.thread.join(timeout=12)  # one poll (5 s) and the recheck
        ended = not listener.thread.is_alive()
        listener.close()
        assert ended, "the stream outlived its sign-in"
        assert http.get("/api/v1/dispatch/stream", headers=_bearer(tokens)).status_code == 401
