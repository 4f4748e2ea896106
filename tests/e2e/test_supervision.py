"""督办 (issue 13): a breach raises a supervision notice for the holder's superior in the same
transaction; the addressee acknowledges it once; the board and the statistics count them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from dispatch.lifecycle import system
from domain.lifecycle import TimerKind
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from tests.conftest import Clock
from tests.kit.dispatch import dispatched, staff_id, username_of

Headers = Callable[[str], dict[str, str]]
URL = "/api/v1/supervisions"


def test_a_breach_is_put_before_the_holders_superior_who_acknowledges_it_once(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    first = clock.now.astimezone(get_settings().tz).date().isoformat()  # the report's day
    event = dispatched(db, clock)
    eid = event.id or 0
    member = username_of(db, event.assignee_id or 0)
    assert client.get(URL, headers=token_for("g01h")).json() == []
    clock.advance(minutes=10)
    breach = system.handle_timer(UnitOfWork(db), eid, TimerKind.ACK_BREACH, 1, clock.now)
    assert breach is not None
    # written with the breach: addressed to the grid head, the member's superior
    (notice,) = client.get(URL, headers=token_for("g01h")).json()
    assert notice["event_id"] == eid and notice["clock"] == "ack"
    assert notice["holder_id"] == event.assignee_id and notice["holder_role"] == "member"
    assert notice["addressee_role"] == "head" and notice["version"] == breach.state.version
    assert notice["acknowledged_at"] is None
    # not the member's, nor another grid's head's
    assert client.get(URL, headers=token_for(member)).json() == []
    assert client.get(URL, headers=token_for("g02h")).json() == []
    board = client.get("/api/v1/dispatch/board", headers=token_for("dispatch1")).json()
    assert board["supervisions_open"] == 1

    ack = f"{URL}/{notice['id']}/acknowledge"
    assert client.post(ack, headers=token_for(member)).status_code == 403
    assert client.post(ack, headers=token_for("g02h")).status_code == 403
    assert client.post(ack, headers=token_for("evaluator")).status_code == 403
    clock.advance(minutes=1)
    r = client.post(ack, headers=token_for("g01h"))
    assert r.status_code == 200, r.text
    assert r.json()["acknowledged_by"] == staff_id(db, "g01h")
    again = client.post(ack, headers=token_for("g01h"))
    assert again.status_code == 409
    assert again.json()["detail"][0]["type"] == "already_acknowledged"
    assert client.get(URL, headers=token_for("g01h")).json() == []
    board = client.get("/api/v1/dispatch/board", headers=token_for("dispatch1")).json()
    assert board["supervisions_open"] == 0

    # from the report's day to the acknowledgement's: one day unless started near midnight
    day = clock.now.astimezone(get_settings().tz).date().isoformat()
    counts = client.get(
        "/api/v1/stats/supervision",
        params={"since": first, "until": day},
        headers=token_for("evaluator"),
    ).json()
    by_grid = [c for c in counts if c["group"] == "grid"]
    assert by_grid == [{"group": "grid", "key": event.grid_id, "raised": 1, "acknowledged": 1}], (
        counts
    )


def test_a_notice_whose_breach_lost_its_race_is_not_written(db: Session, clock: Clock) -> None:
    """A breach that does nothing (the event moved on) raises nothing: notices exist only
    beside the breaches recorded."""
    event = dispatched(db, clock)
    eid = event.id or 0
    clock.advance(minutes=3)  # before the deadline: the timer came early
    assert system.handle_timer(UnitOfWork(db), eid, TimerKind.ACK_BREACH, 1, clock.now) is None
    batch = system.handle_timers(UnitOfWork(db), [(eid, TimerKind.ACK_BREACH, 1)], clock.now)
    assert batch.applied == []
    count = db.execute(text("SELECT count(*) FROM supervision")).scalar_one()
    assert count == 0
    clock.advance(minutes=10)
    batch = system.handle_timers(UnitOfWork(db), [(eid, TimerKind.ACK_BREACH, 1)], clock.now)
    assert len(batch.applied) == 1
    rows = db.execute(text("SELECT addressee_role, clock FROM supervision")).all()
    assert [tuple(r) for r in rows] == [("head", "ack")]
