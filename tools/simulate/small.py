"""Small runs: each event acted out on the dispatch core and written by ``dispatch.store``.

The event is created with ``store.insert_event`` (the statement the API's report runs) and
every later decision is written with ``store.record`` (state, audit row, outbox rows), so the
statistics triggers see the rows one by one, under a simulated clock.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlmodel import Session

from dispatch import store
from domain.lifecycle import Decision
from kernel.db import driver_connection
from kernel.uow import UnitOfWork
from tools.simulate.patrols import insert_patrols, patrol_plans
from tools.simulate.plans import Plan, default_window, plans, report_of
from tools.simulate.play import act_out
from tools.simulate.public import PublicRows
from tools.simulate.summary import Summary
from tools.simulate.world import World, ensure_synthetic_grids, load_world, to_us


def record_plan(session: Session, world: World, plan: Plan, *, cutoff: int) -> list[Decision]:
    """One event through the dispatch core and ``dispatch.store`` (no commit)."""
    _, engine = act_out(world, plan, store.next_event_id(session), cutoff=cutoff)
    first, *rest = engine.decisions
    report, lon, lat = report_of(world, plan)
    store.insert_event(session, first, report, lon=lon, lat=lat)
    for decision in rest:
        store.record(session, decision, previous_version=decision.state.version - 1)
    return engine.decisions


def simulate(
    uow: UnitOfWork,
    *,
    days: int,
    seed: int,
    per_day: float | None = None,
    grids: int | None = None,
    until: date | None = None,
    now: datetime | None = None,
    patrols: bool = True,
) -> Summary:
    """A small run through the real services; commits once per simulated day."""
    began = time.perf_counter()
    now = now or datetime.now(UTC)
    summary = Summary()
    if grids:
        summary.added_grids = ensure_synthetic_grids(uow.session, grids)
        uow.commit()
    world = load_world(uow.session, grids=grids, seed=seed)
    window = default_window(days, until, now)
    cutoff = to_us(now)
    rate = per_day if per_day is not None else 1.5 * len(world.grids)
    event_ids: list[int] = []
    public = PublicRows(world, cutoff)
    for batch in plans(world, window, seed=seed, per_day=rate):
        for plan in batch:
            if plan.t0 > cutoff:
                continue
            decisions = record_plan(uow.session, world, plan, cutoff=cutoff)
            event_ids.append(int(decisions[0].state.event_id))
            public.note(plan, event_ids[-1])
            summary.count(decisions[-1].state.status)
            summary.audit_rows += len(decisions)
        summary.add_public(public)
        public.write(driver_connection(uow.session))
        uow.commit()
    if patrols:
        walked = patrol_plans(world, window, seed=seed, cutoff=cutoff)
        summary.patrols = insert_patrols(uow.session, walked)
    if event_ids:
        _retire_outbox(uow.session, event_ids, now)
    uow.commit()
    summary.seconds = time.perf_counter() - began
    return summary


def _retire_outbox(session: Session, event_ids: list[int], now: datetime) -> None:
    """The simulated past's messages are history, not work: mark them processed so the relay
    does not schedule timers or send notifications for it. Timers still ahead of ``now`` (of
    events left open) stay for the relay."""
    session.execute(
        text("""
        UPDATE outbox SET processed_at = :now
         WHERE event_id = ANY(:ids) AND processed_at IS NULL
           AND NOT (topic = 'timer.set' AND (payload->>'fire_at')::timestamptz > :now)
        """),
        {"ids": event_ids, "now": now},
    )
