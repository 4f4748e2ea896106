"""The counters national practice needs that the event row does not keep: when an event was
first registered (立案), whether it was voided after that, its reviews (核查) and whether each
came by the review deadline of the fix it decides, and the process counters (延期, 挂账, 回退,
重开: ``domain.evaluation.indicators.AUDIT_COUNTERS``), as SQL over the audit log of the events
reported in a window. The statistics keep them per report day like the other counters
(``stats_daily``, sealed in ``stats_counter_block``; the triggers ``stats_audit`` and
``stats_event``, ``stats_audit_counts``, migrations 0024 and 0028, docs/decisions/0018 and
0022); this is the same definition over the raw rows, which ``wangge audit verify``, the
drill-downs and ``/stats/process`` read."""

from __future__ import annotations

from collections.abc import Mapping

from domain.evaluation.indicators import AUDIT_COUNTERS

#: The process actions counted per event (``au.n_<action>``): 延期, 挂账, 回退, 重开.
PROCESS_ACTIONS: tuple[str, ...] = (
    "request_extension", "approve_extension", "refuse_extension", "request_parking",
    "approve_parking", "refuse_parking", "unpark", "return", "reopen",
)  # fmt: skip
_PROCESS_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE r.action = '{a}') AS n_{a}" for a in PROCESS_ACTIONS
)
_PROCESS_NAMES = ", ".join(f"'{a}'" for a in PROCESS_ACTIONS)
#: The rows the 立案/核查 counters read (a review's fix is the row before it among them).
_COUNTED_ROW = "(a.action IN ('resolve', 'review') OR a.to_status = 'registered')"
_REVIEW_LIMIT = "(SELECT value FROM stats_setting WHERE key = 'review_limit_minutes')"
_REGISTER_LIMIT = "(SELECT value FROM stats_setting WHERE key = 'register_limit_minutes')"

#: A join giving ``au`` (registered, registered_at, reviews, reviews_on_time, and the counts of
#: the process actions: extension requests, approvals and refusals, parking requests, approvals
#: and refusals, unparkings, returns, reopenings) for the event ``e``, computed set-based for
#: every event reported in the window (``:start``, ``:end``): one pass over their audit rows,
#: not one lookup per event (a year: a few seconds, not a minute). A review's fix is the row
#: before it among fixes, reviews and registrations (always its fix: nothing happens to a
#: resolved event but its review); the review is on time by the review deadline logged with
#: that row (``review_due_at``, migration 0027), or, when the row has none (logged before
#: 0027), within ``review_limit_minutes`` of it.
AUDIT_FACTS_JOIN = f"""
  LEFT JOIN (
    SELECT r.event_id,
           bool_or(r.to_status = 'registered') AS registered,
           min(r.at) FILTER (WHERE r.to_status = 'registered') AS registered_at,
           count(*) FILTER (WHERE r.action = 'review') AS reviews,
           count(*) FILTER (WHERE r.action = 'review'
                              AND coalesce(r.at <= r.review_due,
                                           r.at - r.fixed_at
                                           <= {_REVIEW_LIMIT} * interval '1 minute'))
             AS reviews_on_time,
           {_PROCESS_COUNTS}
      FROM (SELECT a.event_id, a.action, a.to_status, a.at,
                   lag(a.at) OVER ord AS fixed_at,
                   (lag(a.data ->> 'review_due_at') OVER ord)::timestamptz AS review_due
              FROM event w JOIN event_audit a ON a.event_id = w.id
             WHERE w.created_at >= :start AND w.created_at < :end
               AND (a.action IN ('resolve', 'review', {_PROCESS_NAMES})
                    OR a.to_status = 'registered')
            WINDOW ord AS (PARTITION BY a.event_id, {_COUNTED_ROW} ORDER BY a.version)) r
     GROUP BY r.event_id
  ) au ON au.event_id = e.id
"""

#: A join giving ``pa`` (``n_<action>``: how many rows of each process action) for the event
#: ``e``, over only the process actions' audit rows of the events reported in the window: read
#: from their own small index (``ix_event_audit_process``, migration 0028), not from the whole
#: audit log of those events.
PROCESS_ACTIONS_JOIN = f"""
  LEFT JOIN (
    SELECT r.event_id, {_PROCESS_COUNTS}
      FROM event w JOIN event_audit r ON r.event_id = w.id
     WHERE w.created_at >= :start AND w.created_at < :end AND r.action IN ({_PROCESS_NAMES})
     GROUP BY r.event_id
  ) pa ON pa.event_id = e.id
"""
#: The process counters of one event, over ``e`` and ``pa`` (or ``au``: ``AUDIT_COUNTER_SQL``).
PROCESS_COUNTER_SQL: Mapping[str, str] = {
    "dispatched_cases": "(e.dispatched_at IS NOT NULL)::int",
    "extended_cases": "(coalesce(pa.n_approve_extension, 0) > 0)::int",
    "parked_cases": "(coalesce(pa.n_approve_parking, 0) > 0)::int",
    "returned_cases": "(coalesce(pa.n_return, 0) > 0)::int",
    "reopened_cases": "(coalesce(pa.n_reopen, 0) > 0)::int",
}

#: Each audit counter of one event, over ``e`` and ``au``.
AUDIT_COUNTER_SQL: Mapping[str, str] = {
    "ever_registered": "coalesce(au.registered, false)::int",
    "registered_on_time": "coalesce(au.registered_at - e.created_at"
    f" <= {_REGISTER_LIMIT} * interval '1 minute', false)::int",
    "voided_after_registration": "(coalesce(au.registered, false) AND e.status = 'voided')::int",
    "reviews": "coalesce(au.reviews, 0)",
    "reviews_on_time": "coalesce(au.reviews_on_time, 0)",
    **{c: sql.replace("pa.", "au.") for c, sql in PROCESS_COUNTER_SQL.items()},
}
assert tuple(AUDIT_COUNTER_SQL) == AUDIT_COUNTERS
