"""All SQL of the command centre's board and of the change stream's replay.

An open event's SLA state is ``domain.lifecycle.sla_state`` (ok / warning / breached for its
running clocks: verification while pending verification, dispatch while registered, ack and
resolve while dispatched or acknowledged, review while resolved; ``ok`` while suspended,
parked or merged), compiled by ``dispatch.sla``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, text
from sqlmodel import Session, col

from dispatch import sla
from dispatch.calendars.service import calendars
from dispatch.categories.models import Category
from dispatch.events.models import Event, EventAudit
from dispatch.events.reads import queued_sql
from dispatch.store import change_message, event_snapshot, to_state
from dispatch.supervision import service as supervision
from domain.jurisdiction import Principal
from domain.lifecycle import SlaState, Status
from domain.lifecycle.model import TERMINAL_STATUSES
from domain.roles import LEVEL_NAMES
from grids.models import Community, Grid
from staff.jurisdiction import within_sql

_event = cast(Table, Event.__table__)  # type: ignore[attr-defined]
_grid = cast(Table, Grid.__table__)  # type: ignore[attr-defined]
_community = cast(Table, Community.__table__)  # type: ignore[attr-defined]


def _open(principal: Principal) -> Any:
    """Open events in the principal's jurisdiction, with their SLA state at ``:now``."""
    e = _event
    return (
        select(
            e.c.id,
            e.c.level,
            e.c.status,
            e.c.grid_id,
            e.c.community_id,
            e.c.clock_fallback,
            e.c.request_kind,
            e.c.parked_until,
            sla.sla_state(e, bindparam("now")).label("sla"),
            queued_sql(e).label("queued"),
        )
        .where(
            e.c.status.not_in([s.value for s in TERMINAL_STATUSES]),
            within_sql(
                principal, grid=e.c.grid_id, community=e.c.community_id, department=e.c.department
            ),
        )
        .cte("open")
    )


#: The stage each open status is in, whose clock its SLA state is of (paused statuses: none).
#: 结案 has no status of its own: the review's approval is the close (``review``).
_STAGE_OF: dict[Status, str] = {
    Status.PENDING_VERIFICATION: "verify",
    Status.REGISTERED: "dispatch",
    Status.DISPATCHED: "handling",
    Status.ACKNOWLEDGED: "handling",
    Status.RESOLVED: "review",
}


@dataclass
class Tally:
    ok: int = 0
    warning: int = 0
    breached: int = 0
    queued: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.ok + self.warning + self.breached

    def add(self, sla: str, status: str, n: int) -> None:
        setattr(self, sla, getattr(self, sla) + n)
        self.by_status[status] = self.by_status.get(status, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "ok": self.ok,
            "warning": self.warning,
            "breached": self.breached,
            "queued": self.queued,
            "by_status": dict(sorted(self.by_status.items())),
        }


def board(session: Session, *, principal: Principal, now: datetime) -> dict[str, Any]:
    """Open events in the principal's jurisdiction by level and SLA state (and how many of each
    level wait in its queue: the command centre's shared queue is level 2's), and per grid and
    community (every grid and community listed, zeros included, so the board's layout never
    jumps)."""
    levels = {level: Tally() for level in LEVEL_NAMES}
    stages = {stage: dict.fromkeys(SlaState, 0) for stage in _STAGE_OF.values()}
    o = _open(principal)
    for level, status, state, queued, n in session.execute(
        select(o.c.level, o.c.status, o.c.sla, o.c.queued, func.count()).group_by(
            o.c.level, o.c.status, o.c.sla, o.c.queued
        ),
        {"now": now},
    ).all():
        levels[int(level)].add(str(state), str(status), int(n))
        stage = _STAGE_OF.get(Status(status))
        if stage is not None:
            stages[stage][SlaState(state)] += int(n)
        if queued:
            levels[int(level)].queued += int(n)
    warning = func.count(o.c.id).filter(o.c.sla == SlaState.WARNING.value)
    breached = func.count(o.c.id).filter(o.c.sla == SlaState.BREACHED.value)
    g, c = _grid, _community
    grids = session.execute(
        select(g.c.code, g.c.name, c.c.name, func.count(o.c.id), warning, breached)
        .select_from(g.join(c, c.c.id == g.c.community_id).outerjoin(o, o.c.grid_id == g.c.id))
        .group_by(g.c.code, g.c.name, c.c.name)
        .order_by(g.c.code),
        {"now": now},
    ).all()
    communities = session.execute(
        select(c.c.code, c.c.name, func.count(o.c.id), warning, breached)
        .select_from(c.outerjoin(o, o.c.community_id == c.c.id))
        .group_by(c.c.code, c.c.name)
        .order_by(c.c.code),
        {"now": now},
    ).all()
    in_use = session.execute(
        text(
            "SELECT calendar FROM category WHERE active UNION SELECT value FROM category,"
            " jsonb_each_text(level_calendars) WHERE active"
        )
    ).scalars()
    known = calendars(session, in_use)
    next_year = {code: c.local_day(now).year + 1 for code, c in known.items()}
    unready = sorted(code for code, c in known.items() if not c.knows(next_year[code]))
    fallback = session.execute(
        select(func.count()).select_from(o).where(o.c.clock_fallback), {"now": now}
    ).scalar_one()
    requests, parked, review_due = session.execute(
        select(
            func.count().filter(o.c.request_kind.is_not(None)),
            func.count().filter(o.c.status == Status.PARKED.value),
            func.count().filter(o.c.parked_until <= bindparam("now")),
        ).select_from(o),
        {"now": now},
    ).one()
    total = Tally()
    for tally in levels.values():
        for status, n in tally.by_status.items():
            total.by_status[status] = total.by_status.get(status, 0) + n
        total.ok += tally.ok
        total.warning += tally.warning
        total.breached += tally.breached
        total.queued += tally.queued
    return {
        "at": now,
        "open": total.as_dict(),
        "stages": {
            stage: {sla_state.value: n for sla_state, n in tally.items()}
            for stage, tally in stages.items()
        },
        "clock_fallback": int(fallback),
        "supervisions_open": supervision.open_count(session, principal=principal),
        "requests_pending": int(requests),
        "parked": int(parked),
        "parked_review_due": int(review_due),
        "calendars_without_next_year": unready,
        "levels": [
            {"level": level, "name": LEVEL_NAMES[level], **levels[level].as_dict()}
            for level in LEVEL_NAMES
        ],
        "grids": [
            {
                "code": code,
                "name": name,
                "community": community,
                "open": int(n),
                "warning": int(w),
                "breached": int(b),
            }
            for code, name, community, n, w, b in grids
        ],  # fmt: skip
        "communities": [
            {"code": code, "name": name, "open": int(n), "warning": int(w), "breached": int(b)}
            for code, name, n, w, b in communities
        ],
    }


def changes_after(session: Session, *, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Audit rows with an id above ``after_id``, as change-stream messages, oldest first. The
    change is the row's; the event's snapshot (holder, deadlines) is the event's as it is now,
    since the log keeps changes, not whole states (grid, community and category never move)."""
    rows = session.execute(
        select(EventAudit, Event, col(Category.code), col(Grid.code))
        .join(Event, col(Event.id) == col(EventAudit.event_id))
        .join(Category, col(Category.id) == col(Event.category_id))
        .join(Grid, col(Grid.id) == col(Event.grid_id))
        .where(col(EventAudit.id) > after_id)
        .order_by(col(EventAudit.id))
        .limit(limit)
    ).all()
    return [
        change_message(audit, event_snapshot(to_state(event, category_code=cat, grid_code=grid)))
        for audit, event, cat, grid in rows
    ]
