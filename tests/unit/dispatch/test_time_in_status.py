"""``time_in``: how long an event stayed in a status (挂账 reported apart), from its audit rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.lifecycle import Status
from domain.lifecycle.audit import time_in

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
P, A, D = Status.PARKED, Status.ACKNOWLEDGED, Status.DISPATCHED


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_each_stay_counts_from_entering_to_leaving() -> None:
    moves = [
        (at(0), None, Status.REGISTERED),
        (at(1), Status.REGISTERED, D),
        (at(2), D, P),  # parked
        (at(5), P, D),  # unparked: 3 h
        (at(6), D, D),
        (at(7), D, P),  # parked again
        (at(8), P, P),  # a row that stays parked does not matter
        (at(9), P, Status.VOIDED),  # voided while parked: 2 h
    ]
    assert time_in(P, moves, at(100)) == timedelta(hours=5)
    assert time_in(A, moves, at(100)) == timedelta(0)


def test_a_stay_not_left_yet_counts_up_to_now() -> None:
    moves = [(at(0), None, Status.REGISTERED), (at(1), Status.REGISTERED, D), (at(2), D, P)]
    assert time_in(P, moves, at(4.5)) == timedelta(hours=2.5)
    assert time_in(P, moves, at(1)) == timedelta(0)  # a clock behind the row: never negative
