"""All SQL of the command centre's board and of the change stream's replay.

SLA state of an open event, for its current deadline period: ``breached`` when the running
clock has passed its acknowledgement (while dispatched) or resolution deadline, ``warning`` from
half of either allowance on, ``ok`` otherwise (also for registered, resolved and suspended
events, whose clock does not run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from dispatch.events.models import EventAudit
from dispatch.store import change_message

SLA_STATES = ("ok", "warning", "breached")
LEVEL_NAMES = {0: "grid", 1: "community", 2: "command_centre", 3: "department"}

_OPEN = """
WITH open AS (
  SELECT e.id, e.level, e.status, e.grid_id, e.community_id,
    CASE
      WHEN e.status IN ('dispatched', 'acknowledged') AND (
        (e.status = 'dispatched' AND e.ack_due_at <= :now) OR e.due_at <= :now)
        THEN 'breached'
      WHEN e.status IN ('dispatched', 'acknowledged') AND (
        (e.status = 'dispatched' AND e.ack_due_at - e.ack_allowance / 2 <= :now)
        OR e.due_at - e.resolve_allowance / 2 <= :now)
        THEN 'warning'
      ELSE 'ok'
    END AS sla
  FROM event e
  WHERE e.status NOT IN ('closed', 'voided')
)
"""


@dataclass
class Tally:
    ok: int = 0
    warning: int = 0
    breached: int = 0
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
            "by_status": dict(sorted(self.by_status.items())),
        }


def board(session: Session, *, now: datetime) -> dict[str, Any]:
    """Open events by level and SLA state, and per grid and community (every grid and
    community listed, zeros included, so the board's layout never jumps)."""
    levels = {level: Tally() for level in LEVEL_NAMES}
    for level, status, sla, n in session.execute(
        text(_OPEN + "SELECT level, status, sla, count(*) FROM open GROUP BY level, status, sla"),
        {"now": now},
    ).all():
        levels[int(level)].add(str(sla), str(status), int(n))
    grids = session.execute(
        text(
            _OPEN + "SELECT g.code, g.name, c.name,"
            " count(o.id), count(o.id) FILTER (WHERE o.sla = 'warning'),"
            " count(o.id) FILTER (WHERE o.sla = 'breached')"
            " FROM grid g JOIN community c ON c.id = g.community_id"
            " LEFT JOIN open o ON o.grid_id = g.id"
            " GROUP BY g.code, g.name, c.name ORDER BY g.code"
        ),
        {"now": now},
    ).all()
    communities = session.execute(
        text(
            _OPEN + "SELECT c.code, c.name,"
            " count(o.id), count(o.id) FILTER (WHERE o.sla = 'warning'),"
            " count(o.id) FILTER (WHERE o.sla = 'breached')"
            " FROM community c LEFT JOIN open o ON o.community_id = c.id"
            " GROUP BY c.code, c.name ORDER BY c.code"
        ),
        {"now": now},
    ).all()
    total = Tally()
    for tally in levels.values():
        for status, n in tally.by_status.items():
            total.by_status[status] = total.by_status.get(status, 0) + n
        total.ok += tally.ok
        total.warning += tally.warning
        total.breached += tally.breached
    return {
        "at": now,
        "open": total.as_dict(),
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
    """Audit rows with an id above ``after_id``, as change-stream messages, oldest first."""
    rows = session.exec(
        select(EventAudit)
        .where(col(EventAudit.id) > after_id)
        .order_by(col(EventAudit.id))
        .limit(limit)
    )
    return [change_message(row) for row in rows]
