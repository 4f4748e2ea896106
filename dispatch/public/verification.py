"""On-site verification (现场核实) of a public or hotline report, by the grid's staff or the
command centre: confirm (registered, handed to the dispatch engine; its clocks start now, its
report time is kept), reject (voided with a reason and a photo at stage ``verify``), or link
to an open event as its duplicate (voided, ``duplicate_of`` set: it counts once, and its
reporter follows the original). One transaction with its audit and outbox rows.

A confirmed report that matches a closed event (``domain.intake.to_reopen``: same category,
within the duplicate distance, closed within ``WANGGE_REOPEN_WINDOW_DAYS``, and no open
duplicate candidate) is the case coming back (复发): in the same transaction the closed event is
reopened by the system (the core's ``reopen``: a new cycle, counted as 返工) and the report is
linked to it as a duplicate (stored outcome ``duplicate``), instead of opening a new event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from dispatch.access import check_visible
from dispatch.events.models import Event
from dispatch.lifecycle.loading import load
from dispatch.lifecycle.merging import link, linkable
from dispatch.lifecycle.system import SYSTEM_ACTOR
from dispatch.outbox import DISPATCH, Outbox
from dispatch.photos.schemas import Stage
from dispatch.photos.service import count_photos
from dispatch.public.duplicates import reopen_match
from dispatch.public.models import PublicReport
from dispatch.public.reads import point_of
from dispatch.store import record
from domain.intake import REJECT_LABELS, ClosedCandidate, Outcome, RejectReason
from domain.jurisdiction import Place, Principal, serves
from domain.lifecycle import (
    Action,
    Command,
    IllegalTransition,
    Status,
    allowed_actions,
    apply,
)
from domain.roles import GRID_LEVEL, Role
from kernel.errors import Forbidden, Invalid, field_error
from kernel.uow import UnitOfWork


@dataclass(frozen=True)
class VerifyRequest:
    outcome: Outcome
    reason: RejectReason | None = None
    duplicate_of: int | None = None
    note: str = ""
    version: int | None = None
    reopen: bool = True  # a confirmation may reopen a matching closed event (复发)


def may_verify(principal: Principal, event: Event) -> bool:
    """The grid's own staff (members and head of the event's grid) and the command centre."""
    if principal.role is Role.DISPATCHER:
        return True
    return serves(
        principal.role,
        principal.workplace,
        GRID_LEVEL,
        # the grid the report fell in, whatever level its category starts at
        Place(event.grid_id, event.community_id, None),
    )


def verify(
    *,
    uow: UnitOfWork,
    principal: Principal,
    event_id: int,
    request: VerifyRequest,
    now: datetime,
) -> None:
    """Decide a pending report. 404 when not visible, 403 when not the grid's staff or the
    command centre, 409 when it is not pending verification (or a stale ``version``), 422 for
    a reject without a reason or photo, or a link to an event that cannot take it."""
    session = uow.session
    loaded = load(session, event_id)
    check_visible(principal, loaded.event if loaded else None, event_id)
    assert loaded is not None
    if not may_verify(principal, loaded.event):
        raise Forbidden("only the grid's staff or the command centre verify a report")
    public = session.get(PublicReport, event_id)
    state = loaded.state
    if state.status is not Status.PENDING_VERIFICATION or public is None:
        raise IllegalTransition(state, Action.VERIFY, allowed_actions(state))
    outcome_note = request.note
    target: ClosedCandidate | None = None
    if request.outcome is Outcome.CONFIRMED and request.reopen:
        target = _closed_match(session, loaded.event, now)
    if target is not None:
        _reopen(session, target, event_id, principal, request.note, now)
        original = target.event_id
        outcome_note = f"核实属实，系已结案事件 {original} 复发：已重开并入" + (
            f"（{request.note}）" if request.note else ""
        )
        action, note = Action.VOID, f"核实属实，复发，重开事件 {original} 并入"
    elif request.outcome is Outcome.CONFIRMED:
        action, note = Action.VERIFY, request.note or "核实属实"
    elif request.outcome is Outcome.REJECTED:
        if request.reason is None:
            raise Invalid(field_error("reason", "a rejection needs a reason"))
        if count_photos(session, event_id, Stage.verify) < 1:
            raise Invalid(
                field_error(
                    "photos", "attach a photo of the place (stage 'verify') before rejecting"
                )
            )
        label = REJECT_LABELS[request.reason]
        outcome_note = f"{label}：{request.note}" if request.note else label
        action, note = Action.VOID, f"核实未通过（{outcome_note}）"
    else:
        original = linkable(session, request.duplicate_of, event_id, "duplicate_of")
        action, note = Action.VOID, f"重复上报，并入事件 {original}"
        outcome_note = request.note
    decision = apply(
        state,
        Command(
            action=action,
            actor=str(principal.staff_id),
            note=note,
            expected_version=request.version,
        ),
        now=now,
        policy=loaded.policy,
    )
    record(session, decision, previous_version=state.version)
    if target is not None:
        linkable(session, target.event_id, event_id, "outcome")
        link(session, event_id, target.event_id)
    elif request.outcome is Outcome.CONFIRMED:
        session.add(
            Outbox(
                event_id=event_id,
                topic=DISPATCH,
                payload={"event_id": event_id},
                created_at=now,
                available_at=now,
            )
        )
    elif request.outcome is Outcome.DUPLICATE:
        assert request.duplicate_of is not None
        link(session, event_id, request.duplicate_of)
    public.verified_at = now
    public.outcome = (Outcome.DUPLICATE if target is not None else request.outcome).value
    public.outcome_note = outcome_note
    public.verified_by = principal.staff_id
    session.add(public)
    uow.commit()


def _closed_match(session: Session, event: Event, now: datetime) -> ClosedCandidate | None:
    """The closed event a confirmation of ``event`` reopens, or None; never when reports are
    linked to this one (linking it in turn would chain links)."""
    assert event.id is not None
    if session.execute(
        text("SELECT 1 FROM event WHERE duplicate_of = :id LIMIT 1"), {"id": event.id}
    ).first():
        return None
    lon, lat = point_of(session, event.id)
    return reopen_match(
        session, event_id=event.id, category_id=event.category_id, lon=lon, lat=lat, now=now
    ).target


def _reopen(
    session: Session,
    target: ClosedCandidate,
    report: int,
    principal: Principal,
    note: str,
    now: datetime,
) -> None:
    """重开 by the system, as the command centre's reopening does it (the core's ``reopen``: a
    new cycle to the closed cycle's handler, counted as rework; its audit, timer and
    notification rows). Version-checked: a concurrent change of the closed event is a 409 and
    the whole verification is rolled back."""
    loaded = load(session, target.event_id)
    assert loaded is not None
    who = f"核实人 {principal.staff_id}"
    decision = apply(
        loaded.state,
        Command(
            action=Action.REOPEN,
            actor=SYSTEM_ACTOR,
            note=f"复发：群众举报 {report} 经现场核实属实（{who}）" + (f"：{note}" if note else ""),
            expected_version=target.version,
        ),
        now=now,
        policy=loaded.policy,
    )
    record(session, decision, previous_version=loaded.state.version)
