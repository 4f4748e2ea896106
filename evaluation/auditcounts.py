"""The counters national practice needs that the event row does not keep: when an event was
first registered (立案), whether it was voided after that, its reviews (核查) and how soon each
followed the fix (``domain.evaluation.indicators.AUDIT_COUNTERS``), as SQL over the audit log of
the events reported in a window. The statistics keep them per report day like the other
counters (``stats_daily``, sealed in ``stats_counter_block``; the trigger ``stats_audit`` and
``stats_audit_counts``, migration 0024, docs/decisions/0018); this is the same definition over
the raw rows, which ``wangge audit verify`` and the drill-downs read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.indicators import AUDIT_COUNTERS
from evaluation.scope import Scope, bounds

#: The audit counters the statistics keep per report day (``stats_audit_counts``, migration
#: 0024): 立案 and 核查. The others (the process counters of 延期, 挂账, 回退, 重开) are read from
#: the audit log per request (``process_counter_sums``).
KEPT_AUDIT_COUNTERS: tuple[str, ...] = AUDIT_COUNTERS[:5]
PROCESS_COUNTERS: tuple[str, ...] = AUDIT_COUNTERS[5:]
assert KEPT_AUDIT_COUNTERS == (
    "ever_registered", "registered_on_time", "voided_after_registration", "reviews",
    "reviews_on_time",
)  # fmt: skip

#: The process actions counted per event (``au.n_<action>``): 延期, 挂账, 回退, 重开.
PROCESS_ACTIONS: tuple[str, ...] = (
    "request_extension", "approve_extension", "refuse_extension", "request_parking",
    "approve_parking", "refuse_parking", "unpark", "return", "reopen",
)  # fmt: skip
_PROCESS_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE r.action = '{a}') AS n_{a}" for a in PROCESS_ACTIONS
)
_PROCESS_NAMES = ", ".join(f"'{a}'" for a in PROCESS_ACTIONS)
_REVIEW_LIMIT = "(SELECT value FROM stats_setting WHERE key = 'review_limit_minutes')"
_REGISTER_LIMIT = "(SELECT value FROM stats_setting WHERE key = 'register_limit_minutes')"

#: A join giving ``au`` (registered, registered_at, reviews, reviews_on_time, and the counts of
#: the process actions: extension requests, approvals and refusals, parking requests, approvals
#: and refusals, unparkings, returns, reopenings) for the event ``e``, computed set-based for
#: every event reported in the window (``:start``, ``:end``): one pass over their audit rows,
#: not one lookup per event (a year: a few seconds, not a minute). The review's ``fixed_at`` is
#: the row before it among those read: always its fix (nothing happens to a resolved event
#: but its review).
AUDIT_FACTS_JOIN = f"""
  LEFT JOIN (
    SELECT r.event_id,
           bool_or(r.to_status = 'registered') AS registered,
           min(r.at) FILTER (WHERE r.to_status = 'registered') AS registered_at,
           count(*) FILTER (WHERE r.action = 'review') AS reviews,
           count(*) FILTER (WHERE r.action = 'review'
                              AND r.at - r.fixed_at <= {_REVIEW_LIMIT} * interval '1 minute')
             AS reviews_on_time,
           {_PROCESS_COUNTS}
      FROM (SELECT a.event_id, a.action, a.to_status, a.at,
                   lag(a.at) OVER (PARTITION BY a.event_id ORDER BY a.version) AS fixed_at
              FROM event w JOIN event_audit a ON a.event_id = w.id
             WHERE w.created_at >= :start AND w.created_at < :end
               AND (a.action IN ('resolve', 'review', {_PROCESS_NAMES})
                    OR a.to_status = 'registered')) r
     GROUP BY r.event_id
  ) au ON au.event_id = e.id
"""

#: Each audit counter of one event, over ``e`` and ``au``.
AUDIT_COUNTER_SQL: Mapping[str, str] = {
    "ever_registered": "coalesce(au.registered, false)::int",
    "registered_on_time": "coalesce(au.registered_at - e.created_at"
    f" <= {_REGISTER_LIMIT} * interval '1 minute', false)::int",
    "voided_after_registration": "(coalesce(au.registered, false) AND e.status = 'voided')::int",
    "reviews": "coalesce(au.reviews, 0)",
    "reviews_on_time": "coalesce(au.reviews_on_time, 0)",
    "dispatched_cases": "(e.dispatched_at IS NOT NULL)::int",
    "extended_cases": "(coalesce(au.n_approve_extension, 0) > 0)::int",
    "parked_cases": "(coalesce(au.n_approve_parking, 0) > 0)::int",
    "returned_cases": "(coalesce(au.n_return, 0) > 0)::int",
    "reopened_cases": "(coalesce(au.n_reopen, 0) > 0)::int",
}
assert tuple(AUDIT_COUNTER_SQL) == AUDIT_COUNTERS


def process_counter_sums(
    session: Session, scope: Scope, *, per_grid: bool
) -> dict[int, dict[str, float]]:
    """The process counters (``PROCESS_COUNTERS``) of the window per grid (or, key 0, over all
    grids in scope), from the audit log of the window's events."""
    start, end = bounds(scope)
    key = "e.grid_id" if per_grid else "0"
    sums = ", ".join(f"sum({AUDIT_COUNTER_SQL[c]})" for c in PROCESS_COUNTERS)
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "grids": None if scope.grid_ids is None else list(scope.grid_ids),
    }
    # index lookups per event cost what PostgreSQL's default random_page_cost (4, for spinning
    # disks) makes them look: a month of audit rows is then read by a scan of the whole table
    session.execute(text("SET LOCAL random_page_cost = 1.1"))
    rows = session.execute(
        text(f"""
        SELECT {key}, {sums}
          FROM event e {AUDIT_FACTS_JOIN}
         WHERE e.created_at >= :start AND e.created_at < :end
           AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))
         GROUP BY 1
        """),
        params,
    ).all()
    session.execute(text("SET LOCAL random_page_cost = DEFAULT"))
    return {
        int(r[0]): {c: float(v or 0) for c, v in zip(PROCESS_COUNTERS, r[1:], strict=True)}
        for r in rows
    }
