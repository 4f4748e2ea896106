-- audit_append_only v1 and its trigger audit_append_only (migration 0011): audit rows are never
-- changed or deleted. The one UPDATE let through gives a row that has no hash yet (a bulk
-- load's) its hash and changes nothing else (audit_chain_fill). Owners and superusers can still
-- switch the trigger off (ALTER TABLE ... DISABLE TRIGGER, session_replication_role): that is
-- what 'wangge audit verify' and the published day heads are for.
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
     AND to_jsonb(NEW) - 'hash' = to_jsonb(OLD) - 'hash' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'event_audit is append-only: % of audit row % refused', TG_OP, OLD.id
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON event_audit
FOR EACH ROW EXECUTE FUNCTION audit_append_only();
