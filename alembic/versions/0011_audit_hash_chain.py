"""tamper-evident audit log: per-event hash chain, append-only rows, sealed day heads

``event_audit.hash`` = sha256(hash of the event's previous row (by version) || the row's
canonical text, ``audit_canonical``), set by the BEFORE INSERT trigger ``audit_chain`` in the
transaction that writes the row, whoever writes it: the trigger is ENABLE ALWAYS, so a bulk
load in ``session_replication_role = replica`` gets its hashes too. Existing rows are hashed
here (``audit_chain_fill``: one UPDATE of every row, so a large table holds twice its rows'
space until VACUUM FULL or autovacuum reclaims it).

``audit_day_head``: per service-time-zone day, the number of audit rows whose ``at`` falls on
it, the sha256 of their hashes in (event_id, version) order, and the head chained over the
days sealed before: sha256(previous head || 'YYYY-MM-DD:rows:' || digest). The worker seals
finished days (``dispatch.ledger.seal_days``); the heads are what is published. ``at`` gets an index
(sealing and verifying read a day's rows by it).

Who may change audit rows (docs/decisions/0009-audit-evidence.md):

- the trigger ``audit_append_only`` refuses UPDATE and DELETE of any audit row to every role,
  the table's owner included (the one UPDATE it lets through gives a row without a hash its
  hash and changes nothing else). This is what the tests exercise: they connect as the
  superuser ``postgres``, to whom grants do not apply;
- in a deployment where the service connects as its own role (not the owner), grant it no
  more than it needs, so that even switching the trigger off is out of its reach::

      REVOKE UPDATE, DELETE, TRUNCATE ON event_audit, audit_day_head FROM wangge_app;
      GRANT SELECT, INSERT ON event_audit, audit_day_head TO wangge_app;

  This migration revokes UPDATE, DELETE and TRUNCATE from PUBLIC. TRUNCATE has no row
  trigger; a truncated log shows up in ``wangge audit verify`` (events without audit rows,
  sealed days whose rows are gone).

``stats_setting`` gains the time limits of the national indicators: ``register_limit_minutes``
(report → registration, 按时立案) and ``review_limit_minutes`` (fix → review, 按时核查).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 09:00:00
"""

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0011"
down_revision: str | None = "0010"


def upgrade() -> None:
    op.execute("ALTER TABLE event_audit ADD COLUMN hash bytea")
    op.create_index("ix_event_audit_at", "event_audit", ["at"])
    op.execute(
        """
        CREATE TABLE audit_day_head (
            day date PRIMARY KEY,
            rows bigint NOT NULL,
            digest bytea NOT NULL,
            head bytea NOT NULL,
            sealed_at timestamptz NOT NULL
        )
        """
    )
    for name in ("audit_canonical.v1", "audit_chained.v1",
                 "audit_append_only.v1", "audit_chain_fill.v1", "audit_replay.v1"):  # fmt: skip
        op.execute(read_sql(name))
    # the hash is set even in session_replication_role = replica (bulk loads keep their other
    # triggers off): no row arrives without it unless someone disables this trigger by name
    op.execute("ALTER TABLE event_audit ENABLE ALWAYS TRIGGER audit_chain")
    op.execute("SELECT audit_chain_fill()")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON event_audit, audit_day_head FROM PUBLIC")
    op.execute(
        "INSERT INTO stats_setting (key, value) VALUES"
        " ('register_limit_minutes', 60), ('review_limit_minutes', 60)"
        " ON CONFLICT (key) DO NOTHING"
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM stats_setting WHERE key IN ('register_limit_minutes', 'review_limit_minutes')"
    )
    op.execute("DROP TRIGGER audit_append_only ON event_audit")
    op.execute("DROP TRIGGER audit_chain ON event_audit")
    op.execute("DROP AGGREGATE audit_replay(jsonb)")
    for function in ("audit_append_only()", "audit_chained()", "audit_chain_fill()",
                     "audit_canonical(event_audit)"):  # fmt: skip
        op.execute(f"DROP FUNCTION {function}")
    op.execute("DROP TABLE audit_day_head")
    op.drop_index("ix_event_audit_at", table_name="event_audit")
    op.execute("ALTER TABLE event_audit DROP COLUMN hash")
