"""the dispatch backlog in report order, from an index

The worker claims registered events oldest report first (``reconcile.claim_undispatched``:
``ORDER BY created_at, id ... FOR UPDATE SKIP LOCKED``). A partial index holding only the
registered events, in that order, lets each batch read its rows without sorting the backlog
(a storm's backlog: thousands of rows per batch otherwise).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29 13:05:00
"""

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_event_registered_order ON event (created_at, id)"
        " WHERE status = 'registered'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_event_registered_order")
