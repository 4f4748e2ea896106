-- stats_hist_add v2 (migration 0028): v1 with p_working: the bucket is one of the working-time
-- histogram (stats_resolution_working: whole minutes of working time on the category's calendar,
-- of event.resolution_working_time) instead of the wall-clock one (stats_resolution).
-- v1 (migration 0004): adds p_sign events to one bucket of the resolution histogram (deleting
-- emptied buckets) and drops the sealed blocks holding that day.
CREATE OR REPLACE FUNCTION stats_hist_add(
  p_day date, p_grid integer, p_category integer, p_level integer, p_minutes integer,
  p_ontime integer, p_sign integer, p_working boolean
) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  left_n integer;
  dn integer := stats_daynum(p_day);
BEGIN
  IF p_working THEN
    INSERT INTO stats_resolution_working AS r (day, grid_id, category_id, level, minutes, n,
                                               ontime)
    VALUES (p_day, p_grid, p_category, p_level, p_minutes, p_sign, p_sign * p_ontime)
    ON CONFLICT (day, grid_id, category_id, level, minutes)
    DO UPDATE SET n = r.n + EXCLUDED.n, ontime = r.ontime + EXCLUDED.ontime
    RETURNING n INTO left_n;
    IF left_n <= 0 THEN
      DELETE FROM stats_resolution_working
       WHERE day = p_day AND grid_id = p_grid AND category_id = p_category
         AND level = p_level AND minutes = p_minutes;
    END IF;
  ELSE
    INSERT INTO stats_resolution AS r (day, grid_id, category_id, level, minutes, n, ontime)
    VALUES (p_day, p_grid, p_category, p_level, p_minutes, p_sign, p_sign * p_ontime)
    ON CONFLICT (day, grid_id, category_id, level, minutes)
    DO UPDATE SET n = r.n + EXCLUDED.n, ontime = r.ontime + EXCLUDED.ontime
    RETURNING n INTO left_n;
    IF left_n <= 0 THEN
      DELETE FROM stats_resolution
       WHERE day = p_day AND grid_id = p_grid AND category_id = p_category
         AND level = p_level AND minutes = p_minutes;
    END IF;
  END IF;
  -- Every sealed block that holds this day is no longer exact.
  DELETE FROM stats_block b USING generate_series(0, 10) AS l
   WHERE b.lvl = l AND b.start = dn - dn % (1 << l);
END
$$;
