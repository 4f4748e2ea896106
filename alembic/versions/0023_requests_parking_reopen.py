"""延期 / 挂账 requests, the parked status and the case's cycle on the event; decisions named

``event.request_kind`` / ``requested_at`` / ``request_reason`` / ``request_deadline``: the
holder's request (an extension with its new deadline, a parking with its review date) waiting for
the level above — at most one, on the row; ``event.parked_until``: a parked case's review date;
``event.cycle``: 1, and one more each time a closed case is reopened (docs/decisions/0017).

``event_audit``: CHECK constraints that every request, refusal and reopening carries its reason
(``note``), and that every decision on a request names its approver (``actor``, a person) and
the request's reason and requester (``data``: ``asked_reason``, ``asked_by``) — 100 % of
approved extensions carry approver and reason by construction of the table, not by convention.
Events logged before this migration have none of these actions; their creating audit rows lack
the new fields, so ``wangge audit verify`` compares them only where the log carries them.

Revision ID: 0023
Revises: 0026
Create Date: 2026-11-29 14:20:00
"""

from alembic import op

revision: str = "0023"
down_revision: str | None = "0026"

_DECISIONS = "'approve_extension', 'refuse_extension', 'approve_parking', 'refuse_parking'"
_REASONED = "'request_extension', 'request_parking', 'refuse_extension', 'refuse_parking', 'reopen'"


def upgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE event
            ADD COLUMN cycle integer NOT NULL DEFAULT 1 CHECK (cycle >= 1),
            ADD COLUMN request_kind varchar(16)
                CHECK (request_kind IN ('extension', 'parking')),
            ADD COLUMN requested_at timestamptz,
            ADD COLUMN request_reason text,
            ADD COLUMN request_deadline timestamptz,
            ADD COLUMN parked_until timestamptz,
            ADD CONSTRAINT ck_event_request_whole CHECK (
                (request_kind IS NULL) = (requested_at IS NULL)
                AND (request_kind IS NULL) = (request_reason IS NULL));
        ALTER TABLE event_audit
            ADD CONSTRAINT ck_event_audit_reason CHECK (
                action NOT IN ({_REASONED}) OR btrim(note) <> ''),
            ADD CONSTRAINT ck_event_audit_decision_named CHECK (
                action NOT IN ({_DECISIONS})
                OR (actor ~ '^[0-9]+$'
                    AND coalesce(btrim(data->>'asked_reason'), '') <> ''
                    AND coalesce(data->>'asked_by', '') <> ''));
        CREATE INDEX ix_event_request_pending ON event (request_kind)
            WHERE request_kind IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX ix_event_request_pending;
        ALTER TABLE event_audit
            DROP CONSTRAINT ck_event_audit_decision_named,
            DROP CONSTRAINT ck_event_audit_reason;
        ALTER TABLE event
            DROP CONSTRAINT ck_event_request_whole,
            DROP COLUMN parked_until,
            DROP COLUMN request_deadline,
            DROP COLUMN request_reason,
            DROP COLUMN requested_at,
            DROP COLUMN request_kind,
            DROP COLUMN cycle;
        """
    )
