-- reference_changed v2 (migration 0029): v1's function, body unchanged, and its triggers, plus
-- one on work_calendar that bumps the categories' copy: the API keeps each category with the
-- parsed calendars its clocks run on (dispatch.categories.service.Catalogue), so a calendar load
-- is a change of the categories' reference data (ADR 0005, 0023).
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
CREATE OR REPLACE TRIGGER work_calendar_reference_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON work_calendar
FOR EACH STATEMENT EXECUTE FUNCTION reference_changed('category');
