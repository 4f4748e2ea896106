-- wangge_timezone v1 (migration 0009): the service's time zone (the setting WANGGE_TIMEZONE),
-- in which the statistics count calendar days (stats_day).
--
-- A template: the one placeholder (the name between double braces below) is filled with the
-- zone as a quoted SQL literal by kernel.sqlfiles.set_database_timezone, which accepts only a
-- zone that both Python (zoneinfo) and PostgreSQL know. Migration 0009 fills it from the
-- setting; to change the zone later, call set_database_timezone (then SELECT stats_rebuild(),
-- since the days already counted were counted in the old zone).
--
-- STABLE (not IMMUTABLE) with a plain SQL body, so that the planner inlines it: a query or a
-- trigger's cached plan holds the zone as a constant (stats_day() costs what it did with the
-- zone written in; EXPLAIN VERBOSE shows the literal) and records that it depends on this
-- function, so re-creating the function invalidates those plans in every session. An IMMUTABLE
-- one would be evaluated at plan time instead, which records no such dependency: sessions that
-- had already planned stats_day() (every pooled connection that ran the trigger) would keep
-- counting in the old zone.
CREATE OR REPLACE FUNCTION wangge_timezone() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT {{zone_literal}}::text $$;
