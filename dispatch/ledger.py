"""The audit log's tamper evidence in the database: filling in missing hashes, sealing the
day heads, reading them for publication (docs/decisions/0009-audit-evidence.md).

Row hashes are set by the trigger ``audit_chain`` when a row is inserted; the rules are in
``domain.audit``. A day is sealed once it is over (plus ``SEAL_GRACE``, so a writer that read
the clock before midnight has committed): its rows, the sha256 of their hashes in (event_id,
version) order, and a head chained to the day sealed before it. Sealed days are never sealed
again: a row that appears later on a sealed day, or one that changes or goes, shows up in
``wangge audit verify`` as a day whose rows no longer give its head.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from dispatch.events.models import AuditDayHead
from domain.audit import day_head
from kernel.settings import get_settings
from kernel.uow import UnitOfWork

log = logging.getLogger("wangge.audit")

#: How long after midnight a day waits before it is sealed.
SEAL_GRACE = timedelta(minutes=10)
#: Days sealed per statement (bounds the memory of the first seal of a long history).
SEAL_CHUNK_DAYS = 31


def day_start(day: date) -> datetime:
    """The first instant of a day in the service's time zone."""
    return datetime.combine(day, time(), tzinfo=get_settings().tz)


@dataclass(frozen=True)
class DayDigest:
    """What the audit rows of one day give now: how many, how many lack a hash, the digest."""

    day: date
    rows: int
    unhashed: int
    digest: bytes


def day_digests(session: Session, first: date, last: date) -> dict[date, DayDigest]:
    """The digest of every day from ``first`` to ``last`` that has audit rows."""
    rows = session.execute(
        text("""
        SELECT stats_day(at) AS day, count(*), count(*) FILTER (WHERE hash IS NULL),
               sha256(coalesce(string_agg(hash, ''::bytea ORDER BY event_id, version), ''))
          FROM event_audit WHERE at >= :start AND at < :end
         GROUP BY 1 ORDER BY 1
        """),
        {"start": day_start(first), "end": day_start(last + timedelta(days=1))},
    ).all()
    return {r[0]: DayDigest(r[0], int(r[1]), int(r[2]), bytes(r[3])) for r in rows}


def fill_chain(session: Session) -> int:
    """Hash the audit rows that have no hash (inserted with the trigger audit_chain disabled).
    No commit."""
    return int(session.execute(text("SELECT audit_chain_fill()")).scalar_one())


def last_sealed(session: Session) -> AuditDayHead | None:
    return session.exec(
        select(AuditDayHead).order_by(col(AuditDayHead.day).desc()).limit(1)
    ).first()


def seal_days(uow: UnitOfWork, *, now: datetime) -> int:
    """Seal every finished day after the last sealed one that has audit rows, in order; stop
    before a day with unhashed rows (run ``wangge audit fill`` first). Writers of audit rows
    wait while it reads (a share lock: none can slip a row in between). Commits; returns the
    days sealed."""
    session = uow.session
    end = (now - SEAL_GRACE).astimezone(get_settings().tz).date()  # first day not to seal
    previous = last_sealed(session)
    if previous is not None and previous.day >= end - timedelta(days=1):
        return 0
    session.execute(text("LOCK TABLE event_audit IN SHARE MODE"))
    if previous is None:
        oldest = session.execute(text("SELECT min(at) FROM event_audit")).scalar()
        if oldest is None:
            return 0
        first = oldest.astimezone(get_settings().tz).date()
    else:
        first = previous.day + timedelta(days=1)
    head = None if previous is None else previous.head
    sealed = 0
    while first < end:
        last = min(first + timedelta(days=SEAL_CHUNK_DAYS - 1), end - timedelta(days=1))
        for digest in day_digests(session, first, last).values():
            if digest.unhashed:
                log.warning(
                    "audit day %s has %d unhashed rows: not sealed", digest.day, digest.unhashed
                )
                uow.commit()
                return sealed
            head = day_head(head, digest.day, digest.rows, digest.digest)
            session.add(
                AuditDayHead(
                    day=digest.day, rows=digest.rows, digest=digest.digest, head=head, sealed_at=now
                )
            )
            sealed += 1
        session.flush()
        first = last + timedelta(days=1)
    uow.commit()
    return sealed


def day_heads(session: Session, first: date | None, last: date | None) -> Sequence[AuditDayHead]:
    """The sealed days between ``first`` and ``last`` (inclusive; None: unbounded), by day."""
    query = select(AuditDayHead).order_by(col(AuditDayHead.day))
    if first is not None:
        query = query.where(col(AuditDayHead.day) >= first)
    if last is not None:
        query = query.where(col(AuditDayHead.day) <= last)
    return session.exec(query).all()


def head_before(session: Session, day: date) -> AuditDayHead | None:
    """The sealed day just before ``day`` (whose head the next one chains to)."""
    return session.exec(
        select(AuditDayHead)
        .where(col(AuditDayHead.day) < day)
        .order_by(col(AuditDayHead.day).desc())
        .limit(1)
    ).first()
