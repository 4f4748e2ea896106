"""``/stats/process`` per department (the department that held the case when it acted) and the
parked time (挂账时长) of every grouping, with controlled times (issue 13,
docs/decisions/0025)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import Clock
from tests.e2e.test_dispatch_actions import url
from tests.e2e.test_dispatch_requests import _local, _today, _verify_ok
from tests.kit.dispatch import dispatched
from tests.kit.events import GRID_01

Headers = Callable[[str], dict[str, str]]


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _to_department(client: TestClient, db: Session, clock: Clock, token_for: Headers) -> int:
    """A big gas matter sent on by the command centre to 应急 (dept_yj holds it)."""
    event = dispatched(db, clock, category="gas_safety")
    eid = event.id or 0
    _ok(client.post(url(eid, "claim"), headers=token_for("dispatch1")))
    body = _ok(client.post(url(eid, "dispatch"), headers=token_for("dispatch1"), json={"level": 3}))
    assert body["level"] == 3 and body["department"] == "应急", body
    return eid


def _park(client: TestClient, token_for: Headers, eid: int, holder: str, approver: str) -> None:
    _ok(client.post(url(eid, "request_parking"), headers=token_for(holder), json={"note": "预算"}))
    _ok(client.post(url(eid, "approve_parking"), headers=token_for(approver)))


def _process(client: TestClient, token_for: Headers, day: str, group: str) -> dict[str, Any]:
    body = _ok(
        client.get(
            "/api/v1/stats/process",
            params={"since": day, "until": day, "group_by": group},
            headers=token_for("evaluator"),
        )
    )
    assert body["group_by"] == group
    assert "部门" in body["definitions"]["department"]
    assert "挂账时长" in body["definitions"]["parked_minutes"]
    return {row["code"]: row for row in body["rows"]}


def test_actions_count_for_the_department_holding_the_case_and_parked_time_is_reported(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    day = _today(clock)
    first = _to_department(client, db, clock, token_for)
    second = _to_department(client, db, clock, token_for)
    # first: 应急 parks it for 2 h (approved by the command centre), asks for more time, and
    # sends it back as not theirs
    _park(client, token_for, first, "dept_yj", "dispatch2")
    clock.advance(hours=2)
    _ok(client.post(url(first, "unpark"), headers=token_for("dispatch2")))
    due = _ok(client.get(f"/api/v1/events/{first}", headers=token_for("dept_yj")))["due_at"]
    asked = {"note": "等配件", "deadline": _local(datetime.fromisoformat(due) + timedelta(hours=5))}
    _ok(client.post(url(first, "request_extension"), headers=token_for("dept_yj"), json=asked))
    _ok(client.post(url(first, "approve_extension"), headers=token_for("dispatch2")))
    _ok(client.post(url(first, "return"), headers=token_for("dept_yj"), json={"note": "非应急"}))
    # back at the command centre: dispatch1 takes it and parks it (approved by dispatch2):
    # held by no department, and not lifted yet
    _ok(client.post(url(first, "claim"), headers=token_for("dispatch1")))
    clock.advance(minutes=30)
    _park(client, token_for, first, "dispatch1", "dispatch2")
    # second: parked by 应急 30 min after the first's second parking, not lifted yet
    clock.advance(minutes=30)
    _park(client, token_for, second, "dept_yj", "dispatch1")
    # an event nobody sent to a department
    grid_only = dispatched(db, clock)
    clock.advance(minutes=60)  # now: the first's open period 90 min, the second's 60 min

    yj = _process(client, token_for, day, "department")["应急"]
    assert yj["dispatched_cases"] == 2
    assert yj["actions"] == {
        "request_extension": 1, "approve_extension": 1, "refuse_extension": 0,
        "request_parking": 2, "approve_parking": 2, "refuse_parking": 0, "unpark": 1,
        "return": 1, "reopen": 0,
    }  # fmt: skip
    assert yj["cases"] == {"extended": 1, "parked": 2, "returned": 1, "reopened": 0}
    assert yj["rates"]["parking_rate"] == 1.0 and yj["rates"]["return_rate"] == 0.5
    # its parking periods: 120 min (lifted) and 60 min (still parked, counted to now)
    assert yj["parking"] == {
        "cases": 2, "periods": 2, "open": 1, "minutes_total": 180.0, "minutes_p50": 90.0,
        "minutes_p90": 114.0,
    }  # fmt: skip
    departments = _process(client, token_for, day, "department")
    assert set(departments) == {"应急"}, "the command centre's parking is no department's"

    # per grid: every period of the grid's events, whoever held them
    grid = _process(client, token_for, day, "grid")[GRID_01]
    assert grid["dispatched_cases"] == 3 and grid["cases"]["parked"] == 2
    assert grid["actions"]["approve_parking"] == 3
    assert grid["parking"] == {
        "cases": 2, "periods": 3, "open": 2, "minutes_total": 270.0, "minutes_p50": 90.0,
        "minutes_p90": 114.0,
    }  # fmt: skip
    category = _process(client, token_for, day, "category")
    assert category["gas_safety"]["parking"]["periods"] == 3
    assert category["exposed_garbage"]["parking"] == {
        "cases": 0, "periods": 0, "open": 0, "minutes_total": 0.0, "minutes_p50": None,
        "minutes_p90": None,
    }  # fmt: skip
    assert grid_only.id is not None
    # lifting the open ones fixes their minutes; later reads do not grow them
    _ok(client.post(url(first, "unpark"), headers=token_for("dispatch2")))
    _ok(client.post(url(second, "unpark"), headers=token_for("dispatch1")))
    clock.advance(hours=5)
    grid = _process(client, token_for, day, "grid")[GRID_01]
    assert grid["parking"]["open"] == 0 and grid["parking"]["minutes_total"] == 270.0
    shown = _ok(client.get(f"/api/v1/events/{first}", headers=token_for("dispatch1")))
    assert shown["parked_s"] == (120 + 90) * 60, "the same periods as the event's parked_s"
    _verify_ok(db, clock)
