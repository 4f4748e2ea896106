"""``overdue`` in the lists means what the board calls breached: a running clock — the
acknowledgement clock too, not only the resolution clock — is at or past its deadline
(``domain.lifecycle.sla_state``). Before the rule was written once, an event past its
acknowledgement deadline was breached on the board but not ``overdue=true`` in the list."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import Clock
from tests.kit.events import MakeEvent

Headers = Callable[[str], dict[str, str]]
URL = "/api/v1/events"


def _ids(client: TestClient, headers: dict[str, str], **params: str) -> set[int]:
    r = client.get(URL, params={"limit": "200", **params}, headers=headers)
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


def _breached_in_grid(client: TestClient, headers: dict[str, str], grid: str) -> int:
    r = client.get("/api/v1/dispatch/board", headers=headers)
    assert r.status_code == 200, r.text
    return int(next(g["breached"] for g in r.json()["grids"] if g["code"] == grid))


def test_past_the_acknowledgement_deadline_is_overdue_as_on_the_board(
    client: TestClient, make_event: MakeEvent, clock: Clock, token_for: Headers
) -> None:
    event_id = make_event("g01m1", assignee="g01m2")  # ack in 30 min, resolve in 60 min
    dispatcher = token_for("dispatch1")
    event = client.get(f"{URL}/{event_id}", headers=dispatcher).json()
    assert event["status"] == "dispatched"
    grid = event["grid_code"]
    before = _breached_in_grid(client, dispatcher, grid)

    clock.advance(minutes=29)
    assert event_id not in _ids(client, dispatcher, overdue="true")
    assert event_id in _ids(client, dispatcher, overdue="false")

    clock.advance(minutes=2)  # past the acknowledgement deadline, before the resolution one
    assert _breached_in_grid(client, dispatcher, grid) == before + 1
    assert event_id in _ids(client, dispatcher, overdue="true")
    assert event_id not in _ids(client, dispatcher, overdue="false")
    # the assignee's own list says the same
    assert event_id in _ids(client, token_for("g01m2"), scope="mine", overdue="true")


def test_acknowledged_events_run_on_the_resolution_clock_only(
    client: TestClient, make_event: MakeEvent, clock: Clock, token_for: Headers
) -> None:
    event_id = make_event("g01m1", assignee="g01m2")
    member = token_for("g01m2")
    clock.advance(minutes=10)
    r = client.post(f"{URL}/{event_id}/acknowledge", headers=member)
    assert r.status_code == 200, r.text
    dispatcher = token_for("dispatch1")
    clock.advance(minutes=30)  # the acknowledgement deadline has passed, but it was met
    assert event_id not in _ids(client, dispatcher, overdue="true")
    clock.advance(minutes=20)  # 60 minutes: the resolution deadline, inclusive
    assert event_id in _ids(client, dispatcher, overdue="true")
