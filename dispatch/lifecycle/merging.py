"""Duplicates among events: linking a report to the open event it duplicates, and the
dispatchers' merge of two open events (reversible by unmerge until the original is closed).

A linked or merged event has ``duplicate_of`` set: it counts once in every indicator (the
original counts; ``stats_counts`` v2), and its reporter sees the original's progress. Merge and
unmerge are the core's ``merge`` / ``unmerge`` (a running clock is paused with its remaining
time, as a suspension), one transaction with their audit and outbox rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from dispatch.access import check_visible
from dispatch.lifecycle.loading import load
from dispatch.outbox import DISPATCH, Outbox
from dispatch.store import record
from domain.intake import LINKABLE_STATUSES
from domain.jurisdiction import Principal
from domain.lifecycle import Action, Command, Status, apply
from domain.lifecycle.model import TERMINAL_STATUSES
from domain.roles import Role
from kernel.errors import Conflict, Forbidden, Invalid, field_error
from kernel.uow import UnitOfWork


def linkable(session: Session, original: int | None, event_id: int, where: str) -> int:
    """``original`` when ``event_id`` may be linked to it: another event, open (not yet fixed),
    itself unlinked (links never chain), and nothing is linked to ``event_id`` (that would
    chain too). ``Invalid`` at ``where`` otherwise."""
    if original is None:
        raise Invalid(field_error(where, "name the open event this one duplicates"))
    if original == event_id:
        raise Invalid(field_error(where, "an event cannot duplicate itself"))
    row = session.execute(
        text("SELECT status, duplicate_of FROM event WHERE id = :id FOR SHARE"), {"id": original}
    ).first()
    if row is None:
        raise Invalid(field_error(where, f"no event {original}"))
    status, root = row
    if root is not None:
        raise Invalid(
            field_error(where, f"event {original} is itself linked to {root}; link to {root}")
        )
    if Status(status) not in LINKABLE_STATUSES:
        raise Invalid(field_error(where, f"event {original} is {status}, not open"))
    linked_here = session.execute(
        text("SELECT min(id) FROM event WHERE duplicate_of = :id"), {"id": event_id}
    ).scalar()
    if linked_here is not None:
        raise Conflict(
            field_error(
                where, f"event {linked_here} is linked to event {event_id}; links never chain"
            )
        )
    return original


def link(session: Session, event_id: int, original: int) -> None:
    """Set ``duplicate_of`` (the statistics trigger then stops counting the event)."""
    result = session.execute(
        text("UPDATE event SET duplicate_of = :o WHERE id = :id AND duplicate_of IS NULL"),
        {"o": original, "id": event_id},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(field_error("duplicate_of", f"event {event_id} is already linked"))


@dataclass(frozen=True)
class MergeRequest:
    into: int | None = None
    note: str = ""
    version: int | None = None


def _dispatcher(principal: Principal) -> None:
    if principal.role is not Role.DISPATCHER:
        raise Forbidden("only the command centre (dispatcher) merges events")


def merge(
    *, uow: UnitOfWork, principal: Principal, event_id: int, request: MergeRequest, now: datetime
) -> None:
    """Park ``event_id`` as a duplicate of the open event ``request.into`` (dispatchers)."""
    _dispatcher(principal)
    session = uow.session
    loaded = load(session, event_id)
    check_visible(principal, loaded.event if loaded else None, event_id)
    assert loaded is not None
    into = linkable(session, request.into, event_id, "into")
    note = request.note or f"并入事件 {into}"
    decision = apply(
        loaded.state,
        Command(
            action=Action.MERGE,
            actor=str(principal.staff_id),
            note=note,
            expected_version=request.version,
        ),
        now=now,
        policy=loaded.policy,
    )
    record(session, decision, previous_version=loaded.state.version)
    link(session, event_id, into)
    uow.commit()


def unmerge(
    *, uow: UnitOfWork, principal: Principal, event_id: int, request: MergeRequest, now: datetime
) -> None:
    """Undo a merge while the original is not closed: the event returns where it was (a
    registered one is handed to the dispatch engine again, a pending report gets a fresh
    verification allowance) and counts on its own again."""
    _dispatcher(principal)
    session = uow.session
    loaded = load(session, event_id)
    check_visible(principal, loaded.event if loaded else None, event_id)
    assert loaded is not None
    original = loaded.event.duplicate_of
    if loaded.state.status is Status.MERGED and original is not None:
        status = session.execute(
            text("SELECT status FROM event WHERE id = :id"), {"id": original}
        ).scalar_one()
        if Status(status) in TERMINAL_STATUSES:
            raise Conflict(
                {
                    "loc": ["event_id"],
                    "msg": f"event {original}, which this one was merged into, is {status}: "
                    "the merge is final",
                    "type": "merge_final",
                    "status": status,
                }
            )
    decision = apply(
        loaded.state,
        Command(
            action=Action.UNMERGE,
            actor=str(principal.staff_id),
            note=request.note or f"撤销并入事件 {original}",
            expected_version=request.version,
        ),
        now=now,
        policy=loaded.policy,
    )
    record(session, decision, previous_version=loaded.state.version)
    session.execute(text("UPDATE event SET duplicate_of = NULL WHERE id = :id"), {"id": event_id})
    if decision.state.status is Status.PENDING_VERIFICATION:
        # A fresh verification allowance from the unmerge: the report's 按时核实 deadline is
        # the clock's (one definition, docs/decisions/0026).
        session.execute(
            text("UPDATE public_report SET verify_due_at = :due WHERE event_id = :id"),
            {"due": decision.state.verify_due_at, "id": event_id},
        )
    if decision.state.status is Status.REGISTERED:
        session.add(
            Outbox(
                event_id=event_id,
                topic=DISPATCH,
                payload={"event_id": event_id},
                created_at=now,
                available_at=now,
            )
        )
    uow.commit()
