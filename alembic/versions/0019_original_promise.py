"""the original promise and the rejection note on the event; the on-promise handling counter

``event.promised_ack_at`` / ``event.promised_due_at``: the acknowledgement and resolution
deadlines of the first dispatch, moved afterwards only by a pause (suspension, merge) — rework,
re-dispatch, escalation and breaches restart ``ack_due_at`` / ``due_at`` (the stage clock) but
not the promise (docs/decisions/0013). ``event.rejection_note`` / ``event.rejected_at``: the last
rejected review of a fix.

Backfill from the audit log: the promise is the deadlines written by the event's first audit
row that set ``due_at`` (its first dispatch), moved later by the length of each later pause (the
acknowledgement promise only by pauses that began before acknowledgement), in wall time: exact
on the ``24x7`` calendar, which every category had until migration 0015 and the seed still
uses; on a working-time calendar a pause that spans non-working time overstates the shift.
The rejection is the last review of a fix that did not close the event. The audit rows of
events created before this migration do not carry these fields, so ``wangge audit verify``
compares them only where the log carries them (every event created from now on: its first row
holds every field).

``stats_counts`` type v2 / function v3, ``stats_add`` v2, ``stats_rebuild`` v3: the counter
``handled_on_promise`` (the fix at or before ``promised_due_at``) in ``stats_daily`` and
``stats_counter_block``; the counters are rebuilt.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 12:00:00
"""

from alembic import op
from kernel.sqlfiles import read_sql

revision: str = "0019"
down_revision: str | None = "0018"


BACKFILL_SQL = """
WITH RECURSIVE first_due AS (
  SELECT DISTINCT ON (a.event_id) a.event_id,
         (a.data->>'ack_due_at')::timestamptz AS ack, (a.data->>'due_at')::timestamptz AS due,
         a.version
    FROM event_audit a
   WHERE a.data->>'due_at' IS NOT NULL
   ORDER BY a.event_id, a.version
), starts AS (
  SELECT a.event_id, a.version, (a.data->>'suspended_at')::timestamptz AS began,
         a.data->>'resume_status' = 'dispatched' AS before_ack,
         row_number() OVER (PARTITION BY a.event_id ORDER BY a.version) AS n
    FROM event_audit a JOIN first_due f ON f.event_id = a.event_id AND a.version > f.version
   WHERE a.data->>'suspended_at' IS NOT NULL
), ends AS (
  SELECT a.event_id, a.at AS ended,
         row_number() OVER (PARTITION BY a.event_id ORDER BY a.version) AS n
    FROM event_audit a JOIN first_due f ON f.event_id = a.event_id AND a.version > f.version
   WHERE a.data ? 'suspended_at' AND a.data->'suspended_at' = 'null'::jsonb
     AND a.action IN ('resume', 'unmerge')
), pauses AS (
  SELECT s.event_id, s.n, s.began, s.before_ack, e.ended
    FROM starts s JOIN ends e ON e.event_id = s.event_id AND e.n = s.n
), promise (event_id, n, ack, due) AS (
  SELECT event_id, 0::bigint, ack, due FROM first_due
  UNION ALL
  SELECT r.event_id, p.n,
         CASE WHEN p.before_ack THEN r.ack + (p.ended - p.began) ELSE r.ack END,
         r.due + (p.ended - p.began)
    FROM promise r JOIN pauses p ON p.event_id = r.event_id AND p.n = r.n + 1
), final AS (
  SELECT DISTINCT ON (event_id) event_id, ack, due FROM promise ORDER BY event_id, n DESC
)
UPDATE event e SET promised_ack_at = f.ack, promised_due_at = f.due
  FROM final f WHERE f.event_id = e.id;

UPDATE event e SET rejection_note = r.note, rejected_at = r.at
  FROM (SELECT DISTINCT ON (event_id) event_id, note, at FROM event_audit
         WHERE action = 'review' AND from_status = 'resolved' AND to_status <> 'closed'
         ORDER BY event_id, version DESC) r
 WHERE r.event_id = e.id;
"""


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE event ADD COLUMN promised_ack_at timestamptz,
                          ADD COLUMN promised_due_at timestamptz,
                          ADD COLUMN rejection_note text,
                          ADD COLUMN rejected_at timestamptz;
        ALTER TABLE stats_daily ADD COLUMN handled_on_promise integer NOT NULL DEFAULT 0;
        ALTER TABLE stats_daily ALTER COLUMN handled_on_promise DROP DEFAULT;
        ALTER TABLE stats_counter_block ADD COLUMN handled_on_promise integer NOT NULL DEFAULT 0;
        ALTER TABLE stats_counter_block ALTER COLUMN handled_on_promise DROP DEFAULT;
        """
    )
    # One statement over the log instead of a trigger call per event row: the counters are
    # rebuilt below anyway.
    op.execute("ALTER TABLE event DISABLE TRIGGER stats_event")
    op.execute(BACKFILL_SQL)
    op.execute("ALTER TABLE event ENABLE TRIGGER stats_event")
    op.execute("ALTER TYPE stats_counts ADD ATTRIBUTE handled_on_promise integer")
    op.execute(read_sql("stats_counts.v3"))
    op.execute(read_sql("stats_add.v2"))
    op.execute(read_sql("stats_rebuild.v3"))
    op.execute("SELECT stats_rebuild()")


def downgrade() -> None:
    op.execute("ALTER TYPE stats_counts DROP ATTRIBUTE handled_on_promise")
    op.execute(read_sql("stats_counts.v2"))
    op.execute(read_sql("stats_add.v1"))
    op.execute(read_sql("stats_rebuild.v2"))
    op.execute(
        """
        ALTER TABLE stats_counter_block DROP COLUMN handled_on_promise;
        ALTER TABLE stats_daily DROP COLUMN handled_on_promise;
        ALTER TABLE event DROP COLUMN rejected_at, DROP COLUMN rejection_note,
                          DROP COLUMN promised_due_at, DROP COLUMN promised_ack_at;
        """
    )
    op.execute("SELECT stats_rebuild()")
