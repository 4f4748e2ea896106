"""reference data versions and change notifications; outbox wake-up

``reference_version`` counts changes of the reference data the API keeps in memory (the grid
map with its communities; the categories). Statement triggers bump the count and NOTIFY
``reference_changed`` in the writing transaction, whoever writes (CLI, admin API, plain SQL),
so processes drop their copies at commit, and the report statement can check that it used
the current copy (docs/decisions/0005-hot-paths-in-memory-reference-data.md).
A statement trigger on ``outbox`` NOTIFYs ``outbox`` so the worker's relay wakes at commit.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 21:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WATCHED = (("grid", "grid"), ("community", "grid"), ("category", "category"))


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE reference_version (
            name varchar(32) PRIMARY KEY,
            version bigint NOT NULL
        );
        INSERT INTO reference_version (name, version) VALUES ('grid', 1), ('category', 1);

        CREATE FUNCTION reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE reference_version SET version = version + 1 WHERE name = TG_ARGV[0];
          PERFORM pg_notify('reference_changed', TG_ARGV[0]);
          RETURN NULL;
        END $$;

        CREATE FUNCTION outbox_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_notify('outbox', '');
          RETURN NULL;
        END $$;
        CREATE TRIGGER outbox_added AFTER INSERT ON outbox
            FOR EACH STATEMENT EXECUTE FUNCTION outbox_added();
        """
    )
    for table, name in _WATCHED:
        op.execute(
            f"CREATE TRIGGER {table}_reference_changed"
            f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION reference_changed('{name}')"
        )


def downgrade() -> None:
    for table, _ in _WATCHED:
        op.execute(f"DROP TRIGGER {table}_reference_changed ON {table}")
    op.execute(
        """
        DROP TRIGGER outbox_added ON outbox;
        DROP FUNCTION outbox_added();
        DROP FUNCTION reference_changed();
        DROP TABLE reference_version;
        """
    )
