"""Sign-in, refresh rotation, logout, lockout, me."""

from __future__ import annotations

from fastapi.testclient import TestClient

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


def test_five_failures_lock_the_account_then_it_unlocks(client: TestClient, clock: Clock) -> None:
    for _ in range(get_settings().login_max_failures):
        assert (
            client.post(
                "/api/v1/auth/token", data={"username": "g02m1", "password": "wrong-pass"}
            ).status_code
            == 401
        )
    locked = client.post("/api/v1/auth/token", data={"username": "g02m1", "password": PW})
    assert locked.status_code == 429
    assert "locked" in locked.json()["detail"][0]["msg"] and int(locked.headers["retry-after"]) > 0
    # another account is not affected
    assert (
        client.post("/api/v1/auth/token", data={"username": "g02m2", "password": PW}).status_code
        == 200
    )
    clock.advance(minutes=get_settings().login_lock_minutes + 1)
    assert (
        client.post("/api/v1/auth/token", data={"username": "g02m1", "password": PW}).status_code
        == 200
    )


def test_refresh_rotates_and_logout_revokes(client: TestClient) -> None:
    first = _login(client, "dispatch1")
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401, "a used refresh token must not work twice"
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    out = client.post(
        "/api/v1/auth/logout", json={"refresh_token": second["refresh_token"]}, headers=headers
    )
    assert out.status_code == 204
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
        ).status_code
        == 401
    )


def test_expired_or_forged_tokens_are_401(client: TestClient) -> None:
    assert client.get("/api/v1/auth/me").status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.bad"}
    r = client.get("/api/v1/auth/me", headers=forged)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
