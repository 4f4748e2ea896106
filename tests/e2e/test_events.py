"""POST /api/v1/events: registration, coordinates, idempotency, and every field's bad input."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from tests.conftest import Clock
from tests.kit.events import GRID_01, GRID_02, interior_point, report_body

Headers = Callable[[str], dict[str, str]]
URL = "/api/v1/events"


def _counts(db: Session) -> tuple[int, int, int]:
    row = db.execute(
        text(
            "SELECT (SELECT count(*) FROM event), (SELECT count(*) FROM event_audit),"
            " (SELECT count(*) FROM outbox)"
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def test_member_report_in_gcj02_is_registered_in_its_grid(
    client: TestClient, db: Session, token_for: Headers, clock: Clock
) -> None:
    wgs = interior_point(db, GRID_01)
    body = report_body(wgs, coord="gcj02")
    r = client.post(URL, json=body, headers=token_for("g01m1"))
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["client_id"] == body["client_id"]
    assert e["grid_code"] == GRID_01 and e["category"] == "exposed_garbage"
    assert e["status"] == "registered" and e["level"] == 0 and e["version"] == 1
    assert e["assignee"] is None and e["due_at"] is None and e["closed_at"] is None
    assert e["description"] == "路边垃圾堆放，约两立方米"
    loc = e["location"]
    # each set of numbers is labelled with its own system: converted WGS-84, and as sent
    assert loc["coord"] == "wgs84"
    assert loc["lon"] == pytest.approx(wgs[0], abs=1e-7)
    assert loc["lat"] == pytest.approx(wgs[1], abs=1e-7)
    sent = body["location"]
    assert loc["as_sent"] == {"lon": sent["lon"], "lat": sent["lat"], "coord": "gcj02"}
    assert abs(loc["as_sent"]["lon"] - loc["lon"]) > 1e-3, "GCJ-02 is offset from WGS-84 here"
    assert e["snapped"] is False and e["distance_m"] == 0
    assert e["reporter"]["name"] and e["occurred_at"] is None
    # times: stored UTC, shown in Asia/Shanghai
    assert e["received_at"].endswith("+08:00") and e["created_at"].endswith("+08:00")
    assert datetime.fromisoformat(e["received_at"]) == clock.now

    stored = db.execute(
        text(
            "SELECT ST_X(geom), ST_Y(geom), coord, accuracy_m, request_hash, received_at,"
            " community_id = (SELECT community_id FROM grid WHERE code = :g)"
            " FROM event WHERE id = :id"
        ),
        {"id": e["id"], "g": GRID_01},
    ).one()
    assert stored[0] == pytest.approx(wgs[0], abs=1e-7) and stored[2] == "gcj02"
    assert stored[3] == 8.0 and len(stored[4]) == 64 and stored[5] == clock.now and stored[6]

    audit = db.execute(
        text(
            "SELECT action, from_status, to_status, to_level, actor FROM event_audit"
            " WHERE event_id = :id"
        ),  # fmt: skip
        {"id": e["id"]},
    ).all()
    assert [tuple(a) for a in audit] == [
        ("register", None, "registered", 0, str(e["reporter"]["id"]))
    ]
    outbox = db.execute(
        text("SELECT topic, payload FROM outbox WHERE event_id = :id"), {"id": e["id"]}
    ).all()
    assert ("dispatch", {"event_id": e["id"]}) in [tuple(o) for o in outbox]
    # the id the statement drew is written wherever the decision named the event
    stream = [p for t, p in outbox if t == "stream"]
    assert len(stream) == 1 and stream[0]["event_id"] == e["id"] and stream[0]["audit_id"]
    data = db.execute(
        text("SELECT data->>'event_id' FROM event_audit WHERE event_id = :id"), {"id": e["id"]}
    ).scalar_one()
    assert data == str(e["id"])


def test_big_category_starts_at_the_command_centre(
    client: TestClient, db: Session, token_for: Headers
) -> None:
    body = report_body(interior_point(db, GRID_02), category="illegal_construction")
    r = client.post(URL, json=body, headers=token_for("g02h"))
    assert r.status_code == 201, r.text
    assert r.json()["level"] == 2 and r.json()["grid_code"] == GRID_02


def test_member_may_report_in_another_grid(
    client: TestClient, db: Session, token_for: Headers
) -> None:
    body = report_body(interior_point(db, GRID_02), coord="bd09")
    r = client.post(URL, json=body, headers=token_for("g01m1"))
    assert r.status_code == 201 and r.json()["grid_code"] == GRID_02


def test_retry_is_200_with_the_same_event_and_writes_nothing(
    client: TestClient, db: Session, token_for: Headers, clock: Clock
) -> None:
    headers = token_for("g01m1")
    body = report_body(interior_point(db, GRID_01), occurred_at="2030-01-01T08:00:00+08:00")
    clock.now = datetime(2030, 1, 1, 0, 30, tzinfo=UTC)
    first = client.post(URL, json=body, headers=headers)
    assert first.status_code == 201, first.text
    before = _counts(db)
    clock.advance(minutes=3)  # the phone retries later, with keys in another order
    reordered = dict(reversed(list(copy.deepcopy(body).items())))
    reordered["occurred_at"] = "2030-01-01T00:00:00Z"  # same instant, another offset
    again = client.post(URL, json=reordered, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert _counts(db) == before


def test_same_client_id_with_another_body_or_reporter_is_409(
    client: TestClient, db: Session, token_for: Headers
) -> None:
    body = report_body(interior_point(db, GRID_01))
    assert client.post(URL, json=body, headers=token_for("g01m1")).status_code == 201
    before = _counts(db)
    changed = {**body, "description": "另一件事"}
    r = client.post(URL, json=changed, headers=token_for("g01m1"))
    assert r.status_code == 409
    assert r.json()["detail"][0]["loc"] == ["body", "client_id"]
    other = client.post(URL, json=body, headers=token_for("g01m2"))
    assert other.status_code == 409
    assert _counts(db) == before


def test_retry_still_works_after_the_category_is_retired(
    client: TestClient, db: Session, token_for: Headers
) -> None:
    body = report_body(interior_point(db, GRID_01), category="small_ads")
    first = client.post(URL, json=body, headers=token_for("g01m1"))
    assert first.status_code == 201
    db.execute(text("UPDATE category SET active = false WHERE code = 'small_ads'"))
    again = client.post(URL, json=body, headers=token_for("g01m1"))
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    fresh = client.post(
        URL, json={**body, "client_id": str(uuid.uuid4())}, headers=token_for("g01m1")
    )
    assert fresh.status_code == 422 and fresh.json()["detail"][0]["loc"] == ["body", "category"]


def test_occurred_at_window(
    client: TestClient, db: Session, token_for: Headers, clock: Clock
) -> None:
    point = interior_point(db, GRID_01)
    headers = token_for("g01m1")

    def post(occurred: str) -> Any:
        return client.post(URL, json=report_body(point, occurred_at=occurred), headers=headers)

    ok_skew = post((clock.now + timedelta(minutes=4)).isoformat())
    assert ok_skew.status_code == 201
    ok_old = post((clock.now - timedelta(hours=71)).astimezone().isoformat())
    assert ok_old.status_code == 201
    shown = datetime.fromisoformat(ok_old.json()["occurred_at"])
    assert shown == clock.now - timedelta(hours=71)
    assert ok_old.json()["occurred_at"].endswith("+08:00")
    before = _counts(db)
    for bad, words in (
        ((clock.now + timedelta(minutes=6)).isoformat(), "future"),
        ((clock.now - timedelta(hours=73)).isoformat(), "72 h"),
        ("2024-05-01T10:00:00", "timezone"),
        ("yesterday", "datetime"),
    ):
        r = post(bad)
        assert r.status_code == 422, (bad, r.text)
        detail = r.json()["detail"][0]
        assert detail["loc"][-1] == "occurred_at" and words in detail["msg"], detail
    assert _counts(db) == before


def test_point_just_outside_snaps_within_accuracy_and_is_422_beyond(
    client: TestClient, db: Session, token_for: Headers
) -> None:
    # 20 m west of the jurisdiction's westmost vertex: ~20 m from the nearest grid.
    lon, lat = db.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_DumpPoints(geom)).geom AS p FROM grid) s"
            " ORDER BY ST_X(p) LIMIT 1"
        )
    ).one()
    import math

    outside = (lon - 20 / (111_320 * math.cos(math.radians(lat))), lat)
    headers = token_for("g01m1")
    snapped = client.post(
        URL,
        json=report_body(
            outside,
            location={"lon": outside[0], "lat": outside[1], "coord": "wgs84", "accuracy_m": 30},
        ),  # fmt: skip
        headers=headers,
    )
    assert snapped.status_code == 201, snapped.text
    assert snapped.json()["snapped"] is True
    assert 15 < snapped.json()["distance_m"] < 25
    far = client.post(
        URL,
        json=report_body(
            outside,
            location={"lon": outside[0], "lat": outside[1], "coord": "wgs84", "accuracy_m": 5},
        ),  # fmt: skip
        headers=headers,
    )
    assert far.status_code == 422
    assert far.json()["detail"][0]["loc"] == ["body", "location"]
    assert "outside the jurisdiction" in far.json()["detail"][0]["msg"]


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target = out
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return out


def _with(body: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


_BAD: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    ("missing client_id", lambda b: _without(b, "client_id"), "client_id"),
    ("missing category", lambda b: _without(b, "category"), "category"),
    ("missing description", lambda b: _without(b, "description"), "description"),
    ("missing location", lambda b: _without(b, "location"), "location"),
    ("missing lon", lambda b: _without(b, "location", "lon"), "lon"),
    ("missing lat", lambda b: _without(b, "location", "lat"), "lat"),
    ("missing coord", lambda b: _without(b, "location", "coord"), "coord"),
    ("non-UUID client_id", lambda b: _with(b, "report-1", "client_id"), "client_id"),
    ("numeric client_id", lambda b: _with(b, 12345, "client_id"), "client_id"),
    ("category not a string", lambda b: _with(b, 7, "category"), "category"),
    ("unknown category", lambda b: _with(b, "no_such_thing", "category"), "category"),
    ("empty category", lambda b: _with(b, "", "category"), "category"),
    ("description empty", lambda b: _with(b, "   ", "description"), "description"),
    ("description too long", lambda b: _with(b, "垃" * 2001, "description"), "description"),
    ("description not text", lambda b: _with(b, ["a"], "description"), "description"),
    ("lon not a number", lambda b: _with(b, "east", "location", "lon"), "lon"),
    ("lon out of range", lambda b: _with(b, 181.0, "location", "lon"), "lon"),
    ("lat out of range", lambda b: _with(b, -90.5, "location", "lat"), "lat"),
    ("lat null", lambda b: _with(b, None, "location", "lat"), "lat"),
    ("bad coord system", lambda b: _with(b, "utm50n", "location", "coord"), "coord"),
    ("negative accuracy", lambda b: _with(b, -1, "location", "accuracy_m"), "accuracy_m"),
    ("huge accuracy", lambda b: _with(b, 1e7, "location", "accuracy_m"), "accuracy_m"),
    ("location not an object", lambda b: _with(b, "here", "location"), "location"),
    ("outside jurisdiction", lambda b: _with(b, 116.397, "location", "lon"), "location"),
    ("occurred_at naive", lambda b: _with(b, "2024-01-01T00:00:00", "occurred_at"), "occurred_at"),
    ("unknown field", lambda b: _with(b, 1, "priority"), "priority"),
]


@pytest.mark.parametrize(("case", "mutate", "field"), _BAD, ids=[c[0] for c in _BAD])
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient,
    db: Session,
    token_for: Headers,
    case: str,
    mutate: Callable[[dict[str, Any]], dict[str, Any]],
    field: str,
) -> None:
    body = mutate(report_body(interior_point(db, GRID_01)))
    before = _counts(db)
    r = client.post(URL, json=body, headers=token_for("g01m1"))
    assert r.status_code == 422, (case, r.text)
    details = r.json()["detail"]
    assert any(field in d["loc"] for d in details), (case, details)
    assert all(d["msg"] for d in details)
    assert _counts(db) == before


def test_not_json_is_422(client: TestClient, token_for: Headers) -> None:
    r = client.post(
        URL,
        content=b"{not json",
        headers={**token_for("g01m1"), "content-type": "application/json"},
    )
    assert r.status_code == 422


@pytest.mark.parametrize("user", ["dispatch1", "comm01", "dept_cg", "evaluator", "admin"])
def test_only_grid_staff_report(
    client: TestClient, db: Session, token_for: Headers, user: str
) -> None:
    r = client.post(URL, json=report_body(interior_point(db, GRID_01)), headers=token_for(user))
    assert r.status_code == 403
    assert client.post(URL, json=report_body(interior_point(db, GRID_01))).status_code == 401
