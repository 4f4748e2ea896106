-- stats_counts_of v2 (migration 0005): the entry point the triggers call, now through
-- stats_counts.
CREATE OR REPLACE FUNCTION stats_counts_of(e event) RETURNS stats_counts
LANGUAGE sql STABLE
AS $$
  SELECT stats_counts(e, (SELECT c.resolve_minutes FROM category c WHERE c.id = e.category_id))
$$;
