-- stats_daynum v1 (migration 0004): a day as a number (days since 1970-01-01), the unit
-- of the aligned blocks (stats_block, stats_counter_block).
CREATE OR REPLACE FUNCTION stats_daynum(d date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT d - DATE '1970-01-01' $$;
