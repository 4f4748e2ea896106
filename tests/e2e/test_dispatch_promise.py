"""The original promise over HTTP (issue 18): rework, re-dispatch, escalation and breaches
restart the stage clock (``due_at``) but not ``promised_due_at``; 按期处置率 measures against the
promise and the stage figure is served beside it; the rejection note is on the event; a former
holder of an escalated event is told who holds it now (409). Decisions:
docs/decisions/0013-original-promise.md."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from dispatch.lifecycle import system
from domain.lifecycle import TimerKind
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from tests.conftest import Clock
from tests.e2e.test_dispatch_actions import add_resolve_photo, url
from tests.kit.dispatch import dispatched, staff_id, username_of
from tests.kit.events import GRID_01

Headers = Callable[[str], dict[str, str]]


def _at(body: dict[str, Any], name: str) -> datetime:
    return datetime.fromisoformat(body[name])


def _handling(client: TestClient, token_for: Headers, day: str) -> dict[str, tuple[float, ...]]:
    """Both handling rates of grid 01 for the events reported on ``day`` (the same day before
    and after: a test that starts shortly before midnight ends on the next one)."""
    r = client.get(
        "/api/v1/stats/indicators",
        params={"since": day, "until": day, "grid": GRID_01},
        headers=token_for("evaluator"),
    )
    assert r.status_code == 200, r.text
    assert "on_time_handling" in r.json()["definitions"]
    return {
        i["code"]: (i["numerator"], i["denominator"])
        for i in r.json()["indicators"]
        if i["code"] in ("on_time_handling", "on_time_handling_stage")
    }


def test_rework_keeps_the_promise_and_handling_is_measured_against_it(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    day = clock.now.astimezone(get_settings().tz).date().isoformat()
    before = _handling(client, token_for, day)
    event = dispatched(db, clock)  # exposed_garbage: 10 min to acknowledge, 30 to resolve
    eid, promised = event.id or 0, event.due_at
    assert promised is not None
    handler = token_for(username_of(db, event.assignee_id or 0))
    add_resolve_photo(db, eid, event.assignee_id or 0, clock)
    client.post(url(eid, "acknowledge"), headers=handler)
    clock.advance(minutes=20)
    assert client.post(url(eid, "resolve"), headers=handler).status_code == 200
    clock.advance(minutes=5)
    rejected = client.post(
        url(eid, "review"), headers=token_for("g01h"),
        json={"approved": False, "note": "垃圾未清运干净"},
    )  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert _at(body, "due_at") == clock.now + timedelta(minutes=30), "the stage clock restarts"
    assert _at(body, "promised_due_at") == promised, "the promise does not"
    assert body["rejection_note"] == "垃圾未清运干净"
    assert _at(body, "rejected_at") == clock.now

    # the assignee reads the note on the event itself
    seen = client.get(f"/api/v1/events/{eid}", headers=handler).json()
    assert seen["rejection_note"] == "垃圾未清运干净" and seen["status"] == "dispatched"

    clock.advance(minutes=10)  # 35 min after the first dispatch: past the promise
    client.post(url(eid, "acknowledge"), headers=handler)
    add_resolve_photo(db, eid, event.assignee_id or 0, clock)
    fixed = client.post(url(eid, "resolve"), headers=handler)
    assert fixed.status_code == 200, fixed.text
    assert _at(fixed.json(), "resolved_at") <= _at(fixed.json(), "due_at")
    assert _at(fixed.json(), "resolved_at") > _at(fixed.json(), "promised_due_at")
    assert fixed.json()["rejection_note"] == "垃圾未清运干净", "kept for the reviewer"

    after = _handling(client, token_for, day)
    num, den = after["on_time_handling"]
    assert (num, den) == (before["on_time_handling"][0], before["on_time_handling"][1] + 1)
    stage_num, stage_den = after["on_time_handling_stage"]
    assert (stage_num, stage_den) == (
        before["on_time_handling_stage"][0] + 1,
        before["on_time_handling_stage"][1] + 1,
    ), "on the stage clock the late fix counts on time"


def test_a_manual_redispatch_keeps_the_promise(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    promised = (event.ack_due_at, event.due_at)  # the ORM row follows the writes below
    clock.advance(minutes=3)
    r = client.post(
        url(event.id or 0, "dispatch"),
        headers=token_for("dispatch1"),
        json={"assignee_id": staff_id(db, "g01h")},
    )
    assert r.status_code == 200, r.text
    assert _at(r.json(), "due_at") == clock.now + timedelta(minutes=30)
    assert (_at(r.json(), "promised_ack_at"), _at(r.json(), "promised_due_at")) == promised


def test_breaches_keep_the_promise_and_the_history_names_each_clock(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    eid, ack_due, promised = event.id or 0, event.ack_due_at, event.due_at
    clock.advance(minutes=5)
    assert system.handle_timer(UnitOfWork(db), eid, TimerKind.ACK_WARN50, 1, clock.now)
    clock.advance(minutes=5)
    breach = system.handle_timer(UnitOfWork(db), eid, TimerKind.ACK_BREACH, 1, clock.now)
    assert breach is not None and breach.state.level == 1
    assert breach.state.due_at == clock.now + timedelta(minutes=30)
    assert breach.state.promised_due_at == promised
    history = client.get(f"/api/v1/events/{eid}/history", headers=token_for("dispatch1")).json()
    timed = [
        (h["action"], h["clock"], h["percent"], h["clock_due_at"], h["promised_at"])
        for h in history["items"]
        if h["clock"] is not None
    ]
    assert ack_due is not None
    assert [(a, c, p) for a, c, p, _, _ in timed] == [("warn", "ack", 50), ("breach", "ack", 100)]
    assert all(datetime.fromisoformat(d) == ack_due for _, _, _, d, _ in timed)
    assert all(datetime.fromisoformat(p) == ack_due for _, _, _, _, p in timed)


def test_the_former_holder_is_told_who_holds_an_escalated_event(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    eid = event.id or 0
    member = username_of(db, event.assignee_id or 0)
    clock.advance(minutes=10)
    breach = system.handle_timer(UnitOfWork(db), eid, TimerKind.ACK_BREACH, 1, clock.now)
    assert breach is not None and breach.state.assignee_id == str(staff_id(db, "comm01"))
    for action in ("acknowledge", "resolve"):
        r = client.post(url(eid, action), headers=token_for(member), json={})
        assert r.status_code == 409, r.text
        (detail,) = r.json()["detail"]
        assert detail["type"] == "moved_on"
        assert detail["holder"]["username"] == "comm01" and detail["level"] == 1
        assert detail["how"] == "breach (ack_overdue)" and detail["version"] == 3
        assert "comm01" in detail["msg"] and "社区" in detail["msg"]
    # someone who never held it still gets the plain 403
    other = "g01m2" if member == "g01m1" else "g01m1"
    r = client.post(url(eid, "acknowledge"), headers=token_for(other), json={})
    assert r.status_code == 403
    # and the holder acts as before
    r = client.post(url(eid, "acknowledge"), headers=token_for("comm01"), json={})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
