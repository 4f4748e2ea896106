"""The intake counters of a window (reports by their report time, ``received_at``): the SQL of
``domain.evaluation.intake``, per report (drill-downs) and summed per grid from the raw rows
(``wangge audit verify``). The indicators and the scorecard read the counters the statistics keep
per day (``stats_daily``, sealed; migration 0024) and add the verifications that became due
because their deadline passed (``overdue_verifications``): that depends on the moment asked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.intake import INTAKE_COUNTERS, VALID_OUTCOMES
from evaluation.scope import Scope, bounds

_PUBLIC = "(e.source <> 'staff' AND p.event_id IS NOT NULL)"
_VALID = ", ".join(f"'{o.value}'" for o in sorted(VALID_OUTCOMES))

#: Per report (``e`` the event, ``p`` its public_report row or NULLs), 0 or 1.
INTAKE_SQL: Mapping[str, str] = {
    "all_reports": "1",
    "linked_reports": "(e.duplicate_of IS NOT NULL)::int",
    "public_reports": f"{_PUBLIC}::int",
    "verifications_due": (
        f"({_PUBLIC} AND (p.verified_at IS NOT NULL OR p.verify_due_at <= :now))::int"
    ),
    "verified_on_time": f"coalesce({_PUBLIC} AND p.verified_at <= p.verify_due_at, false)::int",
    "public_decided": f"({_PUBLIC} AND p.outcome IS NOT NULL)::int",
    "public_valid": f"coalesce({_PUBLIC} AND p.outcome IN ({_VALID}), false)::int",
}
assert tuple(INTAKE_SQL) == INTAKE_COUNTERS

#: The intake counters the statistics keep per received day (``stats_intake_counts``): those of
#: ``INTAKE_SQL`` that do not depend on the moment asked, and the verifications done.
#: In the order of the type ``stats_intake_counts`` (and of ``evaluation.models``' columns).
KEPT_INTAKE_SQL: Mapping[str, str] = {
    ("verifications_done" if c == "verifications_due" else c): (
        f"({_PUBLIC} AND p.verified_at IS NOT NULL)::int" if c == "verifications_due" else sql
    )
    for c, sql in INTAKE_SQL.items()
}

#: The reports of a window, as ``e`` and ``p``: the tables, and the condition.
FROM_SQL = "FROM event e LEFT JOIN public_report p ON p.event_id = e.id"
WHERE_SQL = (
    "e.received_at >= :start AND e.received_at < :end"
    " AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))"
)


def window_params(scope: Scope, now: datetime) -> dict[str, Any]:
    start, end = bounds(scope)
    grids = None if scope.grid_ids is None else list(scope.grid_ids)
    return {"start": start, "end": end, "grids": grids, "now": now}


def intake_sums(
    session: Session, scope: Scope, *, per_grid: bool, now: datetime
) -> dict[int, dict[str, float]]:
    """The counters of the window per grid (or, key 0, over all grids in scope)."""
    key = "e.grid_id" if per_grid else "0"
    sums = ", ".join(f"sum({INTAKE_SQL[c]})" for c in INTAKE_COUNTERS)
    rows = session.execute(
        text(f"SELECT {key}, {sums} {FROM_SQL} WHERE {WHERE_SQL} GROUP BY 1"),
        window_params(scope, now),
    ).all()
    return {
        int(row[0]): {c: float(v or 0) for c, v in zip(INTAKE_COUNTERS, row[1:], strict=True)}
        for row in rows
    }


_OVERDUE_SQL = f"""
SELECT {{key}}, count(*)
  FROM public_report p JOIN event e ON e.id = p.event_id
 WHERE p.verified_at IS NULL AND p.verify_due_at <= :now AND e.source <> 'staff'
   AND {WHERE_SQL}
 GROUP BY 1
"""


def overdue_verifications(
    session: Session, scope: Scope, *, per_grid: bool, now: datetime
) -> dict[int, float]:
    """The public and hotline reports received in the window still not verified at ``now`` and
    past their deadline, per grid (or, key 0, over all grids in scope): with the verifications
    done, those are ``verifications_due``. Few rows, from the index of pending reports."""
    key = "e.grid_id" if per_grid else "0"
    rows = session.execute(text(_OVERDUE_SQL.format(key=key)), window_params(scope, now)).all()
    return {int(r[0]): float(r[1]) for r in rows}
