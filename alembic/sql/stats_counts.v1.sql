-- stats_counts v1 (migration 0005): the definition stats_counts_of (v2) delegates to; the
-- category's minutes as an argument, so the planner can inline it. Not the type of the
-- same name (stats_counts.type.v1.sql), which it returns.
-- What one event contributes to the counters of its report day, from its current row.
CREATE OR REPLACE FUNCTION stats_counts(e event, resolve_minutes double precision) RETURNS stats_counts
LANGUAGE sql IMMUTABLE
AS $$
  SELECT ROW(
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
    (e.status = 'closed' AND e.level <= 2)::int
  )::stats_counts
$$;
