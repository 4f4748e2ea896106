"""The dispatch engine's action routes over HTTP on the real database (rolled back).

Covers: every action with its role and object checks, illegal transitions and stale versions
as 409s, the review loop, escalation by hand, suspend/resume shifting deadlines, and the board.
Automatic dispatch and the timers, called directly, are in
tests/integration/test_dispatch_actions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from kernel.settings import get_settings
from tests.conftest import Clock
from tests.kit.dispatch import (
    audit_actions,
    dispatched,
    ensure_category,
    outbox_topics,
    report,
    staff_id,
    username_of,
)
from tests.kit.events import GRID_01, GRID_02

Headers = Callable[[str], dict[str, str]]


def url(event_id: int, action: str) -> str:
    return f"/api/v1/events/{event_id}/{action}"


def add_resolve_photo(db: Session, event_id: int, uploader: int, clock: Clock) -> None:
    photo_id = db.execute(
        text(
            "INSERT INTO photo (sha256, media_type, size_bytes, created_at)"
            " VALUES (md5(random()::text) || md5(random()::text), 'image/jpeg', 10, :now)"
            " RETURNING id"
        ),
        {"now": clock.now},
    ).scalar_one()
    db.execute(
        text(
            "INSERT INTO event_photo (event_id, photo_id, stage, uploaded_by, created_at)"
            " VALUES (:e, :p, 'resolve', :u, :now)"
        ),
        {"e": event_id, "p": photo_id, "u": uploader, "now": clock.now},
    )


# --- the handler's loop ----------------------------------------------------------------------


def test_full_loop_acknowledge_resolve_review_pass(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    handler = username_of(db, event.assignee_id or 0)
    clock.advance(minutes=2)
    r = client.post(url(event.id or 0, "acknowledge"), headers=token_for(handler))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "acknowledged" and body["version"] == 3
    assert body["assignee"]["id"] == event.assignee_id

    r = client.post(url(event.id or 0, "resolve"), headers=token_for(handler), json={})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["photos"]
    add_resolve_photo(db, event.id or 0, event.assignee_id or 0, clock)
    r = client.post(url(event.id or 0, "resolve"), headers=token_for(handler), json={"note": "ok"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"

    # a member's fix is reviewed by the grid's head, not by the command centre
    review = {"approved": True}
    r = client.post(url(event.id or 0, "review"), headers=token_for("dispatch1"), json=review)
    assert r.status_code == 403
    r = client.post(url(event.id or 0, "review"), headers=token_for("g01h"), json=review)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed" and r.json()["closed_at"] is not None
    assert audit_actions(db, event.id or 0) == [
        "register", "dispatch", "acknowledge", "resolve", "review",
    ]  # fmt: skip


def test_failed_review_is_counted_rework_with_fresh_deadlines(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    handler = username_of(db, event.assignee_id or 0)
    add_resolve_photo(db, event.id or 0, event.assignee_id or 0, clock)
    client.post(url(event.id or 0, "acknowledge"), headers=token_for(handler))
    client.post(url(event.id or 0, "resolve"), headers=token_for(handler))
    clock.advance(minutes=20)
    r = client.post(
        url(event.id or 0, "review"),
        headers=token_for("g01h"),
        json={"approved": False, "note": "垃圾未清运干净"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "dispatched" and body["rework_count"] == 1
    assert body["assignee"]["id"] == event.assignee_id
    assert datetime.fromisoformat(body["due_at"]) == clock.now + timedelta(minutes=30)
    notes = db.execute(
        text("SELECT payload->>'type' FROM outbox WHERE event_id = :e AND topic = 'notify'"),
        {"e": event.id},
    ).scalars()
    assert "review_failed" in list(notes)


def test_a_fix_after_a_rejection_needs_a_new_photo(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    handler = token_for(username_of(db, event.assignee_id or 0))
    add_resolve_photo(db, event.id or 0, event.assignee_id or 0, clock)
    client.post(url(event.id or 0, "acknowledge"), headers=handler)
    assert client.post(url(event.id or 0, "resolve"), headers=handler).status_code == 200
    clock.advance(minutes=5)
    rejected = client.post(
        url(event.id or 0, "review"), headers=token_for("g01h"),
        json={"approved": False, "note": "照片看不出已清理"},
    )  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    clock.advance(minutes=5)
    client.post(url(event.id or 0, "acknowledge"), headers=handler)
    again = client.post(url(event.id or 0, "resolve"), headers=handler)  # the old photo only
    assert again.status_code == 422
    (detail,) = again.json()["detail"]
    assert detail["loc"] == ["photos"] and "after the fix was rejected" in detail["msg"]
    add_resolve_photo(db, event.id or 0, event.assignee_id or 0, clock)
    fixed = client.post(url(event.id or 0, "resolve"), headers=handler)
    assert fixed.status_code == 200 and fixed.json()["status"] == "resolved"


def test_review_needs_approved(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    r = client.post(url(event.id or 0, "review"), headers=token_for("g01h"), json={"note": "x"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "approved"]


# --- who may act -----------------------------------------------------------------------------


def test_only_the_assignee_acknowledges(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    handler = username_of(db, event.assignee_id or 0)
    other = "g01m2" if handler == "g01m1" else "g01m1"
    assert (
        client.post(url(event.id or 0, "acknowledge"), headers=token_for(other)).status_code == 403
    )
    # another grid's member does not even see it; evaluators never act
    assert (
        client.post(url(event.id or 0, "acknowledge"), headers=token_for("g02m1")).status_code
        == 404
    )
    assert (
        client.post(url(event.id or 0, "acknowledge"), headers=token_for("evaluator")).status_code
        == 403
    )
    assert (
        client.post(url(999_999_999, "acknowledge"), headers=token_for(handler)).status_code == 404
    )


def test_command_centre_routes_refuse_other_roles(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    for action in ("dispatch", "suspend", "resume"):
        r = client.post(url(event.id or 0, action), headers=token_for("g01h"), json={"level": 1})
        assert r.status_code == 403, (action, r.text)
    r = client.post(url(event.id or 0, "void"), headers=token_for("g01m1"))
    assert r.status_code == 403


def test_void_by_the_grid_head_only_before_dispatch(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    registered = report(db, "g01m1", now=clock.now)
    r = client.post(url(registered, "void"), headers=token_for("g01h"), json={"note": "重复上报"})
    assert r.status_code == 200 and r.json()["status"] == "voided"
    event = dispatched(db, clock)
    assert client.post(url(event.id or 0, "void"), headers=token_for("g01h")).status_code == 403
    r = client.post(url(event.id or 0, "void"), headers=token_for("dispatch1"))
    assert r.status_code == 200 and r.json()["status"] == "voided"
    assert "timer.cancel" in outbox_topics(db, event.id or 0)


# --- 409s ------------------------------------------------------------------------------------


def test_illegal_action_names_the_status_and_the_allowed_actions(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    registered = report(db, "g01m1", now=clock.now)
    r = client.post(url(registered, "acknowledge"), headers=token_for("g01m1"))
    assert r.status_code == 409
    (detail,) = r.json()["detail"]
    assert detail["type"] == "illegal_transition" and detail["loc"] == []
    assert detail["status"] == "registered" and detail["action"] == "acknowledge"
    assert detail["allowed"] == ["dispatch", "void", "merge"]
    assert "registered" in detail["msg"]


def test_stale_version_is_a_409_with_the_current_version(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    r = client.post(
        url(event.id or 0, "dispatch"),
        headers=token_for("dispatch1"),
        json={"level": 1, "version": 1},
    )
    assert r.status_code == 409
    (detail,) = r.json()["detail"]
    assert detail["version"] == 2 and detail["expected_version"] == 1
    assert detail["type"] == "stale_version" and detail["loc"] == ["body", "version"]


# --- command centre: dispatch, suspend/resume ------------------------------------------------


def test_manual_dispatch_to_a_person_or_a_level(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    head = staff_id(db, "g01h")
    r = client.post(
        url(event.id or 0, "dispatch"),
        headers=token_for("dispatch1"),
        json={"assignee_id": head, "version": 2},
    )
    assert r.status_code == 200, r.text
    assert r.json()["assignee"]["id"] == head and r.json()["level"] == 0
    r = client.post(
        url(event.id or 0, "dispatch"), headers=token_for("dispatch1"), json={"level": 1}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == 1 and body["assignee"]["id"] == staff_id(db, "comm01")
    # a person of another grid, a mismatched level, no target: 422 naming the field
    r = client.post(
        url(event.id or 0, "dispatch"),
        headers=token_for("dispatch1"),
        json={"assignee_id": staff_id(db, "g02m1")},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "assignee_id"]
    r = client.post(
        url(event.id or 0, "dispatch"),
        headers=token_for("dispatch1"),
        json={"assignee_id": head, "level": 2},
    )
    assert r.status_code == 422
    r = client.post(url(event.id or 0, "dispatch"), headers=token_for("dispatch1"), json={})
    assert r.status_code == 422
    redispatches = db.execute(
        text("SELECT redispatch_count FROM event WHERE id = :e"), {"e": event.id}
    ).scalar_one()
    assert redispatches == 2


def test_suspend_and_resume_shift_the_deadline(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    due = event.due_at
    assert due is not None
    clock.advance(minutes=5)
    r = client.post(
        url(event.id or 0, "suspend"), headers=token_for("dispatch1"), json={"note": "待审批"}
    )
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    clock.advance(hours=2)
    r = client.post(url(event.id or 0, "resume"), headers=token_for("dispatch1"))
    assert r.status_code == 200 and r.json()["status"] == "dispatched"
    assert datetime.fromisoformat(r.json()["due_at"]) == due + timedelta(hours=2)


# --- escalation ------------------------------------------------------------------------------


def test_handler_escalates_to_the_community(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    handler = username_of(db, event.assignee_id or 0)
    r = client.post(
        url(event.id or 0, "escalate"), headers=token_for(handler), json={"note": "需协调"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == 1 and body["escalation_count"] == 1
    assert body["assignee"]["id"] == staff_id(db, "comm01")
    reason = db.execute(
        text("SELECT reason FROM event_audit WHERE event_id = :e AND action = 'escalate'"),
        {"e": event.id},
    ).scalar_one()
    assert reason == "handler_request"


def test_a_queued_event_is_claimed_by_whoever_of_its_level_acknowledges(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    db.execute(text("UPDATE staff SET on_duty = false WHERE role = 'community'"))
    handler = username_of(db, event.assignee_id or 0)
    r = client.post(url(event.id or 0, "escalate"), headers=token_for(handler))
    assert r.status_code == 200 and r.json()["assignee"] is None and r.json()["level"] == 1
    # community staff of another community do not see it; its own claim it
    assert client.post(
        url(event.id or 0, "acknowledge"), headers=token_for("comm02")
    ).status_code in (403, 404)
    r = client.post(url(event.id or 0, "acknowledge"), headers=token_for("comm01"))
    assert r.status_code == 200, r.text
    assert r.json()["assignee"]["id"] == staff_id(db, "comm01")
    assert r.json()["assignee_role"] == "community"


def test_a_big_event_waits_in_the_shared_queue_until_a_dispatcher_claims_it(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    """Issue 18: the command centre's shared queue on the board and in its list; a claim
    (dispatchers only, with the version) takes the event; the second claim is a 409."""
    event = dispatched(db, clock, category="gas_safety")
    assert (event.level, event.assignee_id) == (2, None)
    board = client.get("/api/v1/dispatch/board", headers=token_for("dispatch1")).json()
    assert board["levels"][2]["queued"] == 1 and board["open"]["queued"] == 1
    queue = client.get("/api/v1/dispatch/queue", headers=token_for("dispatch1")).json()
    assert [e["id"] for e in queue["items"]] == [event.id]
    assert client.get("/api/v1/dispatch/queue", headers=token_for("g01h")).status_code == 403

    r = client.post(url(event.id or 0, "claim"), headers=token_for("g01m1"), json={"version": 2})
    assert r.status_code == 403, r.text  # not the command centre's level
    clock.advance(minutes=1)
    r = client.post(
        url(event.id or 0, "claim"), headers=token_for("dispatch2"), json={"version": 2}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["assignee"]["id"] == staff_id(db, "dispatch2") and body["status"] == "dispatched"
    assert (
        body["version"] == 3
        and body["due_at"]
        == client.get(f"/api/v1/events/{event.id}", headers=token_for("dispatch2")).json()["due_at"]
    )
    # the other dispatcher's claim, sent on the same version: a 409 naming the current one
    r = client.post(
        url(event.id or 0, "claim"), headers=token_for("dispatch1"), json={"version": 2}
    )
    assert r.status_code == 409, r.text
    # and one without a version: the event is held now, so claim is no longer allowed
    r = client.post(url(event.id or 0, "claim"), headers=token_for("dispatch1"))
    assert r.status_code == 409 and "claim" not in str(r.json()["detail"][0].get("allowed", []))
    assert audit_actions(db, event.id or 0) == ["register", "dispatch", "claim"]
    actor = db.execute(
        text("SELECT actor FROM event_audit WHERE event_id = :e AND action = 'claim'"),
        {"e": event.id},
    ).scalar_one()
    assert actor == str(staff_id(db, "dispatch2"))
    board = client.get("/api/v1/dispatch/board", headers=token_for("dispatch1")).json()
    assert board["levels"][2]["queued"] == 0
    assert (
        client.get("/api/v1/dispatch/queue", headers=token_for("dispatch1")).json()["items"] == []
    )


def test_a_dispatch_to_a_department_counts_as_an_escalation(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    """Issue 18: the command centre sending a big event on to a department is an escalation
    in the statistics (escalation_count, the day's escalations counter), not a re-dispatch."""
    event = dispatched(db, clock, category="gas_safety")
    client.post(url(event.id or 0, "claim"), headers=token_for("dispatch1"))
    r = client.post(
        url(event.id or 0, "dispatch"), headers=token_for("dispatch1"), json={"level": 3}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["level"], body["escalation_count"]) == (3, 1)
    row = db.execute(
        text(
            "SELECT e.redispatch_count, a.reason FROM event e JOIN event_audit a"
            " ON a.event_id = e.id AND a.version = e.version WHERE e.id = :e"
        ),
        {"e": event.id},
    ).one()
    assert tuple(row) == (0, "dispatched_up")
    counted = db.execute(text("SELECT sum(escalations), sum(redispatches) FROM stats_daily")).one()
    assert tuple(counted) == (1, 0)
    day = clock.now.astimezone(get_settings().tz).date().isoformat()
    r = client.get(
        "/api/v1/stats/indicators",
        params={"since": day, "until": day},
        headers=token_for("evaluator"),
    )
    figures = {i["code"]: i for i in r.json()["indicators"]}
    rate = figures["escalation_rate"]
    assert (rate["numerator"], rate["denominator"], rate["value"]) == (1, 1, 1.0)
    assert figures["accurate_dispatch"]["value"] == 1.0  # not counted as a wrong dispatch


# --- the board -------------------------------------------------------------------------------


def test_board_counts_by_level_sla_state_grid_and_community(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    ensure_category(db, "zz_board", ack_seconds=600, resolve_seconds=1200)
    ok = dispatched(db, clock, category="zz_board")
    warned = dispatched(db, clock, category="zz_board", grid=GRID_02, reporter="g02m1")
    late = dispatched(db, clock, category="zz_board")
    report(db, "g01m1", now=clock.now)  # registered, not yet dispatched
    start = clock.now
    db.execute(text("UPDATE event SET ack_due_at = :t, ack_warn50_at = :w WHERE id = :e"), {
        "t": start + timedelta(minutes=2), "w": start - timedelta(minutes=3), "e": warned.id,
    })  # fmt: skip
    db.execute(text("UPDATE event SET ack_due_at = :t WHERE id = :e"), {
        "t": start - timedelta(seconds=1), "e": late.id,
    })  # fmt: skip
    assert ok.id is not None
    r = client.get("/api/v1/dispatch/board", headers=token_for("dispatch2"))
    assert r.status_code == 200, r.text
    board = r.json()
    assert board["open"]["total"] == 4
    assert (board["open"]["ok"], board["open"]["warning"], board["open"]["breached"]) == (2, 1, 1)
    level0 = board["levels"][0]
    assert level0["level"] == 0 and level0["by_status"] == {"dispatched": 3, "registered": 1}
    grids = {g["code"]: g for g in board["grids"]}
    assert len(grids) == 44
    assert (grids[GRID_01]["open"], grids[GRID_01]["breached"]) == (3, 1)
    assert grids[GRID_02]["warning"] == 1
    assert sum(c["open"] for c in board["communities"]) == 4
    assert client.get("/api/v1/dispatch/board", headers=token_for("evaluator")).status_code == 200
    assert client.get("/api/v1/dispatch/board", headers=token_for("g01h")).status_code == 403

    # the events behind each count, a page at a time
    def behind(query: str) -> list[int]:
        ids: list[int] = []
        cursor = ""
        while True:
            page = client.get(
                f"/api/v1/dispatch/board/events?{query}&limit=1{cursor}",
                headers=token_for("dispatch2"),
            )
            assert page.status_code == 200, page.text
            ids += [e["id"] for e in page.json()["items"]]
            if page.json()["next_cursor"] is None:
                return ids
            cursor = f"&cursor={page.json()['next_cursor']}"

    assert behind("sla=breached") == [late.id]
    assert behind("sla=warning") == [warned.id]
    assert len(behind("sla=ok")) == 2 and ok.id in behind("sla=ok")
    assert behind(f"sla=warning&grid={GRID_01}") == []
    every = behind("sla=ok") + behind("sla=warning") + behind("sla=breached")
    assert len(set(every)) == len(every) == board["open"]["total"]
    refused = client.get("/api/v1/dispatch/board/events?sla=late", headers=token_for("dispatch2"))
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "sla"]
    assert (
        client.get("/api/v1/dispatch/board/events?sla=ok", headers=token_for("g01h")).status_code
        == 403
    )


@pytest.mark.parametrize("who", ["g01m1", "comm01", "dept_cg"])
def test_stream_refuses_people_outside_the_command_centre(
    client: TestClient, token_for: Headers, who: str
) -> None:
    assert client.get("/api/v1/dispatch/stream", headers=token_for(who)).status_code == 403
