-- audit_canonical_of v1 (migration 0020): the text an audit row's hash covers, from the row's
-- columns (see audit_canonical): the one definition, which audit_canonical (v2) applies to a
-- whole row. Called with the columns, as 'wangge audit verify' does, the planner inlines it
-- into the query: no whole-row value is built per row (measured: ~1.5x cheaper per row).
CREATE OR REPLACE FUNCTION audit_canonical_of(
  id bigint, event_id bigint, version integer, action text, from_status text, to_status text,
  from_level integer, to_level integer, actor text, at timestamptz, note text, reason text,
  data jsonb
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT ROW(id, event_id, version, action, from_status, to_status, from_level, to_level, actor,
             (extract(epoch FROM at) * 1000000)::bigint, note, reason, data)::text
$$;
