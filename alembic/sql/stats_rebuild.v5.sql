-- stats_rebuild v5 (migration 0028): v4, and the process counters (dispatched_cases,
-- extended_cases, parked_cases, returned_cases, reopened_cases) and reviews on time by the
-- deadline stored with the fix (stats_audit_counts v2's definitions, set-based); 按时派遣 by the
-- event's dispatch_due_at (stats_dispatch_on_time v2); the working-time histogram
-- (stats_resolution_working, of resolution_working_time).
-- v4 (migration 0024): v3, and the audit counters of stats_daily (立案, 核查:
-- stats_audit_counts' definition, set-based over every event's audit rows in one pass) and the
-- intake counters (stats_intake_counts, on the day each report was received).
-- v3 (migration 0019): v2 with the counter handled_on_promise. v2 (migration 0005).
-- Everything again from the raw rows in set-based passes (writers wait meanwhile).
CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  lim interval := stats_dispatch_limit();
  reg_limit interval := (SELECT value FROM stats_setting WHERE key = 'register_limit_minutes')
                        * interval '1 minute';
  review_limit interval := (SELECT value FROM stats_setting WHERE key = 'review_limit_minutes')
                           * interval '1 minute';
BEGIN
  LOCK TABLE event, public_report, patrol, patrol_point IN SHARE MODE;
  TRUNCATE stats_daily, stats_resolution, stats_resolution_working, stats_block,
           stats_patrol_walked;
  INSERT INTO stats_daily (day, grid_id, category_id, reported, voided, registered, public_registered, dispatched, dispatched_on_time, redispatches, escalations, handled, handled_on_time, reworks, closed, closed_on_time, closed_level0, closed_le2, handled_on_promise)
  SELECT stats_day(e.created_at), e.grid_id, e.category_id, sum((stats_counts(e, cat.resolve_minutes)).reported), sum((stats_counts(e, cat.resolve_minutes)).voided), sum((stats_counts(e, cat.resolve_minutes)).registered), sum((stats_counts(e, cat.resolve_minutes)).public_registered), sum((stats_counts(e, cat.resolve_minutes)).dispatched), sum(stats_dispatch_on_time(e, fd.at, lim)), sum((stats_counts(e, cat.resolve_minutes)).redispatches), sum((stats_counts(e, cat.resolve_minutes)).escalations), sum((stats_counts(e, cat.resolve_minutes)).handled), sum((stats_counts(e, cat.resolve_minutes)).handled_on_time), sum((stats_counts(e, cat.resolve_minutes)).reworks), sum((stats_counts(e, cat.resolve_minutes)).closed), sum((stats_counts(e, cat.resolve_minutes)).closed_on_time), sum((stats_counts(e, cat.resolve_minutes)).closed_level0), sum((stats_counts(e, cat.resolve_minutes)).closed_le2), sum((stats_counts(e, cat.resolve_minutes)).handled_on_promise)
    FROM event e
    JOIN category cat ON cat.id = e.category_id
    LEFT JOIN (SELECT DISTINCT ON (event_id) event_id, at FROM event_audit
                WHERE action = 'dispatch' AND from_status = 'registered'
                ORDER BY event_id, version) fd ON fd.event_id = e.id
   GROUP BY 1, 2, 3;
  UPDATE stats_daily s
     SET ever_registered = x.ever_registered, registered_on_time = x.registered_on_time,
         voided_after_registration = x.voided_after_registration, reviews = x.reviews,
         reviews_on_time = x.reviews_on_time, dispatched_cases = x.dispatched_cases,
         extended_cases = x.extended_cases, parked_cases = x.parked_cases,
         returned_cases = x.returned_cases, reopened_cases = x.reopened_cases
    FROM (SELECT stats_day(e.created_at) AS day, e.grid_id, e.category_id,
                 sum(coalesce(au.registered, false)::int) AS ever_registered,
                 sum(coalesce(au.registered_at - e.created_at <= reg_limit, false)::int)
                   AS registered_on_time,
                 sum((coalesce(au.registered, false) AND e.status = 'voided')::int)
                   AS voided_after_registration,
                 sum(coalesce(au.reviews, 0)) AS reviews,
                 sum(coalesce(au.reviews_on_time, 0)) AS reviews_on_time,
                 sum((e.dispatched_at IS NOT NULL)::int) AS dispatched_cases,
                 sum(coalesce(au.extended, false)::int) AS extended_cases,
                 sum(coalesce(au.parked, false)::int) AS parked_cases,
                 sum(coalesce(au.returned, false)::int) AS returned_cases,
                 sum(coalesce(au.reopened, false)::int) AS reopened_cases
            FROM event e
            LEFT JOIN (
                  SELECT r.event_id,
                         bool_or(r.to_status = 'registered') AS registered,
                         min(r.at) FILTER (WHERE r.to_status = 'registered') AS registered_at,
                         count(*) FILTER (WHERE r.action = 'review') AS reviews,
                         count(*) FILTER (WHERE r.action = 'review'
                                            AND coalesce(r.at <= r.review_due,
                                                         r.at - r.fixed_at <= review_limit))
                           AS reviews_on_time,
                         bool_or(r.action = 'approve_extension') AS extended,
                         bool_or(r.action = 'approve_parking') AS parked,
                         bool_or(r.action = 'return') AS returned,
                         bool_or(r.action = 'reopen') AS reopened
                    FROM (SELECT a.event_id, a.action, a.to_status, a.at,
                                 lag(a.at) OVER w AS fixed_at,
                                 (lag(a.data ->> 'review_due_at') OVER w)::timestamptz
                                   AS review_due
                            FROM event_audit a
                           WHERE a.action IN ('resolve', 'review', 'approve_extension',
                                              'approve_parking', 'return', 'reopen')
                              OR a.to_status = 'registered'
                          WINDOW w AS (PARTITION BY a.event_id,
                                                    a.action IN ('resolve', 'review')
                                                    OR a.to_status = 'registered'
                                       ORDER BY a.version)) r
                   GROUP BY r.event_id) au ON au.event_id = e.id
           GROUP BY 1, 2, 3) x
   WHERE s.day = x.day AND s.grid_id = x.grid_id AND s.category_id = x.category_id;
  INSERT INTO stats_daily AS s (day, grid_id, category_id, reported, voided, registered,
                                public_registered, dispatched, dispatched_on_time, redispatches,
                                escalations, handled, handled_on_time, reworks, closed,
                                closed_on_time, closed_level0, closed_le2, handled_on_promise,
                                all_reports, linked_reports, public_reports, verifications_done,
                                verified_on_time, public_decided, public_valid)
  SELECT stats_day(x.received_at), x.grid_id, x.category_id,
         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
         sum((x.c).all_reports), sum((x.c).linked_reports), sum((x.c).public_reports),
         sum((x.c).verifications_done), sum((x.c).verified_on_time), sum((x.c).public_decided),
         sum((x.c).public_valid)
    FROM (SELECT e.received_at, e.grid_id, e.category_id,
                 stats_intake_counts(e.source, e.duplicate_of, p.event_id IS NOT NULL,
                                     p.verify_due_at, p.verified_at, p.outcome) AS c
            FROM event e LEFT JOIN public_report p ON p.event_id = e.id) x
   GROUP BY 1, 2, 3
  ON CONFLICT (day, grid_id, category_id) DO UPDATE SET
    all_reports = EXCLUDED.all_reports, linked_reports = EXCLUDED.linked_reports,
    public_reports = EXCLUDED.public_reports, verifications_done = EXCLUDED.verifications_done,
    verified_on_time = EXCLUDED.verified_on_time, public_decided = EXCLUDED.public_decided,
    public_valid = EXCLUDED.public_valid;
  INSERT INTO stats_resolution (day, grid_id, category_id, level, minutes, n, ontime)
  SELECT stats_day(e.created_at), e.grid_id, e.category_id, e.level,
         stats_minutes(e.created_at, e.closed_at), count(*),
         sum(stats_on_time(e, cat.resolve_minutes)::int)
    FROM event e JOIN category cat ON cat.id = e.category_id
   WHERE e.status = 'closed'
   GROUP BY 1, 2, 3, 4, 5;
  INSERT INTO stats_resolution_working (day, grid_id, category_id, level, minutes, n, ontime)
  SELECT stats_day(e.created_at), e.grid_id, e.category_id, e.level,
         floor(extract(epoch FROM e.resolution_working_time) / 60)::integer,
         count(*), sum(stats_on_time(e, cat.resolve_minutes)::int)
    FROM event e JOIN category cat ON cat.id = e.category_id
   WHERE e.status = 'closed' AND e.resolution_working_time IS NOT NULL
   GROUP BY 1, 2, 3, 4, 5;
  INSERT INTO stats_patrol_walked (patrol_id, day, grid_id)
  SELECT p.id, stats_day(p.started_at), p.grid_id
    FROM patrol p
    LEFT JOIN (SELECT DISTINCT patrol_id FROM patrol_point) pp ON pp.patrol_id = p.id
   WHERE stats_walks(p, pp.patrol_id IS NOT NULL);
END
$$;
