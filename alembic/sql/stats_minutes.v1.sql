-- stats_minutes v1 (migration 0004).
-- Whole minutes from report to close, never negative.
CREATE OR REPLACE FUNCTION stats_minutes(created timestamptz, closed timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT greatest(0, floor(extract(epoch FROM closed - created) / 60))::integer $$;
