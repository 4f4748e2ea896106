-- reference_changed v1 and its triggers on grid, community and category (migration 0007):
-- a change to the reference data the API keeps in memory (whoever writes: CLI, admin API,
-- plain SQL) bumps reference_version and NOTIFYs reference_changed in the writing transaction,
-- so processes drop their copies at commit (ADR 0005). The argument names the copy: the grid
-- map with its communities ('grid') or the categories ('category').
-- The body's indentation is as 0007 wrote it, kept so that the stored body equals this file's.
CREATE OR REPLACE FUNCTION reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE reference_version SET version = version + 1 WHERE name = TG_ARGV[0];
          PERFORM pg_notify('reference_changed', TG_ARGV[0]);
          RETURN NULL;
        END $$;

CREATE OR REPLACE TRIGGER grid_reference_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grid
FOR EACH STATEMENT EXECUTE FUNCTION reference_changed('grid');
CREATE OR REPLACE TRIGGER community_reference_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON community
FOR EACH STATEMENT EXECUTE FUNCTION reference_changed('grid');
CREATE OR REPLACE TRIGGER category_reference_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON category
FOR EACH STATEMENT EXECUTE FUNCTION reference_changed('category');
