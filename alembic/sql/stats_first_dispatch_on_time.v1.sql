-- stats_first_dispatch_on_time v1 (migration 0004).
-- Dispatched on time: the first dispatch (from registered) came within the limit of the
-- report. Its time is on the first dispatch audit row (the event row keeps only the latest).
CREATE OR REPLACE FUNCTION stats_first_dispatch_on_time(e event) RETURNS integer
LANGUAGE sql STABLE
AS $$
  SELECT CASE WHEN e.dispatched_at IS NULL THEN 0 ELSE coalesce(
    (SELECT (a.at - e.created_at <= stats_dispatch_limit())::int FROM event_audit a
      WHERE a.event_id = e.id AND a.action = 'dispatch' AND a.from_status = 'registered'
      ORDER BY a.version LIMIT 1),
    CASE WHEN e.redispatch_count = 0 AND e.rework_count = 0 AND e.escalation_count = 0
         THEN (e.dispatched_at - e.created_at <= stats_dispatch_limit())::int ELSE 0 END) END
$$;
