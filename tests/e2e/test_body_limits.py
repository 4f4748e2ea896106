"""Bodies past their route's limit are a 413 before parsing; a 422 echoes only an excerpt of the
input, and always serialises (issue 19, finding 1)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from fastapi.testclient import TestClient

from kernel.settings import get_settings

Headers = Callable[[str], dict[str, str]]


def test_a_16_mb_body_is_413_before_it_is_parsed(client: TestClient) -> None:
    body = json.dumps({"refresh_token": "x" * (16 * 1024 * 1024)})
    r = client.post(
        "/api/v1/auth/refresh", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text[:300]
    limit = get_settings().body_max_bytes
    assert r.json() == {
        "detail": [
            {
                "loc": ["body"],
                "msg": f"the request body is larger than {limit} bytes",
                "type": "too_large",
                "limit": limit,
            }
        ]
    }
    assert r.headers["x-request-id"]


def test_a_chunked_body_is_cut_off_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the guard counts what arrives
        yield b'{"refresh_token": "'
        for _ in range(64):
            yield b"x" * 65536
        yield b'"}'

    r = client.post(
        "/api/v1/auth/refresh", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text[:300]
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert r.json()["detail"][0]["type"] == "too_large"


def test_each_route_has_its_limit() -> None:
    from service.api.guard import body_limit

    settings = get_settings()
    assert body_limit("/api/v1/events") == settings.body_max_bytes
    assert body_limit("/api/v1/patrols/7/points") == 256 * 1024
    assert body_limit("/api/v1/patrols/7/stop") == settings.body_max_bytes
    assert body_limit("/api/v1/events/12/photos") > settings.photo_max_bytes


def test_a_422_echoes_a_bounded_excerpt(client: TestClient, token_for: Headers) -> None:
    big = "字" * 20_000  # 60 KB of UTF-8: under the body limit, far over any field's
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": big})
    assert r.status_code == 422
    assert len(r.content) < 2000
    item = r.json()["detail"][0]
    assert item["loc"] == ["body", "refresh_token"] and item["type"] == "string_too_long"
    from service.api.errors import EXCERPT_CHARS

    assert item["input"] == big[:EXCERPT_CHARS] + "…"
    # a missing field: pydantic's input is the whole body, echoed as a short excerpt
    r = client.post("/api/v1/auth/refresh", json={"other": "y" * 50_000})
    assert r.status_code == 422 and len(r.content) < 2000, r.text[:300]
    # the query-string models (service.api.query) too
    r = client.get(
        "/api/v1/grids/locate", params={"lon": "9" * 5000, "lat": 1}, headers=token_for("g01m1")
    )
    assert r.status_code == 422 and len(r.content) < 2000, r.text[:300]


def test_excerpts_always_serialise() -> None:
    from service.api.errors import excerpt

    for value in ["\ud800", "a\x00b", float("nan"), float("inf"), 2**70, {"a": "\udfff"}, b"\xff"]:
        json.dumps(excerpt(value), allow_nan=False).encode()


def test_nul_surrogates_and_non_finite_numbers_name_the_field(
    client: TestClient, token_for: Headers
) -> None:
    member = {**token_for("g01m1"), "Content-Type": "application/json"}
    cases = {
        '{"refresh_token": "abcdefghij\\u0000"}': (["body", "refresh_token"], "string_unicode"),
        '{"refresh_token": "abcdefghij\\ud800"}': (["body", "refresh_token"], "string_unicode"),
        '{"refresh_token": NaN}': (["body", "refresh_token"], "finite_number"),
        '{"refresh_token": 1e400}': (["body", "refresh_token"], "finite_number"),
        '{"refresh_token": 99999999999999999999}': (["body", "refresh_token"], "int_range"),
        '{"a": [1, {"b": Infinity}]}': (["body", "a", 1, "b"], "finite_number"),
    }
    for body, (loc, kind) in cases.items():
        r = client.post("/api/v1/auth/refresh", content=body, headers=member)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["loc"] == loc and r.json()["detail"][0]["type"] == kind
    r = client.get("/api/v1/events?category=a%00b", headers=token_for("g01m1"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "category"]
    # a valid surrogate pair is an ordinary character
    r = client.post(
        "/api/v1/auth/refresh", content='{"refresh_token": "\\ud83d\\ude00abcdefghijk"}',
        headers=member,
    )  # fmt: skip
    assert r.status_code == 401, r.text
