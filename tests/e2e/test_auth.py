"""Sign-in, its throttling per account and source, refresh rotation, logout, me."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from redis import Redis

from kernel.settings import get_settings
from tests.conftest import Clock

PW = get_settings().dev_password


def _login(client: TestClient, username: str, password: str = PW) -> dict[str, object]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_sign_in_then_me_names_grid_and_community(client: TestClient) -> None:
    tokens = _login(client, "g01m1")
    assert tokens["token_type"] == "bearer"
    me = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    body = me.json()
    assert body["username"] == "g01m1" and body["role"] == "member"
    assert body["grid_code"] and len(body["grid_code"]) == 15
    assert body["community"].endswith("社区")


def test_wrong_password_is_401_without_saying_which_part(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "g01m1", "password": "nope-nope"})
    assert r.status_code == 401
    assert r.json()["detail"] == [
        {"loc": [], "msg": "incorrect username or password", "type": "unauthorized"}
    ]
    r2 = client.post("/api/v1/auth/token", data={"username": "nobody", "password": "nope-nope"})
    assert r2.status_code == 401 and r2.json() == r.json()


def _attempt(client: TestClient, username: str, password: str) -> tuple[int, dict[str, Any], int]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    return r.status_code, r.json(), int(r.headers.get("retry-after", 0))


def test_failures_from_one_source_never_lock_out_another(app: FastAPI, redis: Redis) -> None:
    """Issue 19 finding 2: five wrong passwords used to lock any account for 15 minutes, even
    against the right password, from anywhere."""
    with (
        TestClient(app, client=("203.0.113.7", 40000)) as attacker,
        TestClient(app, client=("198.51.100.20", 40000)) as owner,
    ):
        for _ in range(5):
            assert _attempt(attacker, "g02m1", "wrong-pass")[0] == 401
        status, body, wait = _attempt(attacker, "g02m1", PW)
        assert status == 429 and wait > 0, body  # this source waits, even with the password
        assert body["detail"][0]["type"] == "rate_limited"
        assert _attempt(owner, "g02m1", PW)[0] == 200  # the owner, elsewhere, signs in


def test_throttled_answers_do_not_tell_whether_the_account_exists(
    client: TestClient, redis: Redis
) -> None:
    answers = []
    for username in ("g02m2", "no-such-user"):
        for _ in range(5):
            assert _attempt(client, username, "wrong-pass")[0] == 401
        answers.append(_attempt(client, username, "wrong-pass"))
    (s1, b1, w1), (s2, b2, w2) = answers
    assert s1 == s2 == 429 and b1 == b2 and w1 == w2


def test_delays_grow_with_the_failures(client: TestClient, clock: Clock, redis: Redis) -> None:
    waits = []
    for _ in range(60):  # waiting out each delay, as a patient guesser would
        status, _, wait = _attempt(client, "g02h", "wrong-pass")
        if status == 429:
            waits.append(wait)
            clock.advance(seconds=wait)
    assert waits and waits[0] <= 12 < max(waits), waits  # 5/minute, then 20/hour
    assert max(waits) >= 150


def test_a_success_empties_the_bucket(client: TestClient, redis: Redis) -> None:
    for _ in range(4):
        assert _attempt(client, "g03m2", "wrong-pass")[0] == 401
    assert _attempt(client, "g03m2", PW)[0] == 200
    for _ in range(4):
        assert _attempt(client, "g03m2", "wrong-pass")[0] == 401
    assert _attempt(client, "g03m2", PW)[0] == 200


def test_sign_in_is_rate_limited_per_source_across_accounts(
    app: FastAPI, clock: Clock, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "signin_rate_per_source", "3/minute")
    with TestClient(app, client=("192.0.2.9", 1)) as sprayer:
        for name in ("g04m1", "g04m2", "g04h"):
            assert _attempt(sprayer, name, "wrong-pass")[0] == 401
        status, _, wait = _attempt(sprayer, "g05m1", "wrong-pass")
        assert status == 429 and 1 <= wait <= 20
        clock.advance(seconds=wait)
        assert _attempt(sprayer, "g05m1", PW)[0] == 200


def test_refresh_rotates_and_logout_revokes(client: TestClient) -> None:
    first = _login(client, "dispatch1")
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    out = client.post(
        "/api/v1/auth/logout", json={"refresh_token": second["refresh_token"]}, headers=headers
    )
    assert out.status_code == 204
    for used in (first, second):
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": used["refresh_token"]})
        assert r.status_code == 401, "a used or revoked refresh token must not work"


def test_expired_or_forged_tokens_are_401(client: TestClient) -> None:
    assert client.get("/api/v1/auth/me").status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.bad"}
    r = client.get("/api/v1/auth/me", headers=forged)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
