-- stats_first_dispatch_at v1 (migration 0005): the time of an event's first dispatch
-- from registered (its audit row), NULL without one.
CREATE OR REPLACE FUNCTION stats_first_dispatch_at(event_id bigint) RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
  SELECT a.at FROM event_audit a
   WHERE a.event_id = $1 AND a.action = 'dispatch' AND a.from_status = 'registered'
   ORDER BY a.version LIMIT 1
$$;
