-- stats_counter_days_changed v1 and its triggers on stats_daily and stats_patrol_walked
-- (migration 0006): a change to the counters or the patrols of a day unseals every counter
-- block (stats_counter_block) holding it.
CREATE OR REPLACE FUNCTION stats_counter_days_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  DELETE FROM stats_counter_sealed s
   USING (SELECT DISTINCT stats_daynum(day) AS dn FROM changed_rows) d, generate_series(0, 10) l
   WHERE s.lvl = l AND s.start = d.dn - d.dn % (1 << l);
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER stats_daily_inserted AFTER INSERT ON stats_daily
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION stats_counter_days_changed();
CREATE OR REPLACE TRIGGER stats_daily_updated AFTER UPDATE ON stats_daily
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION stats_counter_days_changed();
CREATE OR REPLACE TRIGGER stats_daily_deleted AFTER DELETE ON stats_daily
REFERENCING OLD TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION stats_counter_days_changed();

CREATE OR REPLACE TRIGGER stats_patrol_walked_inserted AFTER INSERT ON stats_patrol_walked
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION stats_counter_days_changed();
CREATE OR REPLACE TRIGGER stats_patrol_walked_updated AFTER UPDATE ON stats_patrol_walked
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION stats_counter_days_changed();
CREATE OR REPLACE TRIGGER stats_patrol_walked_deleted AFTER DELETE ON stats_patrol_walked
REFERENCING OLD TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION stats_counter_days_changed();
