"""SLA arithmetic: allowances per level, deadlines on the category's working calendar, timer
plans, and the SLA state of an event (ok / warning / breached) — the one definition the lists, the
board and the sweep derive their SQL from (``dispatch.sla``).

An event has five clocks, one per stage of the national process: verification (立案/核实,
runs while a public or hotline report is pending verification), dispatch (派遣, runs while
registered), acknowledgement and resolution (处置, run while dispatched; resolution also while
acknowledged) and review (核查, runs while resolved; its decision is the close, 结案). A clock
is ``breached`` from its deadline on, in ``warning`` from its first warning mark (50 % of the
allowance) on, ``ok`` before; the event's state is the worse of its running clocks (``ok``
when none runs: suspended, parked, merged, closed...).

Allowances are amounts of *working time* on the calendar of the level that answers for the
clock (``SlaPolicy.calendar_at``: the level's own calendar, else the category's; the ``24x7``
calendar makes them wall-clock time). A handling period starts when the event is dispatched at
a level (first dispatch, re-dispatch, escalation, rework) and runs on that level's calendar
(an escalation to a level with another calendar plans anew on it): each mark — 50 %, 75 %
and 100 % (the deadline) — is ``add_working(calendar, now, fraction × allowance)`` and is stored
on the state (``TIMER_FIELDS``), so SQL compares instants and never needs the calendar.
Suspending stores the working time left to the deadline; resuming sets every mark still ahead to
``add_working(calendar, now, left - (1 - fraction) × allowance)`` (a mark already passed stays
where it was), so suspended time never counts. A period that reaches a year the calendar does not
know uses the calendar's fallback and sets ``clock_fallback``.

The stage clocks (verify, dispatch, review) start when their stage does (receipt of a public
report, registration, resolution) with the category's ``verify_minutes`` /
``dispatch_minutes`` / ``review_minutes`` on the calendar of the level that answers for the
stage (the grid for 核实, the command centre for 派遣, the reviewer's level for 核查), and are
never paused nor extended (docs/decisions/0021, 0023, 0026).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from domain.calendar import CONTINUOUS, WorkCalendar, add_working, gap_years, working_between
from domain.lifecycle.model import (
    ACK_TIMERS,
    DISPATCH_TIMERS,
    RESOLVE_TIMERS,
    REVIEW_TIMERS,
    RUNNING_CLOCKS,
    TIMER_FIELDS,
    VERIFY_TIMERS,
    Category,
    Clock,
    EventState,
    TimerCommand,
    TimerKind,
    TimerOp,
)
from domain.roles import MAX_LEVEL, MIN_LEVEL


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
    """The SLA values that apply to one event: its category, the per-level configuration and the
    category's calendar. A level missing from ``levels`` uses the category's minutes unchanged."""

    category: Category
    levels: Mapping[int, LevelAllowance] = field(default_factory=_default_levels)
    calendar: WorkCalendar = CONTINUOUS
    #: A level's own calendar (e.g. the grid on ``24x7``, the department on ``cn``); a level
    #: not named here uses ``calendar`` (docs/decisions/0023).
    level_calendars: Mapping[int, WorkCalendar] = field(default_factory=dict)

    def calendar_at(self, level: int) -> WorkCalendar:
        """The calendar of the clocks a ``level`` answers for."""
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise ValueError(f"level must be in {MIN_LEVEL}..{MAX_LEVEL}, got {level}")
        return self.level_calendars.get(level, self.calendar)

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

    def dispatch_allowance(self) -> timedelta:
        """派遣: the category's time from registration to dispatch (no level holds it yet)."""
        return timedelta(minutes=self.category.dispatch_minutes)

    def review_allowance(self) -> timedelta:
        """核查: the category's time from the fix to the reviewer's decision."""
        return timedelta(minutes=self.category.review_minutes)

    def verify_allowance(self) -> timedelta:
        """立案/核实: the category's time from a public report's receipt to the decision."""
        return timedelta(minutes=self.category.verify_minutes)


