-- stats_first_dispatch_on_time v2 (migration 0005): the entry point the triggers
-- call, now through stats_dispatch_on_time.
CREATE OR REPLACE FUNCTION stats_first_dispatch_on_time(e event) RETURNS integer
LANGUAGE sql STABLE
AS $$ SELECT stats_dispatch_on_time(e, stats_first_dispatch_at(e.id), stats_dispatch_limit()) $$;
