"""延期 (extension) and 挂账 (parking) with the approval of the level above, and 重开 (reopening a
closed case) over HTTP (issue 13): who may ask and decide, what moves the deadline and the
promise, the audit rows, the statistics, and ``wangge audit verify`` staying clean."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from evaluation.scope import Scope
from evaluation.verify import verify
from kernel.settings import get_settings
from tests.conftest import Clock
from tests.e2e.test_dispatch_actions import add_resolve_photo, url
from tests.kit.dispatch import dispatched, staff_id, username_of
from tests.kit.events import GRID_01

Headers = Callable[[str], dict[str, str]]


def _local(value: datetime) -> str:
    return value.astimezone(get_settings().tz).isoformat()


def _audit(db: Session, event_id: int, action: str) -> list[dict[str, Any]]:
    rows = db.execute(
        text(
            "SELECT actor, note, data FROM event_audit WHERE event_id = :e AND action = :a"
            " ORDER BY version"
        ),
        {"e": event_id, "a": action},
    ).all()
    return [{"actor": r[0], "note": r[1], "data": r[2]} for r in rows]


def _today(clock: Clock) -> str:
    return clock.now.astimezone(get_settings().tz).date().isoformat()


def _verify_ok(db: Session, clock: Clock) -> None:
    """The window of the last two days (a test's clock may cross midnight)."""
    day = clock.now.astimezone(get_settings().tz).date()
    report = verify(db, Scope(day - timedelta(days=1), day))
    assert report.ok, "\n".join(report.lines())


def test_an_extension_is_asked_by_the_holder_and_moves_the_clock_only_when_approved(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    eid = event.id or 0
    holder_name = username_of(db, event.assignee_id or 0)
    holder = token_for(holder_name)
    other = token_for("g01m2" if holder_name == "g01m1" else "g01m1")
    before = client.get(f"/api/v1/events/{eid}", headers=holder).json()
    due = datetime.fromisoformat(before["due_at"])
    asked = due + timedelta(days=2)
    body = {"note": "需等待物业配合", "deadline": _local(asked)}

    # 422: no reason, a blank one, no deadline, a naive one, not later, too far
    for bad, where in (
        ({"deadline": _local(asked)}, "note"),
        ({"note": "  ", "deadline": _local(asked)}, "note"),
        ({"note": "等物业"}, "deadline"),
        ({"note": "等物业", "deadline": asked.replace(tzinfo=None).isoformat()}, "deadline"),
        ({"note": "等物业", "deadline": _local(due)}, "deadline"),
        ({"note": "等物业", "deadline": _local(clock.now + timedelta(days=31))}, "deadline"),
    ):
        r = client.post(url(eid, "request_extension"), headers=holder, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"][-1] == where, r.text
    # 403: not the holder's; an evaluator never writes
    assert client.post(url(eid, "request_extension"), headers=other, json=body).status_code == 403
    assert (
        client.post(
            url(eid, "request_extension"), headers=token_for("evaluator"), json=body
        ).status_code
        == 403
    )
    clock.advance(minutes=3)
    r = client.post(url(eid, "request_extension"), headers=holder, json=body)
    assert r.status_code == 200, r.text
    pending = r.json()
    assert pending["pending_request"]["kind"] == "extension"
    assert pending["pending_request"]["reason"] == "需等待物业配合"
    assert pending["due_at"] == before["due_at"], "a pending request does not move the clock"
    assert pending["promised_due_at"] == before["promised_due_at"]
    # at most one pending request: 409
    again = client.post(url(eid, "request_extension"), headers=holder, json=body)
    assert again.status_code == 409 and again.json()["detail"][0]["type"] == "illegal_transition"
    parking = {"note": "需列入预算"}
    assert client.post(url(eid, "request_parking"), headers=holder, json=parking).status_code == 409
    board = client.get("/api/v1/dispatch/board", headers=token_for("dispatch1")).json()
    assert board["requests_pending"] == 1
    waiting = client.get(
        "/api/v1/events", params={"request": "extension"}, headers=token_for("g01h")
    )
    assert [e["id"] for e in waiting.json()["items"]] == [eid], waiting.text
    none = client.get("/api/v1/events", params={"request": "parking"}, headers=token_for("g01h"))
    assert none.json()["items"] == []

    # the holder cannot approve their own; another member, an evaluator cannot either; the
    # community is not a member's superior; another grid's head does not even see it
    for who in (holder_name, "g01m2" if holder_name == "g01m1" else "g01m1", "comm01"):
        r = client.post(url(eid, "approve_extension"), headers=token_for(who))
        assert r.status_code == 403, (who, r.text)
    assert client.post(url(eid, "approve_extension"), headers=token_for("g02h")).status_code == 404
    assert (
        client.post(url(eid, "approve_extension"), headers=token_for("evaluator")).status_code
        == 403
    )
    clock.advance(minutes=2)
    r = client.post(url(eid, "approve_extension"), headers=token_for("g01h"), json={"note": "同意"})
    assert r.status_code == 200, r.text
    after = r.json()
    assert datetime.fromisoformat(after["due_at"]) == asked
    assert datetime.fromisoformat(after["promised_due_at"]) == asked
    assert after["promised_ack_at"] == before["promised_ack_at"]
    assert after["pending_request"] is None
    # nothing left to decide: 409
    r = client.post(url(eid, "approve_extension"), headers=token_for("g01h"))
    assert r.status_code == 409, r.text

    (request,) = _audit(db, eid, "request_extension")
    assert request["actor"] == str(event.assignee_id) and request["note"] == "需等待物业配合"
    assert datetime.fromisoformat(request["data"]["request_deadline"]) == asked
    (approval,) = _audit(db, eid, "approve_extension")
    assert approval["actor"] == str(staff_id(db, "g01h"))
    assert approval["data"]["asked_reason"] == "需等待物业配合"
    assert approval["data"]["asked_by"] == str(event.assignee_id)
    assert datetime.fromisoformat(approval["data"]["previous_due_at"]) == due
    assert datetime.fromisoformat(approval["data"]["promised_due_at"]) == asked
    history = client.get(f"/api/v1/events/{eid}/history", headers=holder).json()["items"]
    decided = next(h for h in history if h["action"] == "approve_extension")
    assert decided["actor"]["id"] == str(staff_id(db, "g01h"))
    assert decided["request"]["reason"] == "需等待物业配合"
    assert decided["request"]["requested_by"] == str(event.assignee_id)
    assert datetime.fromisoformat(decided["request"]["deadline"]) == asked
    assert datetime.fromisoformat(decided["request"]["previous_due_at"]) == due
    assert (
        next(h for h in history if h["action"] == "acknowledge" or h["version"] == 2)["request"]
        is None
    )
    _verify_ok(db, clock)


def test_a_refusal_needs_a_reason_and_moves_nothing(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    eid = event.id or 0
    holder = token_for(username_of(db, event.assignee_id or 0))
    before = client.get(f"/api/v1/events/{eid}", headers=holder).json()
    asked = datetime.fromisoformat(before["due_at"]) + timedelta(hours=5)
    body = {"note": "需等待物业配合", "deadline": _local(asked)}
    assert client.post(url(eid, "request_extension"), headers=holder, json=body).status_code == 200
    head = token_for("g01h")
    assert client.post(url(eid, "refuse_extension"), headers=head, json={}).status_code == 422
    r = client.post(url(eid, "refuse_extension"), headers=head, json={"note": "今天可以完成"})
    assert r.status_code == 200, r.text
    assert r.json()["due_at"] == before["due_at"]
    assert r.json()["promised_due_at"] == before["promised_due_at"]
    (refusal,) = _audit(db, eid, "refuse_extension")
    assert refusal["note"] == "今天可以完成" and refusal["data"]["asked_reason"] == "需等待物业配合"
    # the command centre may decide too (it is above every level)
    assert client.post(url(eid, "request_extension"), headers=holder, json=body).status_code == 200
    r = client.post(url(eid, "approve_extension"), headers=token_for("dispatch1"))
    assert r.status_code == 200 and datetime.fromisoformat(r.json()["due_at"]) == asked
    _verify_ok(db, clock)


def test_the_database_refuses_a_decision_without_approver_or_reason(
    db: Session, clock: Clock
) -> None:
    """100 % of decisions carry a person as approver and the request's reason: a CHECK."""
    event = dispatched(db, clock)
    for actor, data in (("system", {"asked_reason": "x", "asked_by": "1"}), ("5", {})):
        savepoint = db.begin_nested()
        try:
            db.execute(
                text(
                    "INSERT INTO event_audit (event_id, version, action, from_status, to_status,"
                    " from_level, to_level, actor, at, note, data) VALUES (:e, 99,"
                    " 'approve_extension', 'dispatched', 'dispatched', 0, 0, :actor, now(), '',"
                    " CAST(:data AS jsonb))"
                ),
                {"e": event.id, "actor": actor, "data": json.dumps(data)},
            )
        except IntegrityError as exc:
            assert "ck_event_audit_decision_named" in str(exc.orig)
        else:
            raise AssertionError(f"a decision by {actor!r} with {data} was accepted")
        finally:
            savepoint.rollback()


def test_parking_is_approved_by_the_level_above_stops_the_clocks_and_is_unparked(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    eid = event.id or 0
    holder = token_for(username_of(db, event.assignee_id or 0))
    client.post(url(eid, "acknowledge"), headers=holder)
    before = client.get(f"/api/v1/events/{eid}", headers=holder).json()
    today = clock.now.astimezone(get_settings().tz).date()
    bad = {"note": "需列入预算", "review_on": today.isoformat()}
    assert client.post(url(eid, "request_parking"), headers=holder, json=bad).status_code == 422
    review = (today + timedelta(days=90)).isoformat()
    r = client.post(
        url(eid, "request_parking"),
        headers=holder,
        json={"note": "需列入预算", "review_on": review},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged" and r.json()["pending_request"]["kind"] == "parking"
    clock.advance(minutes=1)
    r = client.post(url(eid, "approve_parking"), headers=token_for("g01h"))
    assert r.status_code == 200, r.text
    parked = r.json()
    assert parked["status"] == "parked" and parked["parked_until"].startswith(review)
    board = client.get("/api/v1/dispatch/board", headers=token_for("dispatch1")).json()
    assert board["parked"] == 1 and board["open"]["by_status"]["parked"] == 1
    assert parked["parked_s"] is None  # an action's answer: the single read reports it
    clock.advance(hours=2)
    shown = client.get(f"/api/v1/events/{eid}", headers=holder).json()
    assert shown["parked_s"] == 2 * 3600  # still parked: counted up to now
    # a member cannot unpark; the head (the approver level) or the command centre can
    assert client.post(url(eid, "unpark"), headers=holder).status_code == 403
    clock.advance(hours=3)
    r = client.post(url(eid, "unpark"), headers=token_for("dispatch1"), json={"note": "预算已批"})
    assert r.status_code == 200, r.text
    back = r.json()
    assert back["status"] == "acknowledged" and back["parked_until"] is None
    shift = datetime.fromisoformat(back["promised_due_at"]) - datetime.fromisoformat(
        before["promised_due_at"]
    )
    assert shift == timedelta(hours=5), "parked time never counts against the handler"
    clock.advance(hours=1)
    shown = client.get(f"/api/v1/events/{eid}", headers=holder).json()
    assert shown["parked_s"] == 5 * 3600  # reported apart, from the audit rows
    (approval,) = _audit(db, eid, "approve_parking")
    assert approval["actor"] == str(staff_id(db, "g01h"))
    assert approval["data"]["asked_reason"] == "需列入预算"
    _verify_ok(db, clock)


def _close(client: TestClient, db: Session, clock: Clock, token_for: Headers) -> int:
    event = dispatched(db, clock)
    eid = event.id or 0
    holder = token_for(username_of(db, event.assignee_id or 0))
    add_resolve_photo(db, eid, event.assignee_id or 0, clock)
    assert client.post(url(eid, "acknowledge"), headers=holder).status_code == 200
    assert client.post(url(eid, "resolve"), headers=holder).status_code == 200
    r = client.post(url(eid, "review"), headers=token_for("g01h"), json={"approved": True})
    assert r.json()["status"] == "closed"
    return eid


def _indicator(client: TestClient, token_for: Headers, day: str, code: str) -> Any:
    r = client.get(
        "/api/v1/stats/indicators",
        params={"since": day, "until": day, "grid": GRID_01},
        headers=token_for("evaluator"),
    )
    assert r.status_code == 200, r.text
    return next(i for i in r.json()["indicators"] if i["code"] == code)


def test_a_reopened_case_starts_a_new_cycle_and_counts_as_rework(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    reported = _today(clock)
    eid = _close(client, db, clock, token_for)
    rework = _indicator(client, token_for, reported, "rework_rate")
    assert (rework["numerator"], rework["denominator"]) == (0, 1)
    closed = client.get(f"/api/v1/events/{eid}", headers=token_for("dispatch1")).json()
    # only the command centre reopens, with a reason; only a closed case
    assert (
        client.post(url(eid, "reopen"), headers=token_for("g01h"), json={"note": "x"}).status_code
        == 403
    )
    assert (
        client.post(url(eid, "reopen"), headers=token_for("dispatch1"), json={}).status_code == 422
    )
    clock.advance(hours=2)
    r = client.post(url(eid, "reopen"), headers=token_for("dispatch1"), json={"note": "同一处复发"})
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["status"] == "dispatched" and again["cycle"] == 2 and again["rework_count"] == 1
    assert again["closed_at"] is None and again["assignee"] == closed["assignee"]
    assert again["promised_due_at"] != closed["promised_due_at"], "a new promise"
    assert datetime.fromisoformat(again["dispatched_at"]) == clock.now
    reopen = client.post(url(eid, "reopen"), headers=token_for("dispatch1"), json={"note": "x"})
    assert reopen.status_code == 409
    # the closure stays in the audit log
    assert len(_audit(db, eid, "review")) == 1 and len(_audit(db, eid, "reopen")) == 1
    rework = _indicator(client, token_for, reported, "rework_rate")
    assert (rework["numerator"], rework["denominator"]) == (1, 1), "counted as 返工"
    assert "重开" in rework["formula_zh"]
    # the new cycle's fix needs a photo taken after the reopening
    holder = token_for(username_of(db, int(again["assignee"]["id"])))
    client.post(url(eid, "acknowledge"), headers=holder)
    r = client.post(url(eid, "resolve"), headers=holder)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["photos"]
    day = datetime.fromisoformat(closed["created_at"]).date()
    report = verify(db, Scope(day, day))
    assert report.ok, "\n".join(report.lines())
    # and a promise moved by SQL after all this is still caught
    db.execute(
        text("UPDATE event SET promised_due_at = promised_due_at + interval '1 day' WHERE id = :e"),
        {"e": eid},
    )
    report = verify(db, Scope(day, day))
    replay = next(c for c in report.checks if c.name == "replay")
    assert [d.what for d in replay.discrepancies] == [
        "event row's promised_due_at differs from its audit log"
    ]


def _recount(db: Session, day: str, group: str) -> dict[str, dict[str, Any]]:
    """The process per group recomputed in Python from the raw audit rows of the events
    reported on ``day``."""
    key = {"grid": "g.code", "community": "cm.code", "subdistrict": "s.code", "category": "c.code"}[
        group
    ]
    rows = db.execute(
        text(f"""
        SELECT {key}, e.id, e.dispatched_at IS NOT NULL, a.action
          FROM event e JOIN grid g ON g.id = e.grid_id JOIN community cm ON cm.id = e.community_id
          JOIN subdistrict s ON s.id = g.subdistrict_id
          JOIN category c ON c.id = e.category_id JOIN event_audit a ON a.event_id = e.id
         WHERE (e.created_at AT TIME ZONE :tz)::date = CAST(:day AS date)
        """),
        {"day": day, "tz": get_settings().tz.key},
    ).all()
    out: dict[str, dict[str, Any]] = {}
    cases: dict[str, dict[str, set[int]]] = {}
    for code, event_id, was_dispatched, action in rows:
        mine = out.setdefault(code, {"actions": {}, "dispatched": set()})
        if was_dispatched:
            mine["dispatched"].add(event_id)
        mine["actions"][action] = mine["actions"].get(action, 0) + 1
        cases.setdefault(code, {}).setdefault(action, set()).add(event_id)
    for code, mine in out.items():
        mine["dispatched"] = len(mine["dispatched"])
        mine["cases"] = {
            name: len(cases[code].get(action, set()))
            for name, action in (
                ("extended", "approve_extension"), ("parked", "approve_parking"),
                ("returned", "return"), ("reopened", "reopen"),
            )
        }  # fmt: skip
    return out


def test_the_process_statistics_equal_a_recount_of_the_audit_rows(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    from tests.kit.events import GRID_02

    day = _today(clock)
    head = token_for("g01h")
    # grid 01: one extension approved, one refused then approved; one parked and unparked
    first = dispatched(db, clock)
    second = dispatched(db, clock, reporter="g01m2")
    for event in (first, second):
        holder = token_for(username_of(db, event.assignee_id or 0))
        due = datetime.fromisoformat(
            client.get(f"/api/v1/events/{event.id}", headers=holder).json()["due_at"]
        )
        body = {"note": "等物业", "deadline": _local(due + timedelta(hours=3))}
        assert client.post(
            url(event.id or 0, "request_extension"), headers=holder, json=body
        ).is_success
        if event is second:
            refuse = client.post(
                url(event.id or 0, "refuse_extension"), headers=head, json={"note": "不行"}
            )
            assert refuse.is_success
            assert client.post(
                url(event.id or 0, "request_extension"), headers=holder, json=body
            ).is_success
        assert client.post(url(event.id or 0, "approve_extension"), headers=head).is_success
    holder = token_for(username_of(db, first.assignee_id or 0))
    assert client.post(
        url(first.id or 0, "request_parking"), headers=holder, json={"note": "预算"}
    ).is_success
    assert client.post(url(first.id or 0, "approve_parking"), headers=head).is_success
    assert client.post(url(first.id or 0, "unpark"), headers=head).is_success
    # grid 01: a return; grid 02: a closed case reopened
    third = dispatched(db, clock)
    holder = token_for(username_of(db, third.assignee_id or 0))
    assert client.post(
        url(third.id or 0, "return"), headers=holder, json={"note": "非本网格"}
    ).is_success
    reopened = _close_in(client, db, clock, token_for, GRID_02)
    r = client.post(url(reopened, "reopen"), headers=token_for("dispatch1"), json={"note": "复发"})
    assert r.is_success, r.text

    for group in ("grid", "community", "subdistrict", "category"):
        r = client.get(
            "/api/v1/stats/process",
            params={"since": day, "until": day, "group_by": group},
            headers=token_for("evaluator"),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body["definitions"]) == {"extension_rate", "parking_rate", "return_rate",
                                            "reopen_rate", "department",
                                            "parked_minutes"}  # fmt: skip
        expected = _recount(db, day, group)
        assert {row["code"] for row in body["rows"]} == set(expected), group
        for row in body["rows"]:
            mine = expected[row["code"]]
            assert row["dispatched_cases"] == mine["dispatched"], (group, row)
            assert row["cases"] == mine["cases"], (group, row)
            for action, n in row["actions"].items():
                assert n == mine["actions"].get(action, 0), (group, action, row)
            assert row["rates"]["extension_rate"] == round(
                mine["cases"]["extended"] / mine["dispatched"], 6
            )
    grids = {
        row["code"]: row
        for row in client.get(
            "/api/v1/stats/process", params={"since": day, "until": day},
            headers=token_for("evaluator"),
        ).json()["rows"]
    }  # fmt: skip
    g01 = grids[GRID_01]
    assert g01["actions"]["approve_extension"] == 2 and g01["actions"]["refuse_extension"] == 1
    assert g01["cases"] == {"extended": 2, "parked": 1, "returned": 1, "reopened": 0}
    assert grids[GRID_02]["cases"]["reopened"] == 1
    # the indicators are the same counts over the whole map
    r = client.get(
        "/api/v1/stats/indicators", params={"since": day, "until": day},
        headers=token_for("evaluator"),
    )  # fmt: skip
    served = {i["code"]: i for i in r.json()["indicators"]}
    for rate, case in (("extension_rate", "extended"), ("parking_rate", "parked"),
                       ("return_rate", "returned"), ("reopen_rate", "reopened")):  # fmt: skip
        assert served[rate]["numerator"] == sum(g["cases"][case] for g in grids.values())
        assert served[rate]["denominator"] == sum(g["dispatched_cases"] for g in grids.values())
        assert served[rate]["formula_zh"]
    _verify_ok(db, clock)


def _close_in(client: TestClient, db: Session, clock: Clock, token_for: Headers, grid: str) -> int:
    event = dispatched(db, clock, reporter="g02m1", grid=grid)
    eid = event.id or 0
    holder = token_for(username_of(db, event.assignee_id or 0))
    add_resolve_photo(db, eid, event.assignee_id or 0, clock)
    assert client.post(url(eid, "acknowledge"), headers=holder).status_code == 200
    assert client.post(url(eid, "resolve"), headers=holder).status_code == 200
    r = client.post(url(eid, "review"), headers=token_for("g02h"), json={"approved": True})
    assert r.json()["status"] == "closed", r.text
    return eid
