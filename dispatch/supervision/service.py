"""Supervision notices (督办): written with the breach that raises them, listed for their
addressees and the command centre, acknowledged once, counted per grid and department. The
rules (who is the superior, who may acknowledge) are ``domain.supervision``'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, func, select, true, update
from sqlmodel import Field, Session, SQLModel, col

from domain.jurisdiction import REACH, Place, Principal, Reach
from domain.roles import Role
from domain.supervision import Notice, may_acknowledge
from kernel.errors import Conflict, Forbidden, NotFound
from staff.jurisdiction import within_sql


class Supervision(SQLModel, table=True):
    """One notice (migration 0021)."""

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    version: int
    clock: str
    holder_id: int | None = None
    holder_role: str
    addressee_role: str
    grid_id: int | None = None
    community_id: int | None = None
    department: str | None = Field(default=None, sa_column=Column(String(64)))
    raised_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    acknowledged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    acknowledged_by: int | None = Field(default=None, sa_column=Column(Integer))


def raise_notices(session: Session, notices: Sequence[tuple[Notice, Place]]) -> None:
    """Write the notices of breaches being recorded in this transaction (no commit)."""
    session.add_all(
        Supervision(
            event_id=n.event_id,
            version=n.version,
            clock=n.clock,
            holder_id=n.holder_id,
            holder_role=n.holder_role.value,
            addressee_role=n.addressee_role.value,
            grid_id=_int(place.grid_id),
            community_id=_int(place.community_id),
            department=place.department,
            raised_at=n.at,
        )
        for n, place in notices
    )
    session.flush()


def _int(value: int | str | None) -> int | None:
    return None if value is None else int(value)


def _mine(principal: Principal) -> Any:
    """Notices addressed to the principal's role within their reach."""
    s = Supervision.__table__.c  # type: ignore[attr-defined]
    return (col(Supervision.addressee_role) == principal.role.value) & within_sql(
        principal, grid=s.grid_id, community=s.community_id, department=s.department
    )


def _theirs(principal: Principal) -> Any:
    """The principal's notices: addressed to them, or every notice for those whose reach is
    everywhere (the command centre, evaluators, admins)."""
    return true() if REACH[principal.role] is Reach.EVERYWHERE else _mine(principal)


def open_count(session: Session, *, principal: Principal) -> int:
    """How many of the principal's notices wait for acknowledgement."""
    return int(
        session.execute(
            select(func.count())
            .select_from(Supervision)
            .where(_theirs(principal), col(Supervision.acknowledged_at).is_(None))
        ).scalar_one()
    )


def listed(
    session: Session, *, principal: Principal, open_only: bool, limit: int
) -> list[Supervision]:
    """The principal's notices (``_theirs``), newest first."""
    query = select(Supervision).where(_theirs(principal))
    if open_only:
        query = query.where(col(Supervision.acknowledged_at).is_(None))
    query = query.order_by(col(Supervision.raised_at).desc(), col(Supervision.id).desc())
    return list(session.execute(query.limit(limit)).scalars())


def acknowledge(
    session: Session, *, principal: Principal, notice_id: int, now: datetime
) -> Supervision:
    """The addressee acknowledges a notice, once: 403 for anyone else, 409 when it was
    acknowledged already (naming by whom and when). No commit."""
    notice = session.get(Supervision, notice_id)
    if notice is None:
        raise NotFound(f"no supervision notice {notice_id}")
    place = Place(notice.grid_id, notice.community_id, notice.department)
    if not may_acknowledge(principal, Role(notice.addressee_role), place):
        raise Forbidden(
            f"this notice is addressed to the {notice.addressee_role} of the event's place"
        )
    done = session.execute(
        update(Supervision)
        .where(col(Supervision.id) == notice_id, col(Supervision.acknowledged_at).is_(None))
        .values(acknowledged_at=now, acknowledged_by=principal.staff_id)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(notice)
        raise Conflict(
            {
                "msg": "this notice was acknowledged already",
                "type": "already_acknowledged",
                "acknowledged_by": notice.acknowledged_by,
                "acknowledged_at": notice.acknowledged_at.isoformat()
                if notice.acknowledged_at
                else None,
            }
        )
    session.refresh(notice)
    return notice


@dataclass(frozen=True)
class Counts:
    group: str  # "grid" or "department"
    key: int | str | None
    raised: int
    acknowledged: int


def counts(session: Session, *, since: datetime, until: datetime) -> list[Counts]:
    """Notices raised in ``[since, until)`` per grid and per department, and how many of them
    are acknowledged."""
    rows: list[Counts] = []
    for group, column in (("grid", Supervision.grid_id), ("department", Supervision.department)):
        query = (
            select(
                col(column),
                func.count(),
                func.count().filter(col(Supervision.acknowledged_at).is_not(None)),
            )
            .where(col(Supervision.raised_at) >= since, col(Supervision.raised_at) < until)
            .group_by(col(column))
            .order_by(col(column))
        )
        if group == "department":
            query = query.where(col(Supervision.department).is_not(None))
        rows += [Counts(group, k, int(n), int(a)) for k, n, a in session.execute(query).all()]
    return rows
