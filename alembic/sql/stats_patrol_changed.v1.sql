-- stats_patrol_changed v1 and its trigger stats_patrol (migration 0004): keeps
-- stats_patrol_walked (the day and grid of each patrol that walked) in step with patrol.
CREATE OR REPLACE FUNCTION stats_patrol_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM stats_patrol_walked WHERE patrol_id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' AND stats_patrol_walks(NEW) THEN
    INSERT INTO stats_patrol_walked (patrol_id, day, grid_id)
    VALUES (NEW.id, stats_day(NEW.started_at), NEW.grid_id);
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_patrol AFTER INSERT OR UPDATE OR DELETE ON patrol
FOR EACH ROW EXECUTE FUNCTION stats_patrol_changed();
