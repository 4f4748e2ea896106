"""督办: supervision notices raised by breaches, acknowledged by the holder's superior

One row per breach (the event and the version the breach made): the clock that ran out, who
held the event and in which role, the role it is addressed to (``domain.supervision``), where the
event was (grid, community, department: the addressee's reach and the statistics' groups), when
it was raised and when and by whom it was acknowledged. Written in the breach's transaction.

Revision ID: 0021
Revises: 0019
Create Date: 2026-11-29 13:00:00
"""

from alembic import op

revision: str = "0021"
down_revision: str | None = "0019"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE supervision (
            id bigserial PRIMARY KEY,
            event_id bigint NOT NULL REFERENCES event (id) ON DELETE CASCADE,
            version integer NOT NULL,
            clock varchar(8) NOT NULL CHECK (clock IN ('ack', 'resolve')),
            holder_id integer REFERENCES staff (id),
            holder_role varchar(16) NOT NULL,
            addressee_role varchar(16) NOT NULL,
            grid_id integer REFERENCES grid (id),
            community_id integer REFERENCES community (id),
            department varchar(64),
            raised_at timestamptz NOT NULL,
            acknowledged_at timestamptz,
            acknowledged_by integer REFERENCES staff (id),
            UNIQUE (event_id, version)
        );
        CREATE INDEX ix_supervision_open ON supervision (addressee_role, raised_at)
            WHERE acknowledged_at IS NULL;
        CREATE INDEX ix_supervision_raised_at ON supervision (raised_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE supervision")
