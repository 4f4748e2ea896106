"""The public door's rules (domain.intake), with plain values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.intake import (
    ATTRIBUTES,
    ClosedCandidate,
    DuplicateRule,
    Outcome,
    ReopenRule,
    agency_responsible,
    check_attributes,
    expected_datetime,
    matches,
    public_status,
    reopen_order,
    service_notice,
    status_notes,
    to_reopen,
    verified_on_time,
)
from domain.lifecycle import Category, EventState, SlaPolicy, Status, open_event

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
POLICY = SlaPolicy(Category("exposed_garbage", ack_minutes=10, resolve_minutes=30))


def test_every_status_has_a_public_status_and_a_note() -> None:
    for status in Status:
        assert public_status(status) in ("open", "closed")
        assert status_notes(status)
    assert public_status(Status.VOIDED) == "closed" and public_status(Status.MERGED) == "open"
    assert status_notes(Status.VOIDED, outcome=Outcome.REJECTED, reason="现场未发现") == (
        "核实未通过：现场未发现"
    )
    assert status_notes(Status.VOIDED, duplicate_of=7, original="处置中").endswith("；处置中")


def test_expected_datetime_follows_the_sla() -> None:
    opened = open_event(event_id="1", policy=POLICY, now=T0, reporter_id=None, trusted=False)
    due = opened.state.verify_due_at  # the verification clock: verify_minutes (30) on 24x7
    assert due == T0 + timedelta(minutes=30)
    pending = EventState("1", Status.PENDING_VERIFICATION, 0, T0)
    assert expected_datetime(pending, POLICY, verify_due=due, now=T0) == T0 + timedelta(hours=1)
    late = T0 + timedelta(hours=2)  # verification overdue: from now
    assert expected_datetime(pending, POLICY, verify_due=due, now=late) == late + timedelta(
        minutes=30
    )
    registered = replace(pending, status=Status.REGISTERED)
    assert expected_datetime(registered, POLICY, verify_due=None, now=T0) == T0 + timedelta(
        minutes=30
    )
    dispatched = replace(registered, status=Status.DISPATCHED, due_at=T0 + timedelta(minutes=45))
    assert expected_datetime(dispatched, POLICY, verify_due=None, now=T0) == dispatched.due_at
    suspended = replace(dispatched, status=Status.SUSPENDED, resolve_remaining=timedelta(minutes=5))
    assert expected_datetime(suspended, POLICY, verify_due=None, now=late) == late + timedelta(
        minutes=5
    )
    for status in (Status.CLOSED, Status.VOIDED):
        assert (
            expected_datetime(replace(pending, status=status), POLICY, verify_due=due, now=T0)
            is None
        )


def test_agency_from_the_level() -> None:
    args = {"grid": "新景楼01", "community": "新景楼", "department": "城管"}
    assert agency_responsible(0, **args) == "新景楼01网格"
    assert agency_responsible(1, **args) == "新景楼社区"
    assert agency_responsible(2, **args) == "街道指挥中心"
    assert agency_responsible(3, **args) == "城管"


def test_attributes_are_checked() -> None:
    assert "gas_safety" in ATTRIBUTES
    kept, problems = check_attributes("gas_safety", {})
    assert kept == {} and problems == ["attribute[gas_smell] is required"]
    kept, problems = check_attributes("gas_safety", {"gas_smell": "yes", "x": "1"})
    assert kept == {"gas_smell": "yes"} and problems == [
        "attribute[x] is not asked by this service"
    ]
    kept, problems = check_attributes("abandoned_vehicle", {"days": "many"})
    assert problems == ["attribute[days] must be a number"]
    assert check_attributes("exposed_garbage", {}) == ({}, [])


def test_verification_on_time_and_the_duplicate_rule() -> None:
    due = T0 + timedelta(minutes=30)
    assert verified_on_time(due, due) and not verified_on_time(due + timedelta(seconds=1), due)
    assert not verified_on_time(None, due)
    with pytest.raises(ValueError):
        DuplicateRule(distance_m=0)


# --- automatic reopening (复发) -------------------------------------------------------------


def _closed(event_id: int, *, d: float = 10.0, ago: timedelta = timedelta(days=1),
            category_id: int = 3, status: Status = Status.CLOSED,
            linked: bool = False) -> ClosedCandidate:  # fmt: skip
    return ClosedCandidate(event_id, category_id, status, T0 - ago, d, linked, 5)


def test_a_closed_event_matches_within_distance_window_and_category_only() -> None:
    rule = ReopenRule(distance_m=50, window=timedelta(days=30))
    assert matches(rule, 3, _closed(1), T0)
    assert matches(rule, 3, _closed(1, d=50, ago=timedelta(days=30)), T0), "bounds included"
    assert not matches(rule, 3, _closed(1, d=50.1), T0)
    assert not matches(rule, 3, _closed(1, ago=timedelta(days=30, seconds=1)), T0)
    assert not matches(rule, 3, _closed(1, ago=-timedelta(seconds=1)), T0), "closed after now"
    assert not matches(rule, 4, _closed(1), T0), "another category"
    assert not matches(rule, 3, _closed(1, status=Status.VOIDED), T0)
    assert not matches(rule, 3, _closed(1, status=Status.DISPATCHED), T0)
    assert not matches(rule, 3, _closed(1, linked=True), T0)
    off = ReopenRule(distance_m=50, window=timedelta(0))
    assert not off.enabled and not matches(off, 3, _closed(1), T0)
    with pytest.raises(ValueError):
        ReopenRule(distance_m=0)
    with pytest.raises(ValueError):
        ReopenRule(window=timedelta(days=-1))


def test_the_nearest_then_the_latest_closed_is_reopened_and_an_open_candidate_wins() -> None:
    rule = ReopenRule()
    near_old = _closed(7, d=5, ago=timedelta(days=20))
    far_new = _closed(3, d=40, ago=timedelta(hours=1))
    near_new = _closed(9, d=5, ago=timedelta(days=2))
    twin = _closed(8, d=5, ago=timedelta(days=2))
    outside = _closed(1, d=1, ago=timedelta(days=31))
    pick = to_reopen(rule, 3, open_near=0, closed=[far_new, near_old], now=T0)
    assert pick == near_old, "nearest first"
    closed = [far_new, near_old, near_new, twin, outside]
    for order in (closed, closed[::-1]):
        assert to_reopen(rule, 3, open_near=0, closed=order, now=T0) == twin
    assert to_reopen(rule, 3, open_near=1, closed=closed, now=T0) is None
    assert to_reopen(rule, 3, open_near=0, closed=[outside], now=T0) is None
    assert sorted(closed[:4], key=reopen_order) == [twin, near_new, near_old, far_new]


def test_the_public_promise_says_which_limits_count_working_time() -> None:
    """A limit on a working calendar is promised as 工作时间, a 24x7 one as plain minutes."""
    assert (
        service_notice("暴露垃圾", 30, 120)
        == "暴露垃圾：网格员 30 分钟 内到现场核实，核实后 2 小时 内处置"
    )
    assert service_notice("占道经营", 30, 90, resolve_working=True) == (
        "占道经营：网格员 30 分钟 内到现场核实，核实后 工作时间 90 分钟 内处置"
    )
    assert service_notice("井盖缺失", 45, 60, verify_working=True).startswith(
        "井盖缺失：网格员 工作时间 45 分钟 内到现场核实"
    )
