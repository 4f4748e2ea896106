-- stats_audit_counts v1 (migration 0024): one event's audit counters from all its audit rows,
-- given the event's report time and status (evaluation.auditcounts' definition for one event):
-- registered (a row to 'registered'), registered within register_limit_minutes of the report
-- (the first such row), registered and now voided; reviews, and those within
-- review_limit_minutes of the row before them among fixes, reviews and registrations.
CREATE OR REPLACE FUNCTION stats_audit_counts(p_event bigint, p_created timestamptz, p_status text)
RETURNS stats_audit_counts
LANGUAGE sql STABLE
AS $$
  SELECT ROW(
    coalesce(bool_or(r.to_status = 'registered'), false)::int,
    coalesce(min(r.at) FILTER (WHERE r.to_status = 'registered') - p_created
             <= (SELECT value FROM stats_setting WHERE key = 'register_limit_minutes')
                * interval '1 minute', false)::int,
    (coalesce(bool_or(r.to_status = 'registered'), false) AND p_status = 'voided')::int,
    (count(*) FILTER (WHERE r.action = 'review'))::int,
    (count(*) FILTER (WHERE r.action = 'review' AND r.at - r.fixed_at
                      <= (SELECT value FROM stats_setting WHERE key = 'review_limit_minutes')
                         * interval '1 minute'))::int
  )::stats_audit_counts
  FROM (SELECT a.action, a.to_status, a.at, lag(a.at) OVER (ORDER BY a.version) AS fixed_at
          FROM event_audit a
         WHERE a.event_id = p_event
           AND (a.action IN ('resolve', 'review') OR a.to_status = 'registered')) r
$$;
