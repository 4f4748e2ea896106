"""督办 (supervision notices): every breach of a deadline is put before the holder's superior,
who must acknowledge it. Pure rules: who the superior is, what a notice says, who may
acknowledge it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.jurisdiction import Place, Principal, within
from domain.lifecycle.model import EventState, TimerKind
from domain.roles import LEVEL_QUEUE_ROLE, Role

#: Whose work a role's superior oversees: a grid member's is the grid head (网格长), the head's
#: the community, the community's and a department's the command centre, which supervises
#: itself (its own lead acknowledges).
SUPERIOR: Mapping[Role, Role] = {
    Role.MEMBER: Role.HEAD,
    Role.HEAD: Role.COMMUNITY,
    Role.COMMUNITY: Role.DISPATCHER,
    Role.DISPATCHER: Role.DISPATCHER,
    Role.DEPARTMENT: Role.DISPATCHER,
}


@dataclass(frozen=True)
class Notice:
    """A supervision notice raised by the breach that made ``version`` of the event."""

    event_id: int
    version: int
    clock: str  # "ack" or "resolve": the clock that ran out
    holder_id: int | None  # who held the event when its clock ran out (None: a queue)
    holder_role: Role
    addressee_role: Role
    at: datetime


def notice_for(before: EventState, breached: EventState, kind: TimerKind, at: datetime) -> Notice:
    """The notice of a breach of ``kind`` recorded at ``at``: ``before`` the event as it stood
    when its clock ran out, ``breached`` as the breach left it (escalated, or not when nobody
    is above)."""
    holder_role = before.assignee_role or LEVEL_QUEUE_ROLE[before.level]
    return Notice(
        event_id=int(breached.event_id),
        version=breached.version,
        clock="ack" if kind.is_ack else "resolve",
        holder_id=int(before.assignee_id) if before.assignee_id else None,
        holder_role=holder_role,
        addressee_role=SUPERIOR[holder_role],
        at=at,
    )


def may_acknowledge(principal: Principal, addressee_role: Role, place: Place) -> bool:
    """The notice's addressee: the superior role, with the event's place in their reach."""
    return principal.role is addressee_role and within(principal, place)
