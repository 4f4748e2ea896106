"""The 立案/核实 stage clock over the real database (docs/decisions/0026): a public or hotline
report left unverified warns at 50 %/75 % and breaches at 100 % without escalating; the breach
raises a 督办 notice for the grid head, shows on the board's ``verify`` stage and is found by the
sweep when Redis missed it; the report's 按时核实 deadline is the clock's; a decision before the
deadline cancels the timers; on a working calendar a Friday-evening report is due on Monday."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from dispatch.events.models import Event
from dispatch.lifecycle import reconcile, system
from domain.lifecycle import TimerKind
from kernel.uow import UnitOfWork
from tests.conftest import Clock
from tests.kit.dispatch import ensure_category
from tests.kit.events import GRID_01, interior_point

Headers = Callable[[str], dict[str, str]]
NOTICES = "/api/v1/supervisions"
BOARD = "/api/v1/dispatch/board"
SH = ZoneInfo("Asia/Shanghai")


def _category(db: Session, code: str, *, verify_minutes: float, calendar: str = "24x7") -> None:
    ensure_category(db, code, ack_seconds=600, resolve_seconds=3600)
    db.execute(
        text("UPDATE category SET verify_minutes = :v, calendar = :c WHERE code = :code"),
        {"v": verify_minutes, "c": calendar, "code": code},
    )
    db.commit()


def _hotline(client: TestClient, db: Session, token_for: Headers, category: str) -> int:
    lon, lat = interior_point(db, GRID_01)
    body = {
        "hotline_case": f"12345-{uuid.uuid4().hex[:12]}",
        "category": category,
        "description": "市民来电：东门垃圾",
        "location": {"lon": lon, "lat": lat, "coord": "wgs84"},
    }
    r = client.post("/api/v1/hotline-reports", json=body, headers=token_for("dispatch1"))
    assert r.status_code == 201, r.text
    return int(r.json()["event_id"])


def _event(db: Session, event_id: int) -> Event:
    event = db.get(Event, event_id)
    assert event is not None
    db.refresh(event)
    return event


def _public_due(db: Session, event_id: int) -> datetime:
    due: datetime = db.execute(
        text("SELECT verify_due_at FROM public_report WHERE event_id = :e"), {"e": event_id}
    ).scalar_one()
    return due


def _timer_rows(db: Session, event_id: int, op: str) -> set[str]:
    rows = db.execute(
        text("SELECT payload->>'kind' FROM outbox WHERE event_id = :e AND topic = :t"),
        {"e": event_id, "t": f"timer.{op}"},
    ).scalars()
    return {str(r) for r in rows}


def test_an_unverified_report_warns_breaches_and_raises_a_notice_to_the_grid_head(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    _category(db, "vfy_short", verify_minutes=2)
    board = client.get(BOARD, headers=token_for("dispatch1")).json()
    before = board["stages"]["verify"]
    eid = _hotline(client, db, token_for, "vfy_short")
    event = _event(db, eid)
    assert event.status == "pending_verification"
    assert event.verify_due_at == clock.now + timedelta(minutes=2)  # 24x7: wall minutes
    assert event.verify_warn50_at == clock.now + timedelta(minutes=1)
    assert event.verify_warn75_at == clock.now + timedelta(seconds=90)
    assert _public_due(db, eid) == event.verify_due_at  # one 按时核实 deadline
    assert _timer_rows(db, eid, "set") == {k.value for k in (
        TimerKind.VERIFY_WARN50, TimerKind.VERIFY_WARN75, TimerKind.VERIFY_BREACH)}  # fmt: skip
    head = token_for("g01h")
    shown = client.get(f"/api/v1/events/{eid}", headers=head).json()
    assert datetime.fromisoformat(shown["verify_due_at"]) == event.verify_due_at
    assert datetime.fromisoformat(shown["verify_warn_at"]) == event.verify_warn50_at
    board = client.get(BOARD, headers=token_for("dispatch1")).json()
    assert board["stages"]["verify"]["ok"] == before["ok"] + 1
    (change,) = db.execute(
        text("SELECT payload FROM outbox WHERE event_id = :e AND topic = 'stream'"), {"e": eid}
    ).scalars()  # the change stream's message carries the clock's marks
    assert datetime.fromisoformat(change["verify_due_at"]) == event.verify_due_at
    assert datetime.fromisoformat(change["verify_warn_at"]) == event.verify_warn50_at

    clock.advance(minutes=1)
    warned = system.handle_timer(UnitOfWork(db), eid, TimerKind.VERIFY_WARN50, 0, clock.now)
    assert warned is not None and warned.audit is not None
    assert warned.audit.data["clock"] == "verify" and warned.audit.data["percent"] == 50
    assert [(n.audience, n.level) for n in warned.notifications] == [("head", 0)]
    board = client.get(BOARD, headers=token_for("dispatch1")).json()
    assert board["stages"]["verify"]["warning"] == before["warning"] + 1
    clock.advance(seconds=30)
    assert system.handle_timer(UnitOfWork(db), eid, TimerKind.VERIFY_WARN75, 0, clock.now)

    early = system.handle_timer(UnitOfWork(db), eid, TimerKind.VERIFY_BREACH, 0, clock.now)
    assert early is None  # 90 s of 120
    clock.advance(seconds=30)
    # Redis missed it: the sweep's query finds it; the lists call it overdue
    assert (eid, TimerKind.VERIFY_BREACH, 0) in reconcile.overdue_breaches(
        db, before=clock.now, limit=10_000
    )
    late = client.get("/api/v1/events?overdue=true&limit=200", headers=token_for("dispatch1"))
    assert eid in [e["id"] for e in late.json()["items"]]
    breach = system.handle_timer(UnitOfWork(db), eid, TimerKind.VERIFY_BREACH, 0, clock.now)
    assert breach is not None and breach.audit is not None
    assert breach.state.status == "pending_verification" and breach.state.level == 0
    assert breach.state.escalation_count == 0  # reported, never escalated
    assert breach.audit.data["clock"] == "verify" and breach.audit.data["percent"] == 100
    (notice,) = [n for n in client.get(NOTICES, headers=head).json() if n["event_id"] == eid]
    assert (notice["clock"], notice["holder_id"]) == ("verify", None)
    assert (notice["holder_role"], notice["addressee_role"]) == ("member", "head")
    board = client.get(BOARD, headers=token_for("dispatch1")).json()
    assert board["stages"]["verify"]["breached"] == before["breached"] + 1
    assert board["supervisions_open"] >= 1
    assert (eid, TimerKind.VERIFY_BREACH, 0) not in reconcile.overdue_breaches(
        db, before=clock.now, limit=10_000
    )
    # the grid head (the addressee) acknowledges; a member may not
    url = f"{NOTICES}/{notice['id']}/acknowledge"
    assert client.post(url, headers=token_for("g01m1")).status_code == 403
    assert client.post(url, headers=head).status_code == 200

    # verified late: registered, not 按时核实
    clock.advance(minutes=1)
    r = client.post(
        f"/api/v1/events/{eid}/verification", json={"outcome": "confirmed"}, headers=head
    )
    assert r.status_code == 200, r.text
    verified_at = db.execute(
        text("SELECT verified_at FROM public_report WHERE event_id = :e"), {"e": eid}
    ).scalar_one()
    assert verified_at > _public_due(db, eid)


def test_a_decision_before_the_deadline_cancels_the_verification_timers(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    _category(db, "vfy_short", verify_minutes=2)
    eid = _hotline(client, db, token_for, "vfy_short")
    clock.advance(seconds=50)
    r = client.post(
        f"/api/v1/events/{eid}/verification",
        json={"outcome": "confirmed"},
        headers=token_for("g01m1"),
    )
    assert r.status_code == 200, r.text
    verify_kinds = {"verify_warn50", "verify_warn75", "verify_breach"}
    assert verify_kinds <= _timer_rows(db, eid, "cancel")
    clock.advance(minutes=5)
    for kind in (TimerKind.VERIFY_WARN50, TimerKind.VERIFY_BREACH):
        assert system.handle_timer(UnitOfWork(db), eid, kind, 0, clock.now) is None
    assert (eid, TimerKind.VERIFY_BREACH, 0) not in reconcile.overdue_breaches(
        db, before=clock.now, limit=10_000
    )
    event = _event(db, eid)
    assert event.status in ("registered", "dispatched")
    assert event.verify_due_at == _public_due(db, eid)  # kept for 按时核实


def test_a_friday_evening_report_on_a_working_calendar_is_due_on_monday_morning(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    """Friday 6 March 2026, 17:28 in Shanghai; 8 working minutes on the Chinese calendar: 2
    that evening, 6 on Monday from 08:30."""
    _category(db, "vfy_work", verify_minutes=8, calendar="cn")
    clock.now = datetime(2026, 3, 6, 17, 28, tzinfo=SH).astimezone(clock.now.tzinfo)
    eid = _hotline(client, db, token_for, "vfy_work")
    event = _event(db, eid)
    monday = datetime(2026, 3, 9, 8, 30, tzinfo=SH)
    assert event.verify_warn50_at == monday + timedelta(minutes=2)
    assert event.verify_due_at == monday + timedelta(minutes=6)
    assert _public_due(db, eid) == event.verify_due_at
    assert not event.clock_fallback
    report = client.get(f"/api/v1/events/{eid}/public-report", headers=token_for("g01h")).json()
    assert datetime.fromisoformat(report["verify_due_at"]) == event.verify_due_at


def _migration() -> ModuleType:
    path = Path(__file__).parents[2] / "alembic" / "versions" / "0032_verify_stage_clock.py"
    spec = importlib.util.spec_from_file_location("migration_0032", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_0032_gives_reports_still_pending_their_marks_from_the_promised_deadline(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    """Reports received before the clock existed: those still pending get marks from
    ``public_report.verify_due_at`` (wall minutes from receipt under the old rule: the 50 %/75 %
    marks of that span), decided ones none; the sweep then finds the overdue breach."""
    _category(db, "vfy_short", verify_minutes=2)
    pending = _hotline(client, db, token_for, "vfy_short")
    decided = _hotline(client, db, token_for, "vfy_short")
    r = client.post(
        f"/api/v1/events/{decided}/verification",
        json={"outcome": "confirmed"},
        headers=token_for("g01h"),
    )
    assert r.status_code == 200, r.text
    old = {"a": pending, "b": decided}
    db.execute(
        text("UPDATE event SET verify_warn50_at = NULL, verify_warn75_at = NULL,"
             " verify_due_at = NULL WHERE id IN (:a, :b)"),
        old,
    )  # fmt: skip
    db.execute(
        text("UPDATE public_report SET verify_due_at = verify_due_at + interval '10 minutes'"
             " WHERE event_id IN (:a, :b)"),
        old,
    )  # fmt: skip
    # (an old report: 12 wall minutes to verify)
    db.execute(text(_migration().BACKFILL_SQL))
    db.commit()
    event = _event(db, pending)
    received = event.received_at
    assert event.verify_due_at == _public_due(db, pending) == received + timedelta(minutes=12)
    assert event.verify_warn50_at == received + timedelta(minutes=6)
    assert event.verify_warn75_at == received + timedelta(minutes=9)
    assert _event(db, decided).verify_due_at is None
    clock.advance(minutes=12)
    assert (pending, TimerKind.VERIFY_BREACH, 0) in reconcile.overdue_breaches(
        db, before=clock.now, limit=10_000
    )
