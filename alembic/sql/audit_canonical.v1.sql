-- audit_canonical v1 (migration 0011): the text an audit row's hash covers, every column but
-- the hash, in this order: id, event_id, version, action, from_status, to_status, from_level,
-- to_level, actor, at (integer microseconds since 1970-01-01 UTC), note, reason, data (jsonb as
-- PostgreSQL prints it). The same definition in Python: domain.audit.canonical, and in the
-- evaluation bundle's checker (evaluation/bundle_check.py).
CREATE OR REPLACE FUNCTION audit_canonical(a event_audit) RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT audit_field(a.id::text) || audit_field(a.event_id::text) || audit_field(a.version::text)
      || audit_field(a.action) || audit_field(a.from_status) || audit_field(a.to_status)
      || audit_field(a.from_level::text) || audit_field(a.to_level::text) || audit_field(a.actor)
      || audit_field((extract(epoch FROM a.at) * 1000000)::bigint::text) || audit_field(a.note)
      || audit_field(a.reason) || audit_field(a.data::text)
$$;
