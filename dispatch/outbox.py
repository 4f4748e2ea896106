"""The outbox: its table, and all its SQL (claim pending rows for the relay, mark them done or
failed).

Rows are written by ``dispatch.store.record`` (and the report service) in the same transaction
as the state change they announce. The relay claims a batch with ``FOR UPDATE SKIP LOCKED``, so
several relays (one per worker) never hand the same row to Redis at
the same time, and marks the batch processed in the same transaction once Redis has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Column, Identity, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Session, SQLModel

from kernel.db import timestamp_field as _ts


class Outbox(SQLModel, table=True):
    """Messages written in the same transaction as a state change; the relay hands them to
    RQ (timers, dispatch jobs) and to the notification adapters, then marks them done."""

    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "available_at",
            postgresql_where=text("processed_at IS NULL"),
        ),
        Index(
            "ix_outbox_processed",
            "processed_at",
            postgresql_where=text("processed_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    event_id: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    topic: str = Field(max_length=32, description="timer.set | timer.cancel | notify | dispatch")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = _ts(nullable=False)
    available_at: datetime = _ts(nullable=False)
    processed_at: datetime | None = _ts()
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))


TIMER_SET = "timer.set"
TIMER_CANCEL = "timer.cancel"
NOTIFY = "notify"
DISPATCH = "dispatch"
STREAM = "stream"
TOPICS = (TIMER_SET, TIMER_CANCEL, NOTIFY, DISPATCH, STREAM)
#: The longest a failing row waits before the relay tries it again.
MAX_BACKOFF = timedelta(seconds=5)


@dataclass(frozen=True)
class Message:
    """One claimed outbox row."""

    id: int
    event_id: int | None
    topic: str
    payload: dict[str, Any]
    attempts: int


def claim_pending(session: Session, *, now: datetime, batch: int) -> list[Message]:
    """Lock up to ``batch`` pending rows that are due, oldest first, skipping rows another relay
    holds."""
    rows = session.execute(
        text(
            "SELECT id, event_id, topic, payload, attempts FROM outbox"
            " WHERE processed_at IS NULL AND available_at <= :now"
            " ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED"
        ),
        {"now": now, "batch": batch},
    ).all()
    return [Message(int(i), e, str(t), dict(p), int(a)) for i, e, t, p, a in rows]


def mark_processed(session: Session, ids: list[int], *, now: datetime) -> None:
    session.execute(
        text("UPDATE outbox SET processed_at = :now, last_error = NULL WHERE id = ANY(:ids)"),
        {"now": now, "ids": ids},
    )


def mark_failed(session: Session, ids: list[int], *, now: datetime, error: str) -> None:
    """Leave the rows pending: one more attempt counted, the error kept, a short backoff."""
    session.execute(
        text(
            "UPDATE outbox SET attempts = attempts + 1, last_error = :error,"
            " available_at = :now + least(interval '200 milliseconds' * power(2, attempts),"
            " :max_backoff)"
            " WHERE id = ANY(:ids)"
        ),
        {"now": now, "ids": ids, "error": error[:2000], "max_backoff": MAX_BACKOFF},
    )


#: Rows deleted per statement by ``purge_processed``: short transactions, short locks.
PURGE_BATCH = 1000


def purge_processed(session: Session, *, before: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete up to ``batch`` rows processed before ``before`` (oldest first, skipping rows
    another transaction holds); how many went. Pending and failing rows are never touched."""
    deleted = session.execute(
        text(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
            " WHERE processed_at IS NOT NULL AND processed_at < :before"
            " ORDER BY processed_at LIMIT :batch FOR UPDATE SKIP LOCKED)"
        ),
        {"before": before, "batch": batch},
    )
    return int(deleted.rowcount)  # type: ignore[attr-defined]


def get_message(session: Session, outbox_id: int) -> Message | None:
    row = session.execute(
        text("SELECT id, event_id, topic, payload, attempts FROM outbox WHERE id = :id"),
        {"id": outbox_id},
    ).first()
    if row is None:
        return None
    i, e, t, p, a = row
    return Message(int(i), e, str(t), dict(p), int(a))


@dataclass(frozen=True)
class Backlog:
    """The pending rows of one topic: how many, how many failed at least once, the oldest."""

    topic: str
    pending: int
    failing: int
    oldest_at: datetime | None


def backlog(session: Session) -> list[Backlog]:
    """The pending rows per topic (every topic listed, zeros included): what the relay has not
    handed on yet. Reads the partial index of pending rows only."""
    rows = session.execute(
        text(
            "SELECT topic, count(*), count(*) FILTER (WHERE attempts > 0), min(created_at)"
            " FROM outbox WHERE processed_at IS NULL GROUP BY topic"
        )
    ).all()
    found = {str(t): Backlog(str(t), int(n), int(f), at) for t, n, f, at in rows}
    return [found.get(t, Backlog(t, 0, 0, None)) for t in TOPICS] + [
        b for t, b in found.items() if t not in TOPICS
    ]
