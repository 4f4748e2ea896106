"""Optimistic locking with real threads on real PostgreSQL connections: two dispatchers act on
the same event at the same moment; exactly one wins, the other gets a 409 with the current
version. Nothing is mocked and nothing is serialised by the test except the start line."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import Engine, text
from sqlmodel import Session

from dispatch.lifecycle import actions, assignment, loading, system
from dispatch.store import record
from domain.lifecycle import Action, Command, StaleVersion, apply
from kernel.errors import Conflict
from kernel.uow import UnitOfWork
from tests.kit.dispatch import principal, report

ROUNDS = 5


def _race(
    engine: Engine,
    event_id: int,
    version: int,
    people: list[str],
    action: Action = Action.DISPATCH,
) -> list[object]:
    barrier = threading.Barrier(len(people))
    outcomes: list[object] = [None] * len(people)

    def dispatcher(i: int, username: str) -> None:
        with Session(engine, expire_on_commit=False) as session:
            who = principal(session, username)
            session.rollback()
            barrier.wait()
            try:
                actions.act(
                    uow=UnitOfWork(session),
                    principal=who,
                    event_id=event_id,
                    action=action,
                    request=actions.ActionRequest(
                        level=i + 1 if action is Action.DISPATCH else None, version=version
                    ),
                    now=datetime.now(UTC),
                )
                outcomes[i] = "won"
            except (Conflict, StaleVersion) as exc:
                outcomes[i] = exc

    threads = [threading.Thread(target=dispatcher, args=(i, u)) for i, u in enumerate(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def test_two_dispatchers_racing_exactly_one_wins(committed: Engine) -> None:
    with Session(committed, expire_on_commit=False) as session:
        event_id = report(session, "g01m1", now=datetime.now(UTC))
        assert system.auto_dispatch(UnitOfWork(session), event_id, datetime.now(UTC)) is not None

    for _ in range(ROUNDS):
        with committed.connect() as conn:
            version = int(
                conn.execute(
                    text("SELECT version FROM event WHERE id = :e"), {"e": event_id}
                ).scalar_one()
            )
        outcomes = _race(committed, event_id, version, ["dispatch1", "dispatch2"])
        assert sorted(o == "won" for o in outcomes) == [False, True], outcomes
        loser = next(o for o in outcomes if o != "won")
        # whichever check caught it (the version the body carried, or the row's version in
        # the UPDATE), the 409 names the version now current
        current = version + 1
        if isinstance(loser, StaleVersion):
            assert loser.actual == current
        else:
            assert isinstance(loser, Conflict)
            assert loser.detail["version"] == current
        with committed.connect() as conn:
            versions = conn.execute(
                text("SELECT version FROM event_audit WHERE event_id = :e ORDER BY version"),
                {"e": event_id},
            ).scalars()
            assert list(versions) == list(range(1, current + 1)), "one audit row per change"


def test_racing_without_versions_the_update_check_still_serialises(committed: Engine) -> None:
    """Both read the same version and both pass the domain's check; the version-checked UPDATE
    lets one through and answers the other with a 409 carrying the current version."""
    with Session(committed, expire_on_commit=False) as session:
        event_id = report(session, "g01m1", now=datetime.now(UTC))
        assert system.auto_dispatch(UnitOfWork(session), event_id, datetime.now(UTC)) is not None
    now = datetime.now(UTC)
    sessions = [Session(committed, expire_on_commit=False) for _ in range(2)]
    try:
        loaded = [loading.load(s, event_id) for s in sessions]
        assert all(x is not None and x.state.version == 2 for x in loaded)
        decisions = []
        # one choice for both: a second choose would wait for the first session's pool lock
        assert loaded[0] is not None
        chosen = assignment.choose(sessions[0], loaded[0], level=1, now=now)
        for x in loaded:
            assert x is not None
            command = Command(action=Action.DISPATCH, actor="race", assignment=chosen)
            decisions.append(apply(x.state, command, now=now, policy=x.policy))
        first, second = sessions
        record(first, decisions[0], previous_version=2)
        first.commit()
        try:
            record(second, decisions[1], previous_version=2)
            raise AssertionError("the second write must be refused")
        except Conflict as exc:
            assert exc.detail["version"] == 3 and exc.detail["expected_version"] == 2
        second.rollback()
    finally:
        for s in sessions:
            s.close()


def test_two_dispatchers_claiming_a_big_event_from_the_shared_queue_one_wins(
    committed: Engine,
) -> None:
    """Issue 18: a big event waits in the command centre's shared queue; two dispatchers claim
    it at the same moment: one holds it, the other gets a 409; one audit row says who."""
    with Session(committed, expire_on_commit=False) as session:
        event_id = report(session, "g01m1", now=datetime.now(UTC), category="gas_safety")
        decision = system.auto_dispatch(UnitOfWork(session), event_id, datetime.now(UTC))
        assert decision is not None and decision.state.level == 2
        assert decision.state.assignee_id is None, "queued, not given to one dispatcher"
    outcomes = _race(committed, event_id, 2, ["dispatch1", "dispatch2"], Action.CLAIM)
    assert sorted(o == "won" for o in outcomes) == [False, True], outcomes
    loser = next(o for o in outcomes if o != "won")
    assert isinstance(loser, StaleVersion | Conflict)
    winner = ["dispatch1", "dispatch2"][outcomes.index("won")]
    with committed.connect() as conn:
        held = conn.execute(
            text(
                "SELECT e.version, e.status, u.username FROM event e"
                " JOIN users u ON u.staff_id = e.assignee_id WHERE e.id = :e"
            ),
            {"e": event_id},
        ).one()
        claims = conn.execute(
            text("SELECT version, actor FROM event_audit WHERE event_id = :e AND action = 'claim'"),
            {"e": event_id},
        ).all()
    assert tuple(held) == (3, "dispatched", winner)
    assert len(claims) == 1 and claims[0][0] == 3
