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

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0007"
down_revision: str | None = "0006"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE reference_version (
            name varchar(32) PRIMARY KEY,
            version bigint NOT NULL
        );
        INSERT INTO reference_version (name, version) VALUES ('grid', 1), ('category', 1);
        """
    )
    op.execute(read_sql("reference_changed.v1"))
    op.execute(read_sql("outbox_added.v1"))


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER grid_reference_changed ON grid;
        DROP TRIGGER community_reference_changed ON community;
        DROP TRIGGER category_reference_changed ON category;
        DROP TRIGGER outbox_added ON outbox;
        DROP FUNCTION outbox_added();
        DROP FUNCTION reference_changed();
        DROP TABLE reference_version;
        """
    )
