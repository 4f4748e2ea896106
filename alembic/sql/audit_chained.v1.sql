-- audit_chained v1 and its trigger audit_chain (migration 0011): every audit row gets its hash
-- in the transaction that inserts it, whoever inserts it (the store's COPY, the report
-- statement, plain SQL): sha256(hash of the event's previous row (by version), or nothing for
-- the first || UTF-8 of audit_canonical(row)). Migration 0011 makes it ENABLE ALWAYS, so bulk
-- loads in session_replication_role = replica are hashed too; audit_chain_fill() hashes rows
-- that came in with it disabled (and those from before 0011).
CREATE OR REPLACE FUNCTION audit_chained() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  previous bytea;
BEGIN
  SELECT p.hash INTO previous FROM event_audit p
   WHERE p.event_id = NEW.event_id AND p.version < NEW.version
   ORDER BY p.version DESC LIMIT 1;
  NEW.hash := sha256(coalesce(previous, ''::bytea) || convert_to(audit_canonical(NEW), 'UTF8'));
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER audit_chain BEFORE INSERT ON event_audit
FOR EACH ROW EXECUTE FUNCTION audit_chained();
