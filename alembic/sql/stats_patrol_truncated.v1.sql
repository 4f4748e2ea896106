-- stats_patrol_truncated v1 and its trigger stats_patrol_truncate (migration 0004).
CREATE OR REPLACE FUNCTION stats_patrol_truncated() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  TRUNCATE stats_patrol_walked;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_patrol_truncate AFTER TRUNCATE ON patrol
FOR EACH STATEMENT EXECUTE FUNCTION stats_patrol_truncated();
