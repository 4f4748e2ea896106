"""What every reply says and does not say (issue 19, finding 7): request ids are taken from
clients only when they are plain tokens, API replies are ``nosniff`` and ``no-store``, 401s do
not explain tokens, and /metrics answers only the operator's scraper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kernel.settings import get_settings

Headers = Callable[[str], dict[str, str]]


@pytest.mark.parametrize(
    "sent",
    [
        "x" * 65,
        "<script>alert(1)</script>",
        "id with spaces",
        "a\u00e9b",
        "a,b",
        "%0d%0aSet-Cookie",
    ],
)
def test_a_request_id_that_is_not_a_plain_token_is_replaced(client: TestClient, sent: str) -> None:
    r = client.get("/api/v1/health", headers={"X-Request-ID": sent.encode("utf-8")})
    made = r.headers["x-request-id"]
    assert made != sent and len(made) == 32 and made.isalnum()


def test_a_plain_request_id_is_kept(client: TestClient) -> None:
    rid = "3f2a9c1e-7d4b-4b8e-9a51-0c2d4e6f8a10"
    assert (
        client.get("/api/v1/health", headers={"X-Request-ID": rid}).headers["x-request-id"] == rid
    )


def test_api_replies_are_nosniff_and_no_store(client: TestClient, token_for: Headers) -> None:
    replies = [
        client.get("/api/v1/auth/me", headers=token_for("g01m1")),  # 200
        client.get("/api/v1/auth/me"),  # 401
        client.get("/api/v1/events", params={"limit": "x"}, headers=token_for("g01m1")),  # 422
        client.post("/api/v1/auth/refresh", content=b"{" * 70_000,
                    headers={"Content-Type": "application/json"}),  # 413 from the guard
    ]  # fmt: skip
    assert [r.status_code for r in replies] == [200, 401, 422, 413]
    for r in replies:
        assert r.headers["x-content-type-options"] == "nosniff", r.request.url
        assert r.headers["cache-control"] == "no-store", r.request.url


def test_401_texts_do_not_explain_the_token(client: TestClient) -> None:
    secret = get_settings().secret_key
    now = datetime.now(UTC)
    expired = jwt.encode(
        {"sub": "1", "typ": "access", "exp": int((now - timedelta(minutes=1)).timestamp())},
        secret,
    )
    other = jwt.encode({"sub": "1", "exp": 2**33}, "another-secret-of-32-characters!!")
    for token in ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.bad", "garbage", expired, other]:
        r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert r.json()["detail"] == [
            {"loc": [], "msg": "invalid or expired access token", "type": "unauthorized"}
        ]


def test_metrics_answer_the_operator_only(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        TestClient(app, client=("203.0.113.9", 1)) as public,
        TestClient(app, client=("127.0.0.1", 1)) as local,
        TestClient(app, client=("172.18.0.5", 1)) as compose,
    ):
        r = public.get("/metrics")
        assert r.status_code == 403 and r.json()["detail"][0]["type"] == "forbidden"
        assert local.get("/metrics").status_code == 200
        assert compose.get("/metrics").status_code == 200  # Prometheus on compose's network
        monkeypatch.setattr(get_settings(), "metrics_token", "scrape-" + "k" * 40)
        assert public.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        ok = public.get("/metrics", headers={"Authorization": "Bearer scrape-" + "k" * 40})
        assert ok.status_code == 200 and "wangge_http_requests_total" in ok.text
        monkeypatch.setattr(get_settings(), "metrics_allow_from", [])
        assert local.get("/metrics").status_code == 403  # token only
