"""回退 (issue 13): the holder sends a case that is not theirs back to the command centre's
shared queue with a reason; the statistics count it per category as a mis-dispatch."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from kernel.settings import get_settings
from tests.conftest import Clock
from tests.e2e.test_dispatch_actions import url
from tests.kit.dispatch import dispatched, username_of

Headers = Callable[[str], dict[str, str]]


def test_the_holder_returns_a_case_to_the_command_centre_with_a_reason(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    eid = event.id or 0
    holder = token_for(username_of(db, event.assignee_id or 0))
    before = client.get(f"/api/v1/events/{eid}", headers=holder).json()
    clock.advance(minutes=4)
    no_reason = client.post(url(eid, "return"), headers=holder, json={})
    assert no_reason.status_code == 422, no_reason.text
    other = "g01m2" if username_of(db, event.assignee_id or 0) == "g01m1" else "g01m1"
    assert (
        client.post(url(eid, "return"), headers=token_for(other), json={"note": "x"}).status_code
        == 403
    )
    r = client.post(url(eid, "return"), headers=holder, json={"note": "占道经营归城管"})
    assert r.status_code == 200, r.text
    back = r.json()
    assert back["level"] == 2 and back["status"] == "dispatched" and back["assignee"] is None
    assert back["promised_due_at"] == before["promised_due_at"], "the promise does not move"
    assert back["due_at"] != before["due_at"], "the stage clock restarts at the command centre"
    row = db.execute(
        text("SELECT note FROM event_audit WHERE event_id = :e AND action = 'return'"), {"e": eid}
    ).scalar_one()
    assert row == "占道经营归城管"
    # the command centre cannot return to itself: it dispatches again (409 from the table)
    again = client.post(url(eid, "return"), headers=token_for("dispatch1"), json={"note": "x"})
    assert again.status_code == 409, again.text
    assert again.json()["detail"][0]["type"] == "illegal_transition"

    day = clock.now.astimezone(get_settings().tz).date().isoformat()
    counts = client.get(
        "/api/v1/stats/returns",
        params={"since": day, "until": day},
        headers=token_for("evaluator"),
    ).json()
    assert [(c["category"], c["returns"], c["dispatches"]) for c in counts] == [
        (before["category"], 1, 1)
    ], counts
    assert counts[0]["rate"] == 1.0
