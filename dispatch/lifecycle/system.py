"""The system's own writers: automatic dispatch (one event, or the backlog in report order)
and the SLA timers' warnings and breaches.

They are idempotent: each re-reads the event and does nothing when it has moved on, so RQ may
run them twice, late, or never (the reconciliation sweep calls them directly). Nothing locks
the event row while deciding: the version-checked write in ``dispatch.store.record`` makes a
writer that lost a race re-read and decide again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlmodel import Session

from dispatch.lifecycle import reconcile
from dispatch.lifecycle.assignment import CandidateCache, choose, lock_pools, pool_of
from dispatch.lifecycle.loading import Loaded, load, load_many
from dispatch.store import record, record_many
from dispatch.supervision.service import raise_notices
from domain.lifecycle import (
    Action,
    Command,
    Decision,
    Status,
    TimerKind,
    apply,
    current_timer_due,
    escalation_target,
)
from domain.supervision import notice_for
from kernel.errors import Conflict
from kernel.uow import UnitOfWork

log = logging.getLogger("wangge.dispatch")

#: The actor recorded for automatic dispatch, timers and the sweep.
SYSTEM_ACTOR = "system"
#: Attempts of a system writer that lost an optimistic race (it re-reads and decides again).
SYSTEM_ATTEMPTS = 3


def _system_write(
    uow: UnitOfWork,
    event_id: int,
    decide: Callable[[Loaded], Decision | None],
    also: Callable[[Loaded, Decision], None] | None = None,
) -> Decision | None:
    """Re-read, decide, record (and ``also`` what goes with the decision, in the same
    transaction), commit; on a lost race re-read and decide again."""
    for attempt in range(SYSTEM_ATTEMPTS):
        loaded = load(uow.session, event_id)
        decision = None if loaded is None else decide(loaded)
        if loaded is None or decision is None or decision.noop:
            uow.rollback()
            return None
        try:
            record(uow.session, decision, previous_version=loaded.state.version)
            if also is not None:
                also(loaded, decision)
        except Conflict:
            uow.rollback()
            log.info("event %s changed under a system write (attempt %d)", event_id, attempt + 1)
            continue
        uow.commit()
        return decision
    return None


def auto_dispatch(uow: UnitOfWork, event_id: int, now: datetime) -> Decision | None:
    """Dispatch a registered event to the handler the assignment rules choose (or the level's
    queue). Does nothing unless the event is still registered; returns the decision applied."""

    def decide(loaded: Loaded) -> Decision | None:
        if loaded.state.status is not Status.REGISTERED:
            return None
        assignment = choose(uow.session, loaded, level=None, now=now)
        command = Command(
            action=Action.DISPATCH, actor=SYSTEM_ACTOR, assignment=assignment, note="auto"
        )
        return apply(loaded.state, command, now=now, policy=loaded.policy)

    return _system_write(uow, event_id, decide)


#: Events one dispatch batch takes (one transaction).
DISPATCH_BATCH = 200


def dispatch_backlog(
    uow: UnitOfWork, now: datetime, *, limit: int = DISPATCH_BATCH
) -> list[Decision]:
    """Dispatch up to ``limit`` registered events, oldest report first (ties by id), in one
    transaction: the events claimed (another worker skips them and takes the next ones), read
    once, their pools locked in one order and read once each, every decision written together
    and committed. Returns the decisions written, in report order; an event changed meanwhile
    is dispatched on its own afterwards."""
    ids = reconcile.claim_undispatched(uow.session, limit=limit)
    loaded = load_many(uow.session, ids)
    lock_pools(uow.session, [pool_of(current, None) for current in loaded.values()])
    cache: CandidateCache = {}
    pending: list[tuple[Decision, int]] = []
    for event_id in ids:
        current = loaded.get(event_id)
        if current is None or current.state.status is not Status.REGISTERED:
            continue
        assignment = choose(uow.session, current, level=None, now=now, cache=cache)
        command = Command(
            action=Action.DISPATCH, actor=SYSTEM_ACTOR, assignment=assignment, note="auto"
        )
        pending.append(
            (apply(current.state, command, now=now, policy=current.policy), current.state.version)
        )
    written, conflicted = record_many(uow.session, pending)
    uow.commit()
    for event_id in conflicted:
        retried = auto_dispatch(uow, event_id, now)
        if retried is not None:
            written.append(retried)
    return written


@dataclass(frozen=True)
class TimerBatch:
    """What ``handle_timers`` did: the decisions written, and the timers that came early
    (with their due time: to be put back)."""

    applied: list[Decision]
    early: list[tuple[int, TimerKind, int, datetime]]


def handle_timers(
    uow: UnitOfWork, timers: Sequence[tuple[int, TimerKind, int]], now: datetime
) -> TimerBatch:
    """Many fired timers at once (a burst of deadlines): one read of their events, the
    candidates read once per pool, all decisions written and committed together. A timer whose
    event changed meanwhile is retried on its own (``handle_timer``); stale ones do nothing."""
    loaded = load_many(uow.session, sorted({t[0] for t in timers}))
    escalating = [
        pool_of(current, target)
        for event_id, kind, _ in timers
        if kind.is_breach
        and (current := loaded.get(event_id)) is not None
        and (target := escalation_target(current.state)) is not None
    ]
    lock_pools(uow.session, escalating)  # in one order, before any is read: no deadlock
    cache: CandidateCache = {}
    pending: list[tuple[Decision, int]] = []
    early: list[tuple[int, TimerKind, int, datetime]] = []
    fired: dict[int, tuple[Loaded, TimerKind]] = {}  # id(decision) → the event before, the timer
    for event_id, kind, deadline_version in timers:
        current = loaded.get(event_id)
        if current is None:
            continue
        state = current.state
        due = current_timer_due(state, kind, deadline_version)
        if due is None or due > now:
            if due is not None:
                early.append((event_id, kind, deadline_version, due))
            continue
        decision = _timer_decision(uow.session, current, kind, deadline_version, now, cache)
        pending.append((decision, state.version))
        fired[id(decision)] = (current, kind)
        loaded[event_id] = replace(current, state=decision.state)
    written, conflicted = record_many(uow.session, pending)
    _supervise(uow.session, [(d, *fired[id(d)]) for d in written])
    uow.commit()
    for event_id, kind, deadline_version in timers:
        if event_id in conflicted:
            retried = handle_timer(uow, event_id, kind, deadline_version, now)
            if retried is not None:
                written.append(retried)
    return TimerBatch(applied=written, early=early)


def _timer_decision(
    session: Session,
    loaded: Loaded,
    kind: TimerKind,
    deadline_version: int,
    now: datetime,
    cache: CandidateCache | None = None,
) -> Decision:
    state = loaded.state
    assignment = None
    action = Action.BREACH if kind.is_breach else Action.WARN
    target = escalation_target(state)
    if action is Action.BREACH and not kind.is_stage and target is not None:
        assignment = choose(session, loaded, level=target, now=now, cache=cache)
    command = Command(
        action=action,
        actor=SYSTEM_ACTOR,
        timer=kind,
        deadline_version=deadline_version,
        assignment=assignment,
    )
    return apply(state, command, now=now, policy=loaded.policy)


def handle_timer(
    uow: UnitOfWork, event_id: int, kind: TimerKind, deadline_version: int, now: datetime
) -> Decision | None:
    """A warning or breach timer fired: re-read the event and apply it if it is still current
    (a breach escalates to the next level's chosen handler). Stale or early → nothing."""

    def decide(loaded: Loaded) -> Decision | None:
        due = current_timer_due(loaded.state, kind, deadline_version)
        if due is None or now < due:
            return None
        return _timer_decision(uow.session, loaded, kind, deadline_version, now)

    def supervise(loaded: Loaded, decision: Decision) -> None:
        _supervise(uow.session, [(decision, loaded, kind)])

    return _system_write(uow, event_id, decide, supervise)


def _supervise(session: Session, recorded: Sequence[tuple[Decision, Loaded, TimerKind]]) -> None:
    """The 督办 notices of the breaches among decisions being recorded (same transaction)."""
    notices = [
        (notice_for(before.state, d.state, kind, d.audit.at), before.place)
        for d, before, kind in recorded
        if d.audit is not None and d.audit.action is Action.BREACH
    ]
    if notices:
        raise_notices(session, notices)


def timer_due_time(
    session: Session, event_id: int, kind: TimerKind, deadline_version: int
) -> datetime | None:
    """When a timer is due, or None when it no longer belongs to the event's deadlines."""
    loaded = load(session, event_id)
    if loaded is None:
        return None
    return current_timer_due(loaded.state, kind, deadline_version)
