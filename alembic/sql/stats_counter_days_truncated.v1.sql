-- stats_counter_days_truncated v1 and its triggers on stats_daily and stats_patrol_walked
-- (migration 0006): emptied counters or patrols empty every counter block.
CREATE OR REPLACE FUNCTION stats_counter_days_truncated() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  TRUNCATE stats_counter_sealed, stats_counter_block;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_daily_truncated AFTER TRUNCATE ON stats_daily
FOR EACH STATEMENT EXECUTE FUNCTION stats_counter_days_truncated();
CREATE OR REPLACE TRIGGER stats_patrol_walked_truncated AFTER TRUNCATE ON stats_patrol_walked
FOR EACH STATEMENT EXECUTE FUNCTION stats_counter_days_truncated();
