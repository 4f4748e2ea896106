"""SLA arithmetic: allowances per level, deadlines on the event's own clock, timer plans.

A deadline period starts when the event is dispatched at a level (first dispatch, re-dispatch,
escalation, rework). Its allowances come from the category, adjusted per level by configuration.
Suspending stores what is left of each allowance; resuming sets ``deadline = now + remaining``.
Warnings fire at 50 % and 75 % of the allowance, the breach at 100 %; after a suspension the same
marks move by the suspended time (``fire_at = deadline - (1 - fraction) * allowance``).
Business-hours calendars could replace the plain ``timedelta`` addition in ``add_allowance``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.lifecycle.model import (
    ACK_TIMERS,
    MAX_LEVEL,
    MIN_LEVEL,
    RESOLVE_TIMERS,
    Category,
    EventState,
    Status,
    TimerCommand,
    TimerKind,
    TimerOp,
)


@dataclass(frozen=True)
class LevelAllowance:
    """Configuration for one level: absolute minutes override the category's; otherwise the
    category's minutes are multiplied by ``multiplier``."""

    multiplier: float = 1.0
    ack_minutes: float | None = None
    resolve_minutes: float | None = None

    def __post_init__(self) -> None:
        values = [self.multiplier, self.ack_minutes, self.resolve_minutes]
        if any(v is not None and not v > 0 for v in values):
            raise ValueError("level allowances must be positive")


def _default_levels() -> dict[int, LevelAllowance]:
    return {level: LevelAllowance() for level in range(MIN_LEVEL, MAX_LEVEL + 1)}


@dataclass(frozen=True)
class SlaPolicy:
    """The SLA values that apply to one event: its category plus the per-level configuration.
    A level missing from ``levels`` uses the category's minutes unchanged."""

    category: Category
    levels: Mapping[int, LevelAllowance] = field(default_factory=_default_levels)

    def level_allowance(self, level: int) -> LevelAllowance:
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise ValueError(f"level must be in {MIN_LEVEL}..{MAX_LEVEL}, got {level}")
        return self.levels.get(level, LevelAllowance())

    def ack_allowance(self, level: int) -> timedelta:
        cfg = self.level_allowance(level)
        minutes = cfg.ack_minutes or self.category.ack_minutes * cfg.multiplier
        return timedelta(minutes=minutes)

    def resolve_allowance(self, level: int) -> timedelta:
        cfg = self.level_allowance(level)
        minutes = cfg.resolve_minutes or self.category.resolve_minutes * cfg.multiplier
        return timedelta(minutes=minutes)


def add_allowance(start: datetime, allowance: timedelta) -> datetime:
    """The instant ``allowance`` of the event's clock after ``start`` (wall-clock for now)."""
    return start + allowance


def remaining(deadline: datetime, now: datetime) -> timedelta:
    """What is left until ``deadline`` (never negative: an overdue clock has nothing left)."""
    return max(deadline - now, timedelta(0))


def timer_fire_at(deadline: datetime, allowance: timedelta, kind: TimerKind) -> datetime:
    """When ``kind`` fires for a period that ends at ``deadline`` and lasts ``allowance``."""
    return deadline - allowance * (1.0 - kind.fraction)


def pending_timers(state: EventState) -> tuple[TimerKind, ...]:
    """The timers that are (or should be) scheduled for the state's current deadline version."""
    if state.status == Status.DISPATCHED:
        kinds = ACK_TIMERS + RESOLVE_TIMERS
    elif state.status == Status.ACKNOWLEDGED:
        kinds = RESOLVE_TIMERS
    else:
        return ()
    return tuple(k for k in kinds if k not in state.warnings_sent)


def timer_deadline(state: EventState, kind: TimerKind) -> tuple[datetime, timedelta] | None:
    """The deadline and allowance a timer of ``kind`` belongs to, if the state has them."""
    if kind.is_ack:
        deadline, allowance = state.ack_due_at, state.ack_allowance
    else:
        deadline, allowance = state.due_at, state.resolve_allowance
    if deadline is None or allowance is None:
        return None
    return deadline, allowance


def timer_due_at(state: EventState, kind: TimerKind) -> datetime | None:
    """The instant a timer of ``kind`` is due for the state's current deadlines."""
    found = timer_deadline(state, kind)
    if found is None:
        return None
    return timer_fire_at(found[0], found[1], kind)


def set_timers(state: EventState, now: datetime) -> tuple[TimerCommand, ...]:
    """SET commands for every pending timer of the state (fire times in the past become ``now``)."""
    commands: list[TimerCommand] = []
    for kind in pending_timers(state):
        fire_at = timer_due_at(state, kind)
        if fire_at is None:
            continue
        commands.append(
            TimerCommand(
                op=TimerOp.SET,
                event_id=state.event_id,
                kind=kind,
                deadline_version=state.deadline_version,
                fire_at=max(fire_at, now),
            )
        )
    return tuple(commands)


def cancel_timers(
    state: EventState, kinds: tuple[TimerKind, ...] | None = None
) -> tuple[TimerCommand, ...]:
    """CANCEL commands for the state's pending timers (or the pending ones among ``kinds``)."""
    pending = pending_timers(state)
    chosen = pending if kinds is None else tuple(k for k in pending if k in kinds)
    return tuple(
        TimerCommand(
            op=TimerOp.CANCEL,
            event_id=state.event_id,
            kind=kind,
            deadline_version=state.deadline_version,
        )
        for kind in chosen
    )
