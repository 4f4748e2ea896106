"""Categories over HTTP: reading for everyone, admin writes with 409s and 422s. The seed itself
and loading it again are in tests/integration/test_categories.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from tests.kit.data import SEED

Headers = Callable[[str], dict[str, str]]


def _new(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "test_cat",
        "name": "测试类别",
        "ack_minutes": 0.05,
        "resolve_minutes": 0.1,
        "big": False,
        "department": "城管",
    }
    body.update(over)
    return body


def test_every_role_reads_the_seeded_categories(client: TestClient, token_for: Headers) -> None:
    for user in ("g01m1", "evaluator", "dept_cg"):
        r = client.get("/api/v1/categories", headers=token_for(user))
        assert r.status_code == 200
        by_code = {c["code"]: c for c in r.json()}
        for seed in SEED:
            got = by_code[seed["code"]]
            assert {k: got[k] for k in seed} == seed
    assert client.get("/api/v1/categories").status_code == 401


def test_admin_creates_with_fractional_minutes_and_patches(
    client: TestClient, token_for: Headers
) -> None:
    admin = token_for("admin")
    r = client.post("/api/v1/categories", json=_new(), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["ack_minutes"] == 0.05 and r.json()["active"] is True
    listed = client.get("/api/v1/categories", headers=admin).json()
    assert any(c["code"] == "test_cat" for c in listed)

    p = client.patch(
        "/api/v1/categories/test_cat",
        json={"resolve_minutes": 0.5, "department": None, "big": True},
        headers=admin,
    )
    assert p.status_code == 200, p.text
    expected = _new(resolve_minutes=0.5, department=None, big=True)
    assert p.json() == expected | {
        "active": True,
        "calendar": "24x7",
        "verify_minutes": 30.0,
        "dispatch_minutes": 5.0,
        "review_minutes": 60.0,
        "level_calendars": {},
    }

    off = client.patch("/api/v1/categories/test_cat", json={"active": False}, headers=admin)
    assert off.json()["active"] is False
    codes = [c["code"] for c in client.get("/api/v1/categories", headers=admin).json()]
    assert "test_cat" not in codes
    all_codes = [
        c["code"]
        for c in client.get("/api/v1/categories?include_inactive=true", headers=admin).json()
    ]
    assert "test_cat" in all_codes


def test_duplicate_code_or_name_is_409(client: TestClient, token_for: Headers) -> None:
    admin = token_for("admin")
    dup_code = client.post("/api/v1/categories", json=_new(code="exposed_garbage"), headers=admin)
    assert dup_code.status_code == 409
    assert dup_code.json()["detail"][0]["loc"] == ["body", "code"]
    dup_name = client.post("/api/v1/categories", json=_new(name="暴露垃圾"), headers=admin)
    assert dup_name.status_code == 409
    assert dup_name.json()["detail"][0]["loc"] == ["body", "name"]
    rename = client.patch("/api/v1/categories/small_ads", json={"name": "暴露垃圾"}, headers=admin)
    assert rename.status_code == 409 and rename.json()["detail"][0]["loc"] == ["body", "name"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_new(ack_minutes=0), "ack_minutes"),
        (_new(ack_minutes=-1), "ack_minutes"),
        (_new(resolve_minutes="soon"), "resolve_minutes"),
        (_new(resolve_minutes=1e9), "resolve_minutes"),
        (_new(code="Bad Code"), "code"),
        (_new(code="车"), "code"),
        (_new(name=""), "name"),
        (_new(name="长" * 33), "name"),
        (_new(department="水务"), "department"),
        (_new(big="maybe"), "big"),
        (_new(colour="red"), "colour"),
        ({k: v for k, v in _new().items() if k != "name"}, "name"),
    ],
)
def test_bad_category_is_422_naming_the_field(
    client: TestClient, token_for: Headers, db: Session, body: dict[str, Any], field: str
) -> None:
    before = db.execute(text("SELECT count(*) FROM category")).scalar_one()
    r = client.post("/api/v1/categories", json=body, headers=token_for("admin"))
    assert r.status_code == 422, r.text
    assert any(field in d["loc"] for d in r.json()["detail"]), r.json()
    assert db.execute(text("SELECT count(*) FROM category")).scalar_one() == before


def test_ack_longer_than_resolve_is_422(client: TestClient, token_for: Headers) -> None:
    admin = token_for("admin")
    r = client.post(
        "/api/v1/categories", json=_new(ack_minutes=5, resolve_minutes=1), headers=admin
    )
    assert r.status_code == 422 and "ack_minutes" in r.text
    p = client.patch("/api/v1/categories/exposed_garbage", json={"ack_minutes": 999}, headers=admin)
    assert p.status_code == 422 and p.json()["detail"][0]["loc"] == ["body", "ack_minutes"]
    n = client.patch("/api/v1/categories/exposed_garbage", json={"name": None}, headers=admin)
    assert n.status_code == 422 and "name" in n.text
    code = client.patch("/api/v1/categories/exposed_garbage", json={"code": "x_y"}, headers=admin)
    assert code.status_code == 422


def test_only_admins_write_and_unknown_code_is_404(client: TestClient, token_for: Headers) -> None:
    for user in ("dispatch1", "g01m1", "evaluator"):
        assert (
            client.post("/api/v1/categories", json=_new(), headers=token_for(user)).status_code
            == 403
        )
        assert (
            client.patch(
                "/api/v1/categories/exposed_garbage", json={"big": True}, headers=token_for(user)
            ).status_code
            == 403
        )
    missing = client.patch(
        "/api/v1/categories/no_such", json={"big": True}, headers=token_for("admin")
    )
    assert missing.status_code == 404
