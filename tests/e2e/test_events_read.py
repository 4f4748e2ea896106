"""Reading events: my tasks (scopes, filters, cursor pages), one event, its history, visibility."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from tests.conftest import Clock
from tests.kit.events import GRID_01, GRID_02, MakeEvent, interior_point, report_body

Headers = Callable[[str], dict[str, str]]
URL = "/api/v1/events"


def _ids(client: TestClient, headers: dict[str, str], query: str = "") -> list[int]:
    r = client.get(f"{URL}?limit=200{query}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return [e["id"] for e in r.json()["items"]]


def _report(client: TestClient, db: Session, token_for: Headers, user: str, grid: str) -> int:
    r = client.post(URL, json=report_body(interior_point(db, grid)), headers=token_for(user))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _other_community_member(db: Session) -> tuple[str, str]:
    """A grid outside 新景楼社区 (comm01's) and one of its members' usernames."""
    code, username = db.execute(
        text(
            "SELECT g.code, u.username FROM grid g JOIN community c ON c.id = g.community_id"
            " JOIN staff s ON s.grid_id = g.id AND s.role = 'member'"
            " JOIN users u ON u.staff_id = s.id"
            " WHERE c.name <> '新景楼社区' ORDER BY g.code, u.username LIMIT 1"
        )
    ).one()
    return str(code), str(username)


def test_each_role_sees_what_it_may(client: TestClient, db: Session, token_for: Headers) -> None:
    other, other_member = _other_community_member(db)
    e1 = _report(client, db, token_for, "g01m1", GRID_01)
    e2 = _report(client, db, token_for, "g02m1", GRID_02)
    e3 = _report(client, db, token_for, other_member, other)

    assert _ids(client, token_for("g01m1")) == [e1]
    assert _ids(client, token_for("g01h")) == [e1]
    assert _ids(client, token_for("g02m2")) == [e2]
    assert sorted(_ids(client, token_for("comm01"))) == [e1, e2]
    assert e1 not in _ids(client, token_for("comm02")) + _ids(client, token_for("comm03"))
    for user in ("dispatch1", "evaluator", "admin"):
        assert sorted(_ids(client, token_for(user))) == [e1, e2, e3]
    assert _ids(client, token_for("dept_cg")) == []

    for user, status in (("g01m1", 200), ("evaluator", 200), ("g02m1", 404), ("comm02", 404)):
        assert client.get(f"{URL}/{e1}", headers=token_for(user)).status_code == status
        assert client.get(f"{URL}/{e1}/history", headers=token_for(user)).status_code == status
    missing = client.get(f"{URL}/999999", headers=token_for("dispatch1"))
    assert missing.status_code == 404 and missing.json()["detail"][0]["loc"] == ["path", "event_id"]
    assert client.get(f"{URL}/0", headers=token_for("dispatch1")).status_code == 422
    assert client.get(f"{URL}/{2**70}", headers=token_for("dispatch1")).status_code == 422


def test_a_reporter_keeps_seeing_a_report_made_in_another_grid(
    client: TestClient, db: Session, token_for: Headers
) -> None:
    e = _report(client, db, token_for, "g01m1", GRID_02)
    assert _ids(client, token_for("g01m1"), "&scope=reported") == [e]
    assert client.get(f"{URL}/{e}", headers=token_for("g01m1")).status_code == 200
    assert _ids(client, token_for("g01m1"), "&scope=grid") == []
    assert _ids(client, token_for("g02m1"), "&scope=grid") == [e]


def test_scopes_mine_reported_grid(
    client: TestClient, db: Session, token_for: Headers, make_event: MakeEvent
) -> None:
    assigned = make_event("g01m1", assignee="g01m2")
    reported = _report(client, db, token_for, "g01m1", GRID_01)
    assert _ids(client, token_for("g01m2"), "&scope=mine") == [assigned]
    assert _ids(client, token_for("g01m1"), "&scope=mine") == []
    assert sorted(_ids(client, token_for("g01m1"), "&scope=reported")) == [assigned, reported]
    assert _ids(client, token_for("g01m2"), "&scope=reported") == []
    assert sorted(_ids(client, token_for("g01h"), "&scope=grid")) == [assigned, reported]
    assert sorted(_ids(client, token_for("comm01"), "&scope=grid")) == [assigned, reported]
    bad = client.get(f"{URL}?scope=grid", headers=token_for("dispatch1"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "scope"]
    nonsense = client.get(f"{URL}?scope=everything", headers=token_for("g01m1"))
    assert nonsense.status_code == 422 and "scope" in nonsense.json()["detail"][0]["loc"]


def test_filters_status_overdue_grid_category_time(
    client: TestClient, db: Session, token_for: Headers, make_event: MakeEvent, clock: Clock
) -> None:
    start = clock.now
    dispatched = make_event("g01m1", assignee="g01m2")  # due in 60 min (fixture category)
    clock.advance(minutes=10)
    registered = _report(client, db, token_for, "g01m1", GRID_01)
    clock.advance(minutes=10)
    in_02 = _report(client, db, token_for, "g02m1", GRID_02)
    d = token_for("dispatch1")

    assert _ids(client, d, "&status=dispatched") == [dispatched]
    assert sorted(_ids(client, d, "&status=dispatched&status=registered")) == sorted(
        [dispatched, registered, in_02]
    )
    assert client.get(f"{URL}?status=lost", headers=d).status_code == 422
    assert _ids(client, d, f"&grid={GRID_02}") == [in_02]
    assert client.get(f"{URL}?grid=01", headers=d).status_code == 422
    assert _ids(client, d, "&category=zz_fixture") == [dispatched]
    assert _ids(client, d, "&category=no_such") == []

    def at(t: datetime) -> str:
        return t.isoformat().replace("+", "%2B")

    assert _ids(client, d, f"&since={at(start + timedelta(minutes=5))}") == [registered, in_02]
    window = f"&since={at(start + timedelta(minutes=5))}&until={at(start + timedelta(minutes=15))}"
    assert _ids(client, d, window) == [registered]
    inverted = client.get(f"{URL}?since={at(start)}&until={at(start - timedelta(1))}", headers=d)
    assert inverted.status_code == 422
    naive = client.get(f"{URL}?since=2024-01-01T00:00:00", headers=d)
    assert naive.status_code == 422 and "since" in naive.json()["detail"][0]["loc"]

    # nobody dispatched ``registered`` (reported at +10): its dispatch stage (5 min) is late
    assert _ids(client, d, "&overdue=true") == [registered]
    clock.now = start + timedelta(minutes=61)
    assert _ids(client, d, "&overdue=true") == [registered, in_02, dispatched]
    assert dispatched not in _ids(client, d, "&overdue=false")
    assert _ids(client, token_for("g01m2"), "&scope=mine&overdue=true") == [dispatched]


def test_cursor_pages_follow_due_time_then_id(
    client: TestClient, db: Session, token_for: Headers, make_event: MakeEvent, clock: Clock
) -> None:
    no_deadline = [_report(client, db, token_for, "g01m1", GRID_01) for _ in range(3)]
    with_deadline = []
    for minutes in (30, -20, 10, 10, 0):  # two share a due time: the id breaks the tie
        clock.advance(minutes=minutes)
        with_deadline.append(make_event("g01m1", assignee="g01m2"))
    rows = db.execute(
        text("SELECT id FROM event WHERE id = ANY(:ids) ORDER BY due_at NULLS LAST, id"),
        {"ids": no_deadline + with_deadline},
    ).scalars()
    expected = list(rows)
    assert expected[-3:] == sorted(no_deadline)

    headers = token_for("g01h")
    seen: list[int] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = f"{URL}?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page: dict[str, Any] = client.get(query, headers=headers).json()
        seen += [e["id"] for e in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and pages == 3
    dues = [e["due_at"] for e in client.get(f"{URL}?limit=200", headers=headers).json()["items"]]
    assert dues[-3:] == [None, None, None] and all(d.endswith("+08:00") for d in dues[:-3])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=garbage!!", "cursor"),
        ("cursor=WyJ4IiwgMV0", "cursor"),  # ["x", 1]
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("overdue=perhaps", "overdue"),
    ],
)
def test_bad_list_query_is_422_naming_it(
    client: TestClient, token_for: Headers, query: str, field: str
) -> None:
    r = client.get(f"{URL}?{query}", headers=token_for("g01m1"))
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"][0]["loc"]


def test_history_names_actors_and_transitions(
    client: TestClient, token_for: Headers, make_event: MakeEvent, clock: Clock
) -> None:
    event_id = make_event("g01m1", assignee="g01m2")
    r = client.get(f"{URL}/{event_id}/history", headers=token_for("evaluator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["event_id"] == event_id
    steps = [
        (h["action"], h["from_status"], h["to_status"], h["from_level"], h["to_level"])
        for h in body["items"]
    ]
    assert steps == [
        ("register", None, "registered", None, 0),
        ("dispatch", "registered", "dispatched", 0, 0),
    ]
    first = body["items"][0]
    assert first["actor"]["name"] and first["actor"]["id"].isdigit()
    assert datetime.fromisoformat(first["at"]) == clock.now and first["at"].endswith("+08:00")
    one = client.get(f"{URL}/{event_id}", headers=token_for("g01m2")).json()
    assert one["status"] == "dispatched" and one["assignee"]["name"]
    assert one["due_at"] is not None and one["version"] == 2


def test_default_orders_newest_for_my_history_and_latest_for_overdue(
    client: TestClient, db: Session, token_for: Headers, make_event: MakeEvent, clock: Clock
) -> None:
    start = clock.now
    # Q: dispatched 20 min earlier and acknowledged — its only running clock ends at +40 min
    clock.now = start - timedelta(minutes=20)
    q = make_event("g01m1", assignee="g01m2")
    clock.now = start
    ack = client.post(f"{URL}/{q}/acknowledge", headers=token_for("g01m2"), json={})
    assert ack.status_code == 200, ack.text
    # P: dispatched now, never acknowledged — its acknowledgement clock breaches at +30 min
    p = make_event("g01m1", assignee="g01m2")
    clock.advance(minutes=1)
    fresh = _report(client, db, token_for, "g01m1", GRID_01)  # registered: on its dispatch clock

    # what I reported / was given: a history, newest first (by deadline it was q, p, fresh)
    assert _ids(client, token_for("g01m1"), "&scope=reported") == [fresh, p, q]
    assert _ids(client, token_for("g01m2"), "&scope=mine") == [p, q]
    # with a status filter it is a work queue again: soonest deadline first
    queue = "&scope=mine&status=dispatched&status=acknowledged"
    assert _ids(client, token_for("g01m2"), queue) == [q, p]
    assert _ids(client, token_for("g01m2"), "&scope=mine&order=due") == [q, p]

    # all late at +61 min: p has been late since +30, q since +40 (by due_at it was q, p), and
    # fresh, left undispatched, since +6 (its dispatch stage: 5 min)
    clock.now = start + timedelta(minutes=61)
    d = token_for("dispatch1")
    assert _ids(client, d, "&overdue=true") == [fresh, p, q]
    # pages follow the order, and a cursor of one order is refused by another
    first = client.get(f"{URL}?overdue=true&limit=2", headers=d).json()
    assert [e["id"] for e in first["items"]] == [fresh, p]
    rest = client.get(f"{URL}?overdue=true&limit=2&cursor={first['next_cursor']}", headers=d)
    assert [e["id"] for e in rest.json()["items"]] == [q]
    wrong = client.get(f"{URL}?order=newest&cursor={first['next_cursor']}", headers=d)
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "cursor"]
    newest = client.get(f"{URL}?order=newest&limit=2", headers=d).json()
    assert [e["id"] for e in newest["items"]] == [fresh, p]
    tail = client.get(f"{URL}?order=newest&limit=2&cursor={newest['next_cursor']}", headers=d)
    assert [e["id"] for e in tail.json()["items"]] == [q]
