"""The dispatch backlog (issue 14): registered events are dispatched in report order, in
batches, and concurrent dispatchers never put more open work on a person than the load cap
allows, on real PostgreSQL connections in real threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session

from dispatch.lifecycle import assignment, loading, system
from domain.lifecycle.assignment import target_place
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from tests.kit.dispatch import report

T0 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def test_the_backlog_goes_oldest_report_first_in_batches(committed: Engine) -> None:
    with Session(committed, expire_on_commit=False) as session:
        # ids and report times in opposite orders: the order is the report's time
        ids = [report(session, "g01m1", now=T0 + timedelta(seconds=10 - i)) for i in range(6)]
        oldest_first = list(reversed(ids))
        uow = UnitOfWork(session)
        first = system.dispatch_backlog(uow, T0 + timedelta(minutes=1), limit=4)
        second = system.dispatch_backlog(uow, T0 + timedelta(minutes=1), limit=4)
        third = system.dispatch_backlog(uow, T0 + timedelta(minutes=1), limit=4)
    assert [int(d.state.event_id) for d in first] == oldest_first[:4]
    assert [int(d.state.event_id) for d in second] == oldest_first[4:]
    assert third == []
    assert all(d.state.status.value == "dispatched" for d in first + second)


def test_a_pool_is_counted_by_one_dispatcher_at_a_time(committed: Engine) -> None:
    """The load cap is exact across workers: while one dispatcher has counted a pool's open
    work and not yet committed its assignments, another one that needs the same pool waits,
    then counts them. Without the pool lock the second would count the same open work and
    both could fill the same person to the cap."""
    cap = get_settings().assignment_load_cap
    with Session(committed, expire_on_commit=False) as session:
        for i in range(3 * cap):
            report(session, "g01m1", now=T0 + timedelta(seconds=i))
    first = Session(committed, expire_on_commit=False)
    second_done = threading.Event()
    counted: list[list[int]] = []

    def second() -> None:
        with Session(committed, expire_on_commit=False) as session:
            loaded = loading.load(session, _last_registered(session))
            assert loaded is not None
            place = target_place(loaded.place, 0, loaded.policy.category)
            assignment.lock_pools(session, [assignment.pool_of(loaded, None)])
            counted.append(sorted(c.open_count for c in assignment.candidates(session, place, 0)))
            second_done.set()

    try:
        decisions = system.dispatch_backlog(_Uncommitted(first), T0, limit=2 * cap)
        assert len(decisions) == 2 * cap
        thread = threading.Thread(target=second)
        thread.start()
        assert not second_done.wait(1.0), "the second dispatcher counted a pool in use"
        first.commit()
        thread.join(timeout=30)
    finally:
        first.close()
    # it counted after the first committed: both members at the cap
    assert counted and counted[0][-2:] == [cap, cap], counted


class _Uncommitted(UnitOfWork):
    """A unit of work whose commit is left to the test (the transaction stays open)."""

    def commit(self) -> None:
        self.session.flush()


def _last_registered(session: Session) -> int:
    return int(
        session.execute(text("SELECT max(id) FROM event WHERE status = 'registered'")).scalar_one()
    )
