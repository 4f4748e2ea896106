-- audit_chain_fill v1 (migration 0011): hash the audit rows that have none (rows from before
-- migration 0011, or a bulk load with triggers off), in chain order: each pass hashes the rows
-- whose previous row is hashed (or that are first). Returns the number of rows hashed.
CREATE OR REPLACE FUNCTION audit_chain_fill() RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  total bigint := 0;
  done bigint;
BEGIN
  LOOP
    WITH c AS (
      SELECT a.id, a.hash, lag(a.id) OVER w AS prev_id, lag(a.hash) OVER w AS prev_hash
        FROM event_audit a
       WHERE a.event_id IN (SELECT event_id FROM event_audit WHERE hash IS NULL)
      WINDOW w AS (PARTITION BY a.event_id ORDER BY a.version)
    )
    UPDATE event_audit a
       SET hash = sha256(coalesce(c.prev_hash, ''::bytea) || convert_to(audit_canonical(a), 'UTF8'))
      FROM c
     WHERE a.id = c.id AND c.hash IS NULL AND (c.prev_id IS NULL OR c.prev_hash IS NOT NULL);
    GET DIAGNOSTICS done = ROW_COUNT;
    EXIT WHEN done = 0;
    total := total + done;
  END LOOP;
  RETURN total;
END
$$;
