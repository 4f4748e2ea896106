-- stats_rebuild v1 (migration 0004).
-- Everything again from the raw rows (writers wait meanwhile); sealed blocks are dropped.
CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  LOCK TABLE event, patrol, patrol_point IN SHARE MODE;
  TRUNCATE stats_daily, stats_resolution, stats_block, stats_patrol_walked;
  INSERT INTO stats_daily (day, grid_id, category_id, reported, voided, registered, public_registered, dispatched, dispatched_on_time, redispatches, escalations, handled, handled_on_time, reworks, closed, closed_on_time, closed_level0, closed_le2)
  SELECT stats_day(e.created_at), e.grid_id, e.category_id, sum(c.reported), sum(c.voided), sum(c.registered), sum(c.public_registered), sum(c.dispatched), sum(stats_first_dispatch_on_time(e)), sum(c.redispatches), sum(c.escalations), sum(c.handled), sum(c.handled_on_time), sum(c.reworks), sum(c.closed), sum(c.closed_on_time), sum(c.closed_level0), sum(c.closed_le2)
    FROM event e CROSS JOIN LATERAL stats_counts_of(e) AS c
   GROUP BY 1, 2, 3;
  INSERT INTO stats_resolution (day, grid_id, category_id, level, minutes, n, ontime)
  SELECT stats_day(e.created_at), e.grid_id, e.category_id, e.level,
         stats_minutes(e.created_at, e.closed_at), count(*), sum(stats_closed_on_time(e)::int)
    FROM event e WHERE e.status = 'closed'
   GROUP BY 1, 2, 3, 4, 5;
  INSERT INTO stats_patrol_walked (patrol_id, day, grid_id)
  SELECT p.id, stats_day(p.started_at), p.grid_id FROM patrol p WHERE stats_patrol_walks(p);
END
$$;
