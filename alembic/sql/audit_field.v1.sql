-- audit_field v1 (migration 0011): one field of an audit row's canonical text, length-prefixed
-- so the concatenation is unambiguous: '-' for NULL, else '<characters>:<value>'.
CREATE OR REPLACE FUNCTION audit_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE WHEN v IS NULL THEN '-' ELSE length(v)::text || ':' || v END
$$;
