-- audit_canonical v2 (migration 0020): the text an audit row's hash covers, the row's columns
-- but the hash, as a record in PostgreSQL's text form (a field is written as is, or in double
-- quotes with '"' and '\' doubled when it is empty or holds '"', '\', '(', ')', ',' or white
-- space; NULL is nothing), in this order: id, event_id, version, action, from_status,
-- to_status, from_level, to_level, actor, at (integer microseconds since 1970-01-01 UTC), note,
-- reason, data (jsonb as PostgreSQL prints it). The same text as v1: the definition moved to
-- audit_canonical_of (the columns one by one), which this applies to a whole row (the trigger
-- audit_chain, audit_chain_fill). The same definition in Python: domain.audit.canonical, and
-- the evaluation bundle's checker (evaluation/bundle_check.py).
CREATE OR REPLACE FUNCTION audit_canonical(a event_audit) RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT audit_canonical_of(a.id, a.event_id, a.version, a.action, a.from_status, a.to_status,
                            a.from_level, a.to_level, a.actor, a.at, a.note, a.reason, a.data)
$$;
