-- stats_counts v3 (migration 0019): v2 plus handled_on_promise (type v2): resolved or closed with
-- the fix (resolved_at) at or before the original promise (promised_due_at); handled_on_time stays
-- the fix against the current stage/level clock (due_at, restarted by rework, re-dispatch and
-- escalation). v2 (migration 0013): v1, except that a report linked to another event as its
-- duplicate (duplicate_of set) counts nothing: the event it joined counts once, for both.
CREATE OR REPLACE FUNCTION stats_counts(e event, resolve_minutes double precision) RETURNS stats_counts
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE WHEN e.duplicate_of IS NOT NULL
    THEN ROW(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)::stats_counts
    ELSE ROW(
    1,
    (e.status = 'voided')::int,
    (e.status NOT IN ('pending_verification', 'voided'))::int,
    (e.source <> 'staff' AND e.status NOT IN ('pending_verification', 'voided'))::int,
    (e.dispatched_at IS NOT NULL)::int,
    e.redispatch_count,
    e.escalation_count,
    (e.status IN ('resolved', 'closed'))::int,
    coalesce(e.status IN ('resolved', 'closed') AND e.resolved_at <= e.due_at, false)::int,
    e.rework_count,
    (e.status = 'closed')::int,
    stats_on_time(e, resolve_minutes)::int,
    (e.status = 'closed' AND e.level = 0)::int,
    (e.status = 'closed' AND e.level <= 2)::int,
    coalesce(e.status IN ('resolved', 'closed') AND e.resolved_at <= e.promised_due_at, false)::int
  )::stats_counts END
$$;
