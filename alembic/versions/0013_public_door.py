"""the public's door: API clients, public and hotline reports, duplicates

``api_client``: Open311 clients with a hashed key (revocable). ``public_report``: what a public
or hotline report carries beyond its event (the Open311 token, the hotline's case number,
address, media URL, attributes, the reporter's contact — personal data — and the on-site
verification: deadline, outcome, who and when). ``event.duplicate_of`` links a report to the
open event it duplicates; ``stats_counts`` v2 counts such a report nothing (the original counts
once), and the counters are rebuilt. ``category.verify_minutes``: the verification allowance.
A partial GiST index on the open, unlinked events' points (as geography) serves the duplicate
candidate search (same category, within metres, within hours, nearest first).

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-29 09:00:00
"""

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0013"
down_revision: str | None = "0011"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE category ADD COLUMN verify_minutes double precision NOT NULL DEFAULT 30
            CHECK (verify_minutes > 0);
        ALTER TABLE event ADD COLUMN duplicate_of bigint REFERENCES event (id);
        CREATE INDEX ix_event_duplicate_of ON event (duplicate_of) WHERE duplicate_of IS NOT NULL;
        CREATE INDEX ix_event_open_geog ON event USING gist ((geom::geography))
            WHERE status NOT IN ('closed', 'voided', 'resolved') AND duplicate_of IS NULL;

        CREATE TABLE api_client (
            id serial PRIMARY KEY,
            name varchar(64) NOT NULL UNIQUE,
            channel varchar(16) NOT NULL CHECK (channel IN ('public', 'hotline')),
            key_prefix varchar(16) NOT NULL,
            key_hash varchar(64) NOT NULL UNIQUE,
            created_at timestamptz NOT NULL,
            revoked_at timestamptz,
            revoked_reason text NOT NULL DEFAULT ''
        );

        CREATE TABLE public_report (
            event_id bigint PRIMARY KEY REFERENCES event (id) ON DELETE CASCADE,
            channel varchar(16) NOT NULL CHECK (channel IN ('public', 'hotline')),
            token uuid NOT NULL UNIQUE,
            api_client_id integer REFERENCES api_client (id),
            hotline_case varchar(32) UNIQUE,
            address varchar(255),
            media_url varchar(1024),
            attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
            reporter_name varchar(64),
            reporter_phone varchar(32),
            reporter_email varchar(254),
            verify_due_at timestamptz NOT NULL,
            verified_at timestamptz,
            outcome varchar(16) CHECK (outcome IN ('confirmed', 'rejected', 'duplicate')),
            outcome_note text NOT NULL DEFAULT '',
            verified_by integer REFERENCES staff (id)
        );
        CREATE INDEX ix_public_report_api_client_id ON public_report (api_client_id);
        CREATE INDEX ix_public_report_pending ON public_report (verify_due_at)
            WHERE verified_at IS NULL;
        ALTER TABLE event_photo ALTER COLUMN uploaded_by DROP NOT NULL;
        """
    )
    op.execute(read_sql("stats_counts.v2"))
    op.execute("SELECT stats_rebuild()")


def downgrade() -> None:
    op.execute(read_sql("stats_counts.v1"))
    op.execute(
        """
        DELETE FROM event_photo WHERE uploaded_by IS NULL;
        ALTER TABLE event_photo ALTER COLUMN uploaded_by SET NOT NULL;
        DROP TABLE public_report;
        DROP TABLE api_client;
        DROP INDEX ix_event_open_geog;
        ALTER TABLE event DROP COLUMN duplicate_of;
        ALTER TABLE category DROP COLUMN verify_minutes;
        """
    )
    op.execute("SELECT stats_rebuild()")
