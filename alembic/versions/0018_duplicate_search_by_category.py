"""duplicate candidates searched by category inside the index

The duplicate-candidate search (same category, within metres, within hours, nearest first)
runs in every staff report's statement. 0013's partial GiST index held the open, unlinked
events' points only, so the search visited every open event near the report and filtered the
category afterwards: hundreds of rows, each a geography distance, in a busy area. The index
now leads with ``category_id`` (``btree_gist`` lets a GiST index hold a plain integer), so the
search visits only the events of the report's category.

``btree_gist`` is a contrib extension shipped with the server and trusted (the database's
owner may create it without superuser rights).

Revision ID: 0018
Revises: 0013
Create Date: 2026-11-29 12:00:00
"""

from alembic import op

revision: str = "0018"
down_revision: str | None = "0013"

_OPEN = "status NOT IN ('closed', 'voided', 'resolved') AND duplicate_of IS NULL"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        "CREATE INDEX ix_event_open_category_geog ON event"
        f" USING gist (category_id, (geom::geography)) WHERE {_OPEN}"
    )
    op.execute("DROP INDEX ix_event_open_geog")


def downgrade() -> None:
    op.execute(
        f"CREATE INDEX ix_event_open_geog ON event USING gist ((geom::geography)) WHERE {_OPEN}"
    )
    op.execute("DROP INDEX ix_event_open_category_geog")
