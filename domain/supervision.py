"""督办 (supervision notices): every breach of a deadline is put before the holder's superior,
who must acknowledge it. Pure rules: who the superior is (``domain.roles.SUPERIOR``), what a
notice says, who may acknowledge it, and who decides a holder's extension or parking request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.jurisdiction import Place, Principal, within
from domain.lifecycle.engine import stage_role
from domain.lifecycle.model import Clock, EventState, TimerKind
from domain.roles import LEVEL_QUEUE_ROLE, SUPERIOR, Role

__all__ = ["SUPERIOR", "Notice", "may_acknowledge", "may_decide", "notice_for"]


@dataclass(frozen=True)
class Notice:
    """A supervision notice raised by the breach that made ``version`` of the event."""

    event_id: int
    version: int
    clock: str  # "ack", "resolve", "verify", "dispatch" or "review": the clock that ran out
    holder_id: int | None  # who held the event when its clock ran out (None: a queue)
    holder_role: Role
    addressee_role: Role
    at: datetime


def notice_for(before: EventState, breached: EventState, kind: TimerKind, at: datetime) -> Notice:
    """The notice of a breach of ``kind`` recorded at ``at``: ``before`` the event as it stood
    when its clock ran out, ``breached`` as the breach left it (escalated, or not when nobody
    is above). A stage clock's breach names the stage's queue as the holder and is addressed
    to whoever answers for the stage: the grid head for 核实 (the grid's staff — members and
    head — go and look; the head leads them, the members' superior), the command centre for
    派遣 (it dispatches), the reviewer's own level for 核查 (the grid head reviews a member's
    fix, the command centre all others': ``reviewer_role``), so the reviewer is reminded by
    the breach itself."""
    if kind.is_stage:  # nobody holds the event: the stage's queue does
        addressee = stage_role(before, kind.clock)
        return Notice(
            event_id=int(breached.event_id),
            version=breached.version,
            clock=kind.clock.value,
            holder_id=None,
            holder_role=Role.MEMBER if kind.clock is Clock.VERIFY else addressee,
            addressee_role=addressee,
            at=at,
        )
    holder_role = before.assignee_role or LEVEL_QUEUE_ROLE[before.level]
    return Notice(
        event_id=int(breached.event_id),
        version=breached.version,
        clock=kind.clock.value,
        holder_id=int(before.assignee_id) if before.assignee_id else None,
        holder_role=holder_role,
        addressee_role=SUPERIOR[holder_role],
        at=at,
    )


def may_acknowledge(principal: Principal, addressee_role: Role, place: Place) -> bool:
    """The notice's addressee: the superior role, with the event's place in their reach."""
    return principal.role is addressee_role and within(principal, place)


def may_decide(principal: Principal, holder_id: int, holder_role: Role, place: Place) -> bool:
    """Who approves or refuses a holder's extension or parking request: the holder's superior
    (``SUPERIOR``) with the event's place in their reach, or the command centre, which is above
    every level; never the holder (a grid member does not approve their own extension, nor a
    dispatcher their own)."""
    if principal.staff_id == holder_id:
        return False
    if principal.role is Role.DISPATCHER:
        return True
    return principal.role is SUPERIOR[holder_role] and within(principal, place)
