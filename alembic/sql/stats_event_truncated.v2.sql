-- stats_event_truncated v2 and its trigger stats_event_truncate (migration 0028): v1, and the
-- working-time histogram (stats_resolution_working).
-- v1 (migration 0004).
CREATE OR REPLACE FUNCTION stats_event_truncated() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  TRUNCATE stats_daily, stats_resolution, stats_resolution_working, stats_block;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_event_truncate AFTER TRUNCATE ON event
FOR EACH STATEMENT EXECUTE FUNCTION stats_event_truncated();
