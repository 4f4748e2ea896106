"""Working calendars over HTTP and the CLI on the real database: listing and loading calendars
(validated, merged by year), categories choosing one (refused when it does not know the
current year), deadlines and SLA states on working time through a holiday, and the alarm when
a deadline reaches a year no calendar was loaded for; per-level calendars (configured, checked,
crossed by an escalation) and the staff report path's dispatch clock on working time."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session
from typer.testing import CliRunner

from dispatch.events.models import Event
from dispatch.lifecycle import system
from dispatch.metrics import CALENDAR_FALLBACKS
from domain.lifecycle import TimerKind
from kernel.uow import UnitOfWork
from service.cli import app as cli
from tests.conftest import Clock
from tests.kit.dispatch import ensure_category, outbox_topics, report
from tests.kit.events import GRID_01, interior_point, report_body

Headers = Callable[[str], dict[str, str]]
SH = ZoneInfo("Asia/Shanghai")
NEXT_YEAR = {
    "code": "cn",
    "hours": [["08:30", "12:00"], ["13:30", "17:30"]],
    "years": [2027],
    "holidays": ["2027-01-01"],
    "workdays": [],
}


def _local(text_: str) -> datetime:
    return datetime.strptime(text_, "%Y-%m-%d %H:%M").replace(tzinfo=SH).astimezone(UTC)


def test_calendars_are_listed_with_their_years(client: TestClient, token_for: Headers) -> None:
    r = client.get("/api/v1/calendars", headers=token_for("g01m1"))
    assert r.status_code == 200, r.text
    found = {c["code"]: c for c in r.json()}
    assert found["24x7"]["continuous"] is True
    assert {2024, 2025, 2026} <= set(found["cn"]["years"])
    one = client.get("/api/v1/calendars/cn", headers=token_for("g01m1")).json()
    assert "2025-01-26" in one["workdays"] and "2025-10-08" in one["holidays"]
    missing = client.get("/api/v1/calendars/nope", headers=token_for("g01m1"))
    assert missing.status_code == 404


def test_loading_a_year_validates_and_keeps_the_years_before(
    client: TestClient, token_for: Headers, clock: Clock
) -> None:
    admin = token_for("admin")
    bad = {**NEXT_YEAR, "holidays": ["2027-13-01", "2026-10-01"], "hours": [["12:00", "08:00"]]}
    r = client.put("/api/v1/calendars", json=bad, headers=admin)
    assert r.status_code == 422, r.text
    locs = [d["loc"] for d in r.json()["detail"]]
    assert ["body", "holidays", 0] in locs and ["body", "holidays", 1] in locs
    assert ["body", "hours", 0] in locs
    assert (
        client.put("/api/v1/calendars", json=NEXT_YEAR, headers=token_for("g01m1")).status_code
        == 403
    )
    before = client.get("/api/v1/calendars/cn", headers=admin).json()
    assert 2027 not in before["years"]

    r = client.put("/api/v1/calendars", json=NEXT_YEAR, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["created"] is False and 2027 in r.json()["years"] and 2025 in r.json()["years"]
    again = client.put("/api/v1/calendars", json=NEXT_YEAR, headers=admin)
    assert again.json()["revision"] == r.json()["revision"]  # the same file again: no change
    after = client.get("/api/v1/calendars/cn", headers=admin).json()
    assert "2025-10-08" in after["holidays"] and "2027-01-01" in after["holidays"]


def test_a_category_cannot_choose_a_calendar_without_the_current_year(
    client: TestClient, token_for: Headers, clock: Clock
) -> None:
    admin = token_for("admin")
    clock.now = _local("2026-06-01 10:00")
    ok = client.patch("/api/v1/categories/exposed_garbage", json={"calendar": "cn"}, headers=admin)
    assert ok.status_code == 200, ok.text
    assert ok.json()["calendar"] == "cn"
    clock.now = _local("2027-03-01 10:00")
    r = client.patch("/api/v1/categories/exposed_garbage", json={"calendar": "cn"}, headers=admin)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "calendar"]
    assert "2027" in r.json()["detail"][0]["msg"]
    unknown = client.patch(
        "/api/v1/categories/exposed_garbage", json={"calendar": "mars"}, headers=admin
    )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "calendar"]
    listing = client.get("/api/v1/calendars", headers=admin).json()
    assert "exposed_garbage" in next(c for c in listing if c["code"] == "cn")["categories"]


def _working_category(db: Session) -> None:
    category = ensure_category(db, "cal_work", ack_seconds=3600, resolve_seconds=450 * 60)
    db.execute(text("UPDATE category SET calendar = 'cn' WHERE code = 'cal_work'"))
    db.refresh(category)


def _dispatched(db: Session, now: datetime) -> Event:
    return _dispatched_as(db, now, "cal_work")


def _dispatched_as(db: Session, now: datetime, category: str) -> Event:
    event_id = report(db, "g01m1", now=now, category=category)
    assert system.auto_dispatch(UnitOfWork(db), event_id, now) is not None
    event = db.get(Event, event_id)
    assert event is not None
    db.refresh(event)
    return event


def test_deadlines_and_sla_states_run_on_working_time_through_a_holiday(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    """Dispatched at 17:30 on the eve of 国庆 2025 (summer hours, to 18:00): an hour to
    acknowledge is 30 minutes that evening and 30 on 9 October; the board, the list and the
    event all say so."""
    _working_category(db)
    clock.now = _local("2025-09-30 17:30")
    event = _dispatched(db, clock.now)
    assert event.ack_due_at == _local("2025-10-09 09:00")
    assert event.ack_warn50_at == _local("2025-09-30 18:00")
    assert event.due_at == _local("2025-10-09 17:00")
    assert not event.clock_fallback
    me = token_for("dispatch1")

    def state_at(local: str) -> tuple[str, list[int]]:
        clock.now = _local(local)
        shown = client.get(f"/api/v1/events/{event.id}", headers=me).json()
        late = client.get("/api/v1/events?overdue=true&limit=200", headers=me).json()["items"]
        board = client.get("/api/v1/dispatch/board", headers=me).json()
        assert board["open"]["total"] >= 1
        tally = (
            "breached"
            if board["open"]["breached"]
            else ("warning" if board["open"]["warning"] else "ok")
        )
        assert shown["ack_warn_at"] is not None
        return tally, [e["id"] for e in late]

    assert state_at("2025-09-30 17:40")[0] == "ok"
    assert state_at("2025-10-05 12:00") == ("warning", [])  # a week of holiday: not overdue
    assert state_at("2025-10-09 08:59") == ("warning", [])
    tally, late = state_at("2025-10-09 09:00")
    assert tally == "breached" and event.id in late


def test_a_deadline_in_a_year_not_loaded_raises_the_alarm(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    _working_category(db)
    before = CALENDAR_FALLBACKS.labels("cal_work")._value.get()
    clock.now = _local("2026-12-31 17:00")
    event = _dispatched(db, clock.now)
    assert event.clock_fallback
    # 30 minutes of 2026, then 2027 (not loaded) counted whole: earlier, never later
    assert event.ack_due_at == _local("2027-01-01 00:30")
    board = client.get("/api/v1/dispatch/board", headers=token_for("dispatch1")).json()
    assert board["clock_fallback"] >= 1
    assert board["calendars_without_next_year"] == ["cn"]  # cal_work uses it; 2027 unknown
    shown = client.get(f"/api/v1/events/{event.id}", headers=token_for("dispatch1")).json()
    assert shown["clock_fallback"] is True
    assert CALENDAR_FALLBACKS.labels("cal_work")._value.get() == before + 1


def test_cli_loads_a_calendar_file_or_lists_every_problem(
    committed: Engine, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"code": "cli-test", "hours": [["8:30", "12:00"]]}), "utf-8")
    result = CliRunner().invoke(cli, ["calendar", "load", str(bad)])
    assert result.exit_code == 2, result.output
    assert "hours.0:" in result.output and "years:" in result.output
    good = tmp_path / "good.json"
    good.write_text(json.dumps({**NEXT_YEAR, "code": "cli-test"}), "utf-8")
    try:
        result = CliRunner().invoke(cli, ["calendar", "load", str(good)])
        assert result.exit_code == 0, result.output
        assert "calendar cli-test created: years 2027–2027" in result.output
        listed = CliRunner().invoke(cli, ["calendar", "list"])
        assert "cli-test" in listed.output and "24x7" in listed.output
    finally:
        with committed.begin() as conn:
            conn.execute(text("DELETE FROM work_calendar WHERE code = 'cli-test'"))


def test_a_level_names_its_own_calendar_checked_when_configured(
    client: TestClient, token_for: Headers, clock: Clock
) -> None:
    admin = token_for("admin")
    url = "/api/v1/categories/exposed_garbage"
    clock.now = _local("2026-06-01 10:00")
    ok = client.patch(url, json={"level_calendars": {"0": "24x7", "3": "cn"}}, headers=admin)
    assert ok.status_code == 200, ok.text
    assert ok.json()["level_calendars"] == {"0": "24x7", "3": "cn"}
    assert ok.json()["calendar"] == "24x7"
    listing = client.get("/api/v1/calendars", headers=admin).json()
    assert "exposed_garbage" in next(c for c in listing if c["code"] == "cn")["categories"]

    def promise() -> str:  # what Open311 promises the public for the category
        services = client.get("/open311/v2/services.json").json()
        return str(
            next(s["description"] for s in services if s["service_code"] == "exposed_garbage")
        )

    assert "工作时间" not in promise()  # the grid verifies and handles on 24x7: wall-clock
    assert (
        client.patch(url, json={"level_calendars": {"0": "cn"}}, headers=admin).status_code == 200
    )
    assert promise().count("工作时间") == 2  # both limits now count working time

    for body, loc, words in (
        ({"3": "mars"}, ["body", "level_calendars", "3"], "no calendar 'mars'"),
        ({"7": "cn"}, ["body", "level_calendars", "7", "[key]"], ""),
    ):
        r = client.patch(url, json={"level_calendars": body}, headers=admin)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == loc and words in r.json()["detail"][0]["msg"]
    clock.now = _local("2027-03-01 10:00")  # cn does not know 2027: no guessing
    r = client.patch(url, json={"level_calendars": {"3": "cn"}}, headers=admin)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "level_calendars", "3"]
    assert "2027" in r.json()["detail"][0]["msg"]
    cleared = client.patch(url, json={"level_calendars": {}}, headers=admin)
    assert cleared.status_code == 200 and cleared.json()["level_calendars"] == {}


def test_an_escalation_from_the_grids_24x7_replans_on_the_communitys_working_calendar(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    """The grid works round the clock, the community on the Chinese calendar: an
    acknowledgement missed at 17:20 on a Friday escalates to the community, whose 30 minutes
    are 10 that evening and 20 on Monday morning."""
    ensure_category(db, "cal_mixed", ack_seconds=30 * 60, resolve_seconds=120 * 60)
    admin = token_for("admin")
    clock.now = _local("2026-03-06 10:00")
    r = client.patch(
        "/api/v1/categories/cal_mixed", json={"level_calendars": {"1": "cn"}}, headers=admin
    )
    assert r.status_code == 200, r.text
    clock.now = _local("2026-03-06 16:50")
    event = _dispatched_as(db, clock.now, "cal_mixed")
    assert event.level == 0
    assert event.ack_due_at == _local("2026-03-06 17:20")  # 24×7 at the grid
    clock.now = event.ack_due_at
    up = system.handle_timer(
        UnitOfWork(db), event.id or 0, TimerKind.ACK_BREACH, event.deadline_version, clock.now
    )
    assert up is not None and up.state.level == 1
    shown = client.get(f"/api/v1/events/{event.id}", headers=token_for("dispatch1")).json()
    assert shown["level"] == 1
    assert datetime.fromisoformat(shown["ack_due_at"]) == _local("2026-03-09 08:50")
    # 120 working minutes: 10 on Friday, then 08:30–10:20 on Monday
    assert datetime.fromisoformat(shown["due_at"]) == _local("2026-03-09 10:20")
    assert shown["clock_fallback"] is False


def test_a_staff_report_starts_the_dispatch_clock_on_a_working_calendar(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    """Through HTTP (the one-statement report path, on the API's in-memory categories and
    calendars): 5 working minutes from Friday 17:28 end on Monday at 08:33."""
    admin = token_for("admin")
    clock.now = _local("2026-03-06 17:00")
    r = client.patch("/api/v1/categories/exposed_garbage", json={"calendar": "cn"}, headers=admin)
    assert r.status_code == 200 and r.json()["dispatch_minutes"] == 5.0
    clock.now = _local("2026-03-06 17:28")
    body = report_body(interior_point(db, GRID_01))
    made = client.post("/api/v1/events", json=body, headers=token_for("g01m1"))
    assert made.status_code == 201, made.text
    eid = made.json()["id"]
    assert datetime.fromisoformat(made.json()["dispatch_due_at"]) == _local("2026-03-09 08:33")
    stored = db.get(Event, eid)
    assert stored is not None
    assert stored.dispatch_warn50_at == _local("2026-03-09 08:30") + timedelta(seconds=30)
    assert stored.dispatch_due_at == _local("2026-03-09 08:33")
    assert outbox_topics(db, eid).count("timer.set") == 3
