-- stats_audit_counts v2 (migration 0028): one event's audit counters (type v2) from the event row
-- and all its audit rows (evaluation.auditcounts' definition for one event). v1 took the event's
-- id, report time and status; v2 takes the row, for dispatched_cases. Beside v1's:
-- - a review is on time when it came by the review deadline stored with the fix it decides
--   (review_due_at in the data of the row before it among fixes, reviews and registrations:
--   the fix's, migration 0027); a fix logged without one (before 0027) keeps v1's rule, within
--   review_limit_minutes of that row;
-- - the process counters: dispatched (dispatched_at set), and whether any row approved an
--   extension, approved a parking, returned the event (回退) or reopened it.
-- v1's: registered (a row to 'registered'), registered within register_limit_minutes of the
-- report (the first such row), registered and now voided; reviews.
CREATE OR REPLACE FUNCTION stats_audit_counts(e event)
RETURNS stats_audit_counts
LANGUAGE sql STABLE
AS $$
  SELECT ROW(
    coalesce(bool_or(r.to_status = 'registered'), false)::int,
    coalesce(min(r.at) FILTER (WHERE r.to_status = 'registered') - e.created_at
             <= (SELECT value FROM stats_setting WHERE key = 'register_limit_minutes')
                * interval '1 minute', false)::int,
    (coalesce(bool_or(r.to_status = 'registered'), false) AND e.status = 'voided')::int,
    (count(*) FILTER (WHERE r.action = 'review'))::int,
    (count(*) FILTER (WHERE r.action = 'review'
                        AND coalesce(r.at <= r.review_due,
                                     r.at - r.fixed_at
                                     <= (SELECT value FROM stats_setting
                                          WHERE key = 'review_limit_minutes')
                                        * interval '1 minute')))::int,
    (e.dispatched_at IS NOT NULL)::int,
    coalesce(bool_or(r.action = 'approve_extension'), false)::int,
    coalesce(bool_or(r.action = 'approve_parking'), false)::int,
    coalesce(bool_or(r.action = 'return'), false)::int,
    coalesce(bool_or(r.action = 'reopen'), false)::int
  )::stats_audit_counts
  FROM (SELECT a.action, a.to_status, a.at, lag(a.at) OVER w AS fixed_at,
               (lag(a.data ->> 'review_due_at') OVER w)::timestamptz AS review_due
          FROM event_audit a
         WHERE a.event_id = e.id
           AND (a.action IN ('resolve', 'review', 'approve_extension', 'approve_parking',
                             'return', 'reopen')
                OR a.to_status = 'registered')
        WINDOW w AS (PARTITION BY a.action IN ('resolve', 'review') OR a.to_status = 'registered'
                     ORDER BY a.version)) r
$$;
