"""复发: a public report the staff on site confirm, matching a recently closed event of its
category near it, reopens that event (a new cycle, counted as 返工) and is linked to it, in the
verification's transaction (issue 13, docs/decisions/0025). Over HTTP, against the real
database; the clock is injected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import text
from sqlmodel import Session

from domain.coords import wgs84_to_gcj02
from kernel.settings import get_settings
from tests.conftest import Clock
from tests.e2e.test_dispatch_requests import _close, _indicator, _today, _verify_ok
from tests.kit.events import GRID_01, interior_point

Headers = Callable[[str], dict[str, str]]
V2 = "/open311/v2"


@pytest.fixture
def key(client: TestClient, token_for: Headers, redis: Redis) -> str:
    r = client.post(
        "/api/v1/api-clients",
        json={"name": "wechat-mini", "channel": "public"},
        headers=token_for("admin"),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])


def _public(
    client: TestClient,
    db: Session,
    key: str,
    *,
    north_m: float = 0.0,
    service_code: str = "exposed_garbage",
) -> int:
    """A public report near grid 01's interior point (``north_m`` metres north of it), sent
    in GCJ-02 as a Chinese map SDK would; its event id."""
    lon, lat = interior_point(db, GRID_01)
    lon, lat = wgs84_to_gcj02(lon, lat + north_m / 111_195.0)
    r = client.post(
        f"{V2}/requests.json",
        data={
            "api_key": key,
            "service_code": service_code,
            "lat": f"{lat:.7f}",
            "long": f"{lon:.7f}",
            "coord": "gcj02",
            "description": "垃圾又堆起来了",
            "phone": "13800138000",
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()[0]["service_request_id"])


def _verify(client: TestClient, token_for: Headers, report: int, **body: Any) -> Any:
    return client.post(
        f"/api/v1/events/{report}/verification",
        json={"outcome": "confirmed", **body},
        headers=token_for("dispatch1"),
    )


def _event(client: TestClient, token_for: Headers, event_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/events/{event_id}", headers=token_for("dispatch1"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _linked(client: TestClient, token_for: Headers, report: int) -> int | None:
    r = client.get(f"/api/v1/events/{report}/public-report", headers=token_for("dispatch1"))
    assert r.status_code == 200, r.text
    linked: int | None = r.json()["duplicate_of"]
    return linked


def _reopen_rows(db: Session, event_id: int) -> list[tuple[str, str]]:
    rows = db.execute(
        text(
            "SELECT actor, note FROM event_audit WHERE event_id = :e AND action = 'reopen'"
            " ORDER BY version"
        ),
        {"e": event_id},
    ).all()
    return [(str(a), str(n)) for a, n in rows]


def test_a_confirmed_report_reopens_the_case_closed_near_it_within_the_period(
    client: TestClient, db: Session, clock: Clock, token_for: Headers, key: str
) -> None:
    reported = _today(clock)
    eid = _close(client, db, clock, token_for)
    closed = _event(client, token_for, eid)
    assert _indicator(client, token_for, reported, "rework_rate")["numerator"] == 0
    clock.advance(days=29, hours=23)  # within the 30 days
    report = _public(client, db, key)
    seen = client.get(f"/api/v1/events/{report}/public-report", headers=token_for("g01m1")).json()
    assert seen["duplicate_candidates"] == []  # a closed event is not an open duplicate
    assert [c["event_id"] for c in seen["reopen_candidates"]] == [eid]
    assert seen["reopen_candidates"][0]["distance_m"] < 1 and seen["reopens"] == eid
    pending = _event(client, token_for, report)

    r = _verify(client, token_for, report, version=pending["version"], note="东门又堆满")
    assert r.status_code == 200, r.text
    linked = r.json()
    assert linked["status"] == "voided" and _linked(client, token_for, report) == eid

    # the closed event is open again: a new cycle to its handler, counted as rework
    again = _event(client, token_for, eid)
    assert again["status"] == "dispatched" and again["cycle"] == 2
    assert again["rework_count"] == closed["rework_count"] + 1
    assert again["assignee"] == closed["assignee"] and again["closed_at"] is None
    ((actor, note),) = _reopen_rows(db, eid)
    assert actor == "system" and str(report) in note and "东门又堆满" in note
    history = client.get(f"/api/v1/events/{eid}/history", headers=token_for("dispatch1"))
    actions = [h["action"] for h in history.json()["items"]]
    assert actions[-2:] == ["review", "reopen"] and "resolve" in actions, "history kept"
    timers = db.execute(
        text("SELECT count(*) FROM outbox WHERE event_id = :e AND topic <> 'stream'"
             " AND created_at = :now"),
        {"e": eid, "now": clock.now},
    ).scalar_one()  # fmt: skip
    assert timers >= 1, "the new cycle's clocks are scheduled"
    verified = client.get(
        f"/api/v1/events/{report}/public-report", headers=token_for("g01m1")
    ).json()
    assert verified["outcome"] == "duplicate" and str(eid) in verified["outcome_note"]
    assert verified["reopen_candidates"] == [] and verified["reopens"] is None

    # the reporter follows the reopened event through the public door
    followed = client.get(f"{V2}/requests/{report}.json").json()[0]
    assert followed["status"] == "open"
    assert str(eid) in followed["status_notes"] and "已派遣" in followed["status_notes"]
    token = verified["token"]
    by_token = client.get(f"{V2}/tokens/{token}.json").json()
    assert by_token[0]["service_request_id"] == str(report)

    # counted as 返工 and 重开 on the closed event's report day, as a manual reopening
    rework = _indicator(client, token_for, reported, "rework_rate")
    assert (rework["numerator"], rework["denominator"]) == (1, 1)
    assert _indicator(client, token_for, reported, "reopen_rate")["numerator"] == 1
    rows = client.get(
        "/api/v1/stats/process",
        params={"since": reported, "until": reported, "group_by": "grid"},
        headers=token_for("evaluator"),
    ).json()["rows"]
    grid = next(row for row in rows if row["code"] == GRID_01)
    assert grid["cases"]["reopened"] == 1 and grid["actions"]["reopen"] == 1

    # idempotent: the same request again (same version, or none) reopens nothing more
    for body in ({"version": pending["version"]}, {}):
        r = _verify(client, token_for, report, **body)
        assert r.status_code == 409, r.text
    assert len(_reopen_rows(db, eid)) == 1 and _event(client, token_for, eid)["cycle"] == 2
    _verify_ok(db, clock)
    day = clock.now.astimezone(get_settings().tz).date()
    from evaluation.scope import Scope
    from evaluation.verify import verify

    report_check = verify(db, Scope(day - timedelta(days=31), day))
    assert report_check.ok, "\n".join(report_check.lines())


def test_no_reopening_after_the_period_for_another_category_or_beyond_the_distance(
    client: TestClient, db: Session, clock: Clock, token_for: Headers, key: str
) -> None:
    eid = _close(client, db, clock, token_for)
    # another category at the same place
    other = _public(client, db, key, service_code="small_ads")
    assert _verify(client, token_for, other).json()["status"] == "registered"
    # the same category 80 m away (the duplicate distance is 50 m)
    far = _public(client, db, key, north_m=80)
    seen = client.get(f"/api/v1/events/{far}/public-report", headers=token_for("dispatch1"))
    assert seen.json()["reopen_candidates"] == [] and seen.json()["reopens"] is None
    assert _verify(client, token_for, far).json()["status"] == "registered"
    # the verifier may say it is a new problem
    fresh = _public(client, db, key)
    r = _verify(client, token_for, fresh, reopen=False)
    assert r.json()["status"] == "registered" and _linked(client, token_for, fresh) is None
    assert _event(client, token_for, eid)["status"] == "closed"
    # just past the period (30 days after the close)
    closed_at = _event(client, token_for, eid)["closed_at"]
    late = _public(client, db, key)
    clock.advance(days=30, seconds=1)
    seen = client.get(f"/api/v1/events/{late}/public-report", headers=token_for("dispatch1"))
    assert seen.json()["reopen_candidates"] == []
    assert _verify(client, token_for, late).json()["status"] == "registered"
    assert _event(client, token_for, eid)["closed_at"] == closed_at
    assert _reopen_rows(db, eid) == []


def test_the_latest_closure_is_reopened_once_and_an_open_event_wins(
    client: TestClient, db: Session, clock: Clock, token_for: Headers, key: str
) -> None:
    older = _close(client, db, clock, token_for)
    clock.advance(hours=1)
    newer = _close(client, db, clock, token_for)  # the same place, closed later
    clock.advance(days=2)
    first, second = _public(client, db, key), _public(client, db, key)
    for report in (first, second):  # a report waiting for verification blocks nothing
        seen = client.get(
            f"/api/v1/events/{report}/public-report", headers=token_for("dispatch1")
        ).json()
        assert [c["event_id"] for c in seen["reopen_candidates"]] == [newer, older]
        assert seen["reopens"] == newer
    assert _verify(client, token_for, first).json()["status"] == "voided"
    assert _linked(client, token_for, first) == newer
    assert _event(client, token_for, newer)["status"] == "dispatched"
    # the second report of the same recurrence: the reopened event is open there, so the older
    # closure is not reopened as well
    seen = client.get(
        f"/api/v1/events/{second}/public-report", headers=token_for("dispatch1")
    ).json()
    assert [c["event_id"] for c in seen["reopen_candidates"]] == [older]
    assert seen["reopens"] is None
    assert _verify(client, token_for, second).json()["status"] == "registered"
    assert _event(client, token_for, older)["status"] == "closed"
    assert _reopen_rows(db, older) == [] and len(_reopen_rows(db, newer)) == 1
    # an open staff report of the category at the place wins as well
    third = _public(client, db, key)
    seen = client.get(
        f"/api/v1/events/{third}/public-report", headers=token_for("dispatch1")
    ).json()
    assert seen["reopens"] is None
    _verify_ok(db, clock)


def test_a_closed_event_changed_during_the_verification_is_a_409_and_never_reopened_twice(
    client: TestClient,
    db: Session,
    clock: Clock,
    token_for: Headers,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two reports of one recurrence verified at the same moment: the second matched the
    closed event before the first reopened it (its match is stale); its write fails the version
    check, the whole verification rolls back, and its retry sees the reopened event open."""
    from dispatch.public import verification

    eid = _close(client, db, clock, token_for)
    clock.advance(days=1)
    first, second = _public(client, db, key), _public(client, db, key)
    event = db.execute(text("SELECT category_id FROM event WHERE id = :e"), {"e": second}).one()
    lon, lat = interior_point(db, GRID_01)
    from dispatch.public.duplicates import reopen_match

    stale = reopen_match(
        db, event_id=second, category_id=event[0], lon=lon, lat=lat, now=clock.now
    ).target
    db.rollback()
    assert stale is not None and stale.event_id == eid
    assert _linked(client, token_for, first) is None
    assert _verify(client, token_for, first).json()["status"] == "voided"
    monkeypatch.setattr(verification, "_closed_match", lambda *_: stale)
    r = _verify(client, token_for, second)
    assert r.status_code == 409, r.text
    assert _event(client, token_for, second)["status"] == "pending_verification"
    monkeypatch.undo()
    assert _verify(client, token_for, second).json()["status"] == "registered"
    assert len(_reopen_rows(db, eid)) == 1 and _event(client, token_for, eid)["cycle"] == 2
    _verify_ok(db, clock)