@dataclass(frozen=True)
class Marks:
    """The instants of one clock's timers (by ``TIMER_FIELDS`` name) and whether computing them
    used the calendar's fallback for a year it does not know."""

    at: Mapping[str, datetime]
    fallback: bool


def plan_marks(
    calendar: WorkCalendar,
    now: datetime,
    allowance: timedelta,
    left: timedelta,
    kinds: tuple[TimerKind, ...],
    state: EventState,
) -> Marks:
    """The marks of a clock with ``allowance`` that has ``left`` of it at ``now`` (the whole
    allowance at dispatch); a mark already passed keeps its instant on ``state``."""
    at: dict[str, datetime] = {}
    last = now
    for kind in kinds:
        name = TIMER_FIELDS[kind]
        before_mark = left - allowance * (1.0 - kind.fraction)
        previous = getattr(state, name)
        if before_mark < timedelta(0) and previous is not None:
            at[name] = previous
            continue
        at[name] = add_working(calendar, now, max(before_mark, timedelta(0)))
        last = max(last, at[name])
    return Marks(at, bool(gap_years(calendar, now, last)))


def remaining(calendar: WorkCalendar, deadline: datetime, now: datetime) -> timedelta:
    """The working time left until ``deadline`` (never negative: an overdue clock has none)."""
    return working_between(calendar, now, deadline)


class SlaState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


CLOCK_TIMERS: Mapping[Clock, tuple[TimerKind, ...]] = {
    Clock.ACK: ACK_TIMERS,
    Clock.RESOLVE: RESOLVE_TIMERS,
    Clock.DISPATCH: DISPATCH_TIMERS,
    Clock.REVIEW: REVIEW_TIMERS,
    Clock.VERIFY: VERIFY_TIMERS,
}
#: The timer whose mark starts a clock's warning state, and the one that breaches it.
WARNING_TIMER: Mapping[Clock, TimerKind] = {c: kinds[0] for c, kinds in CLOCK_TIMERS.items()}
BREACH_TIMER: Mapping[Clock, TimerKind] = {c: kinds[-1] for c, kinds in CLOCK_TIMERS.items()}
_SEVERITY = (SlaState.OK, SlaState.WARNING, SlaState.BREACHED)


def pending_timers(state: EventState) -> tuple[TimerKind, ...]:
    """The timers that are (or should be) scheduled for the state's current deadline version."""
    return tuple(
        kind
        for clock in RUNNING_CLOCKS.get(state.status, ())
        for kind in CLOCK_TIMERS[clock]
        if kind not in state.warnings_sent
    )


def clock_state(state: EventState, clock: Clock, now: datetime) -> SlaState:
    """Where one clock of the state stands at ``now`` (``ok`` when it is not running)."""
    if clock not in RUNNING_CLOCKS.get(state.status, ()):
        return SlaState.OK
    breach = timer_due_at(state, BREACH_TIMER[clock])
    warning = timer_due_at(state, WARNING_TIMER[clock])
    if breach is not None and now >= breach:
        return SlaState.BREACHED
    if warning is not None and now >= warning:
        return SlaState.WARNING
    return SlaState.OK


def sla_state(state: EventState, now: datetime) -> SlaState:
    """The event's SLA state at ``now``: the worse of its running clocks."""
    states = [clock_state(state, clock, now) for clock in RUNNING_CLOCKS.get(state.status, ())]
    return max(states, key=_SEVERITY.index, default=SlaState.OK)


def current_timer_due(state: EventState, kind: TimerKind, deadline_version: int) -> datetime | None:
    """When a timer is due, or None when it does not belong to the state's current plan (its
    deadline version is gone, or it already fired, or its clock stopped)."""
    if deadline_version != state.deadline_version or kind not in pending_timers(state):
        return None
    return timer_due_at(state, kind)


def timer_due_at(state: EventState, kind: TimerKind) -> datetime | None:
    """The instant a timer of ``kind`` is due for the state's current deadlines."""
    value: datetime | None = getattr(state, TIMER_FIELDS[kind])
    return value


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
