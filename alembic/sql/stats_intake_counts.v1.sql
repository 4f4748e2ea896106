-- stats_intake_counts v1 (migration 0024): one report's intake counters from its event row and
-- its public_report row (NULL for a staff report, or before the row is written), as
-- evaluation.intake.INTAKE_SQL defines them: public = not staff and with a public_report row.
CREATE OR REPLACE FUNCTION stats_intake_counts(
  p_source text, p_duplicate_of bigint, p_public boolean,
  p_verify_due_at timestamptz, p_verified_at timestamptz, p_outcome text
) RETURNS stats_intake_counts
LANGUAGE sql IMMUTABLE
AS $$
  SELECT ROW(
    1,
    (p_duplicate_of IS NOT NULL)::int,
    (p_source <> 'staff' AND p_public)::int,
    (p_source <> 'staff' AND p_public AND p_verified_at IS NOT NULL)::int,
    coalesce(p_source <> 'staff' AND p_public AND p_verified_at <= p_verify_due_at, false)::int,
    (p_source <> 'staff' AND p_public AND p_outcome IS NOT NULL)::int,
    coalesce(p_source <> 'staff' AND p_public AND p_outcome IN ('confirmed', 'duplicate'),
             false)::int
  )::stats_intake_counts
$$;
