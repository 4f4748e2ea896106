-- stats_rebuild v3 (migration 0019): v2 with the counter handled_on_promise.
-- v2 (migration 0005).
-- Everything again from the raw rows in three set-based passes (writers wait meanwhile).
CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  lim interval := stats_dispatch_limit();
BEGIN
  LOCK TABLE event, patrol, patrol_point IN SHARE MODE;
  TRUNCATE stats_daily, stats_resolution, stats_block, stats_patrol_walked;
  INSERT INTO stats_daily (day, grid_id, category_id, reported, voided, registered, public_registered, dispatched, dispatched_on_time, redispatches, escalations, handled, handled_on_time, reworks, closed, closed_on_time, closed_level0, closed_le2, handled_on_promise)
  SELECT stats_day(e.created_at), e.grid_id, e.category_id, sum((stats_counts(e, cat.resolve_minutes)).reported), sum((stats_counts(e, cat.resolve_minutes)).voided), sum((stats_counts(e, cat.resolve_minutes)).registered), sum((stats_counts(e, cat.resolve_minutes)).public_registered), sum((stats_counts(e, cat.resolve_minutes)).dispatched), sum(stats_dispatch_on_time(e, fd.at, lim)), sum((stats_counts(e, cat.resolve_minutes)).redispatches), sum((stats_counts(e, cat.resolve_minutes)).escalations), sum((stats_counts(e, cat.resolve_minutes)).handled), sum((stats_counts(e, cat.resolve_minutes)).handled_on_time), sum((stats_counts(e, cat.resolve_minutes)).reworks), sum((stats_counts(e, cat.resolve_minutes)).closed), sum((stats_counts(e, cat.resolve_minutes)).closed_on_time), sum((stats_counts(e, cat.resolve_minutes)).closed_level0), sum((stats_counts(e, cat.resolve_minutes)).closed_le2), sum((stats_counts(e, cat.resolve_minutes)).handled_on_promise)
    FROM event e
    JOIN category cat ON cat.id = e.category_id
    LEFT JOIN (SELECT DISTINCT ON (event_id) event_id, at FROM event_audit
                WHERE action = 'dispatch' AND from_status = 'registered'
                ORDER BY event_id, version) fd ON fd.event_id = e.id
   GROUP BY 1, 2, 3;
  INSERT INTO stats_resolution (day, grid_id, category_id, level, minutes, n, ontime)
  SELECT stats_day(e.created_at), e.grid_id, e.category_id, e.level,
         stats_minutes(e.created_at, e.closed_at), count(*),
         sum(stats_on_time(e, cat.resolve_minutes)::int)
    FROM event e JOIN category cat ON cat.id = e.category_id
   WHERE e.status = 'closed'
   GROUP BY 1, 2, 3, 4, 5;
  INSERT INTO stats_patrol_walked (patrol_id, day, grid_id)
  SELECT p.id, stats_day(p.started_at), p.grid_id
    FROM patrol p
    LEFT JOIN (SELECT DISTINCT patrol_id FROM patrol_point) pp ON pp.patrol_id = p.id
   WHERE stats_walks(p, pp.patrol_id IS NOT NULL);
END
$$;
