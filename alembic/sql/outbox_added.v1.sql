-- outbox_added v1 and its trigger of the same name on outbox (migration 0007): NOTIFY outbox
-- so the worker's relay wakes at commit.
-- The body's indentation is as 0007 wrote it, kept so that the stored body equals this file's.
CREATE OR REPLACE FUNCTION outbox_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_notify('outbox', '');
          RETURN NULL;
        END $$;

CREATE OR REPLACE TRIGGER outbox_added AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION outbox_added();
