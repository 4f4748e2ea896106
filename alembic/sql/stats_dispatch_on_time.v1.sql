-- stats_dispatch_on_time v1 (migration 0005): the definition
-- stats_first_dispatch_on_time (v2) delegates to.
-- Dispatched on time: the first dispatch (from registered, its audit row's time) came within
-- the limit of the report. Without that row (an event row written alone), the event's own
-- dispatched_at when nothing has moved it since.
CREATE OR REPLACE FUNCTION stats_dispatch_on_time(e event, first_dispatch timestamptz, lim interval)
RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
    WHEN e.dispatched_at IS NULL THEN 0
    WHEN first_dispatch IS NOT NULL THEN (first_dispatch - e.created_at <= lim)::int
    WHEN e.redispatch_count = 0 AND e.rework_count = 0 AND e.escalation_count = 0
      THEN (e.dispatched_at - e.created_at <= lim)::int
    ELSE 0 END
$$;
