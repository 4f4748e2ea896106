"""Who a 督办 notice is for (domain.supervision), with plain values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.jurisdiction import Place, Principal
from domain.lifecycle import EventState, Status, TimerKind
from domain.roles import Role
from domain.supervision import SUPERIOR, may_acknowledge, notice_for

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def _state(level: int, role: Role | None, assignee: str | None, version: int) -> EventState:
    return EventState(
        event_id="7",
        status=Status.DISPATCHED,
        level=level,
        created_at=T0,
        version=version,
        category="exposed_garbage",
        assignee_id=assignee,
        assignee_role=role,
    )


@pytest.mark.parametrize(
    ("holder", "superior"),
    [
        (Role.MEMBER, Role.HEAD),
        (Role.HEAD, Role.COMMUNITY),
        (Role.COMMUNITY, Role.DISPATCHER),
        (Role.DEPARTMENT, Role.DISPATCHER),
        (Role.DISPATCHER, Role.DISPATCHER),
    ],
)
def test_every_handling_role_has_a_superior(holder: Role, superior: Role) -> None:
    assert SUPERIOR[holder] is superior


def test_the_notice_names_the_holder_and_a_queue_stands_for_nobody() -> None:
    held = notice_for(
        _state(0, Role.MEMBER, "5", 2), _state(1, Role.COMMUNITY, "9", 3), TimerKind.ACK_BREACH, T0
    )
    assert (held.holder_id, held.holder_role, held.addressee_role) == (5, Role.MEMBER, Role.HEAD)
    assert (held.event_id, held.version, held.clock, held.at) == (7, 3, "ack", T0)
    queued = notice_for(
        _state(2, None, None, 4), _state(2, None, None, 5), TimerKind.RESOLVE_BREACH, T0
    )
    assert queued.holder_id is None and queued.holder_role is Role.DISPATCHER
    assert queued.addressee_role is Role.DISPATCHER and queued.clock == "resolve"


def test_only_the_superior_within_reach_may_acknowledge() -> None:
    place = Place(1, 10)
    head = Principal(1, 1, "g01h", Role.HEAD, 1, 10, None)
    other_head = Principal(2, 2, "g02h", Role.HEAD, 2, 10, None)
    member = Principal(3, 3, "g01m1", Role.MEMBER, 1, 10, None)
    assert may_acknowledge(head, Role.HEAD, place)
    assert not may_acknowledge(other_head, Role.HEAD, place)
    assert not may_acknowledge(member, Role.HEAD, place)
