"""The counters national practice needs that the event row does not keep: when an event was
first registered (立案), whether it was voided after that, its reviews (核查) and how soon each
followed the fix (``domain.evaluation.indicators.AUDIT_COUNTERS``), as SQL over the audit log of
the events reported in a window. The statistics keep them per report day like the other
counters (``stats_daily``, sealed in ``stats_counter_block``; the trigger ``stats_audit`` and
``stats_audit_counts``, migration 0024, docs/decisions/0018); this is the same definition over
the raw rows, which ``wangge audit verify`` and the drill-downs read."""

from __future__ import annotations

from collections.abc import Mapping

from domain.evaluation.indicators import AUDIT_COUNTERS

_REVIEW_LIMIT = "(SELECT value FROM stats_setting WHERE key = 'review_limit_minutes')"
_REGISTER_LIMIT = "(SELECT value FROM stats_setting WHERE key = 'register_limit_minutes')"

#: A join giving ``au`` (registered, registered_at, reviews, reviews_on_time) for the event
#: ``e``, computed set-based for every event reported in the window (``:start``, ``:end``): one
#: pass over their audit rows, not one lookup per event (a year: a few seconds, not a minute).
AUDIT_FACTS_JOIN = f"""
  LEFT JOIN (
    SELECT r.event_id,
           bool_or(r.to_status = 'registered') AS registered,
           min(r.at) FILTER (WHERE r.to_status = 'registered') AS registered_at,
           count(*) FILTER (WHERE r.action = 'review') AS reviews,
           count(*) FILTER (WHERE r.action = 'review'
                              AND r.at - r.fixed_at <= {_REVIEW_LIMIT} * interval '1 minute')
             AS reviews_on_time
      FROM (SELECT a.event_id, a.action, a.to_status, a.at,
                   lag(a.at) OVER (PARTITION BY a.event_id ORDER BY a.version) AS fixed_at
              FROM event w JOIN event_audit a ON a.event_id = w.id
             WHERE w.created_at >= :start AND w.created_at < :end
               AND (a.action IN ('resolve', 'review') OR a.to_status = 'registered')) r
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
}
assert tuple(AUDIT_COUNTER_SQL) == AUDIT_COUNTERS
