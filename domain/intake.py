"""Reports from outside the grid staff (the public, the 12345 hotline): the rules of their
triage and of how the public sees an event (Open311 GeoReport v2).

Standard library only. A public or hotline report enters as ``pending_verification`` with a
verification deadline: the verification stage clock (立案/核实) of ``domain.lifecycle``, the
category's ``verify_minutes`` of working time on the grid level's calendar from its receipt,
with warnings at 50 %/75 % and a breach (督办 to the grid head) at 100 %; grid staff
confirm it (``verify``: it is registered and enters the usual dispatch), reject it (``void``
with a reason) or link it to an open event as a duplicate (``void``, the event's
``duplicate_of`` set). A linked report counts once: for the indicators it is not an event of
its own, and the public sees the original's progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.calendar import add_working
from domain.lifecycle.model import TERMINAL_STATUSES, EventState, Status
from domain.lifecycle.sla import SlaPolicy
from domain.roles import COMMAND_CENTRE_LEVEL, COMMUNITY_LEVEL, GRID_LEVEL, LEVEL_LABELS


class Channel(StrEnum):
    """Where a report came from. Staff are trusted; the others wait for verification."""

    STAFF = "staff"
    PUBLIC = "public"
    HOTLINE = "hotline"

    @property
    def trusted(self) -> bool:
        return self is Channel.STAFF


#: How people name each channel (``event.source``): exports, notices.
CHANNEL_LABELS: Mapping[str, str] = {
    Channel.STAFF: "网格员上报",
    Channel.PUBLIC: "群众举报",
    Channel.HOTLINE: "12345热线",
}


class Outcome(StrEnum):
    """What the on-site verification found (核实结果)."""

    CONFIRMED = "confirmed"  # 属实: registered, dispatched as usual
    REJECTED = "rejected"  # 不属实 / 非职责范围: voided with a reason and a photo
    DUPLICATE = "duplicate"  # 重复: linked to an open event


class RejectReason(StrEnum):
    NOT_FOUND = "not_found"  # 现场未发现
    NOT_OUR_MATTER = "not_our_matter"  # 非本辖区 / 非职责范围


REJECT_LABELS: Mapping[RejectReason, str] = {
    RejectReason.NOT_FOUND: "现场未发现",
    RejectReason.NOT_OUR_MATTER: "不属于网格管理事项",
}

#: The verification allowance of a category that does not set its own.
DEFAULT_VERIFY_MINUTES = 30.0


def verified_on_time(verified_at: datetime | None, due_at: datetime) -> bool:
    """按时核实: decided (confirmed, rejected or linked) no later than the deadline — the
    verification clock's ``verify_due_at``, stored on the event and copied to the public
    report row when the report is received (docs/decisions/0026)."""
    return verified_at is not None and verified_at <= due_at


# --- duplicates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateRule:
    """Open events of the same category within ``distance_m`` and ``window`` of a new report
    are its duplicate candidates, nearest first, at most ``limit``."""

    distance_m: float = 50.0
    window: timedelta = timedelta(hours=24)
    limit: int = 5

    def __post_init__(self) -> None:
        if self.distance_m <= 0 or self.window <= timedelta(0) or self.limit < 1:
            raise ValueError(f"a duplicate rule needs positive bounds, not {self}")


#: Statuses an event may be linked to (open, not yet fixed).
LINKABLE_STATUSES: frozenset[Status] = frozenset(
    {
        Status.PENDING_VERIFICATION,
        Status.REGISTERED,
        Status.DISPATCHED,
        Status.ACKNOWLEDGED,
        Status.SUSPENDED,
        Status.PARKED,
    }
)


# --- automatic reopening (复发) ---------------------------------------------------------------

#: Statuses a verified report may reopen: a closed case came back (a voided one never was real).
REOPENABLE_STATUSES: frozenset[Status] = frozenset({Status.CLOSED})


@dataclass(frozen=True)
class ReopenRule:
    """A public or hotline report the staff on site confirm (``verify`` confirmed) reopens a
    closed event of its category within ``distance_m`` of it (the duplicate distance) that was
    closed no longer than ``window`` before the verification, instead of opening a new event.
    A ``window`` of zero turns automatic reopening off."""

    distance_m: float = 50.0
    window: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if self.distance_m <= 0 or self.window < timedelta(0):
            raise ValueError(f"a reopen rule needs a positive distance and a window >= 0: {self}")

    @property
    def enabled(self) -> bool:
        return self.window > timedelta(0)

    def since(self, now: datetime) -> datetime:
        """The earliest close a verification at ``now`` reopens."""
        return now - self.window


@dataclass(frozen=True)
class ClosedCandidate:
    """A finished event near a report (the SQL's prefilter; ``matches`` decides)."""

    event_id: int
    category_id: int
    status: Status
    closed_at: datetime
    distance_m: float
    linked: bool  # itself a duplicate of another event (links never chain)
    version: int


def matches(rule: ReopenRule, category_id: int, candidate: ClosedCandidate, now: datetime) -> bool:
    """Whether a report of ``category_id`` verified at ``now`` is the return of ``candidate``:
    same category, closed (not voided, not linked), within the distance, closed within the
    window (not after ``now``)."""
    return (
        rule.enabled
        and candidate.category_id == category_id
        and candidate.status in REOPENABLE_STATUSES
        and not candidate.linked
        and candidate.distance_m <= rule.distance_m
        and rule.since(now) <= candidate.closed_at <= now
    )


def reopen_order(candidate: ClosedCandidate) -> tuple[float, float, int]:
    """Nearest first, then the most recently closed, then the lowest id (deterministic)."""
    return (candidate.distance_m, -candidate.closed_at.timestamp(), candidate.event_id)


def to_reopen(
    rule: ReopenRule,
    category_id: int,
    *,
    open_near: int,
    closed: Iterable[ClosedCandidate],
    now: datetime,
) -> ClosedCandidate | None:
    """The closed event a confirmed report reopens, or None. An open event wins: when
    ``open_near`` > 0 open, unlinked events of the category lie within the distance (however
    old: the duplicate window does not apply), the problem there is being handled and nothing
    is reopened (the verifier links the report to it, or confirms a new event, as before; and a
    second report of a recurrence already reopened does not reopen an older closure). Among
    the closed events that match, ``reopen_order``'s first."""
    if open_near > 0:
        return None
    found = sorted((c for c in closed if matches(rule, category_id, c, now)), key=reopen_order)
    return found[0] if found else None


# --- how the public sees an event (Open311 GeoReport v2) ------------------------------------


def public_status(status: Status) -> str:
    """Open311's two statuses: ``closed`` once the event is finished (closed or voided)."""
    return "closed" if status in TERMINAL_STATUSES else "open"


_NOTES: Mapping[Status, str] = {
    Status.PENDING_VERIFICATION: "待核实：网格员将到现场核实",
    Status.REGISTERED: "已立案，等待派遣",
    Status.DISPATCHED: "已派遣，等待处置",
    Status.ACKNOWLEDGED: "处置中",
    Status.RESOLVED: "已处置，等待核查",
    Status.SUSPENDED: "已挂起（延期处理）",
    Status.PARKED: "已挂账（暂不具备处置条件，条件具备后处置）",
    Status.MERGED: "已与相同的问题合并处理",
    Status.CLOSED: "已结案",
    Status.VOIDED: "已作废",
}


def status_notes(
    status: Status,
    *,
    outcome: Outcome | None = None,
    reason: str = "",
    duplicate_of: int | None = None,
    original: str = "",
) -> str:
    """The public's note on an event: its stage, why a report was rejected, or which event a
    linked report joined (and how that one stands, ``original``)."""
    if duplicate_of is not None:
        joined = f"与已受理的问题 {duplicate_of} 相同，已合并处理"
        return f"{joined}；{original}" if original else joined
    if outcome is Outcome.REJECTED:
        return f"核实未通过：{reason}" if reason else "核实未通过"
    return _NOTES[status]


def agency_responsible(level: int, *, grid: str, community: str, department: str | None) -> str:
    """Who holds the event: the grid, the community, the command centre or the department."""
    if level == GRID_LEVEL:
        return f"{grid}网格"
    if level == COMMUNITY_LEVEL:
        return f"{community}社区"
    if level == COMMAND_CENTRE_LEVEL or not department:
        return LEVEL_LABELS[COMMAND_CENTRE_LEVEL]
    return department


def expected_datetime(
    state: EventState,
    policy: SlaPolicy,
    *,
    verify_due: datetime | None,
    now: datetime,
) -> datetime | None:
    """When the problem is expected to be fixed, from the SLA on the working calendar of the
    event's level, while the event is open (None once it is closed or voided). Dispatched,
    acknowledged or resolved: its resolve deadline. Suspended: now plus the time it has left.
    Registered: dispatch is immediate, so now plus the allowance of its level. Pending
    verification: the verification deadline (or now, when that has passed) plus that
    allowance. Parked (挂账): its review date plus the time it has left, or None (not known)
    when it has no review date."""
    if state.status in TERMINAL_STATUSES:
        return None
    if state.status is Status.PARKED:
        if state.parked_until is None or state.resolve_remaining is None:
            return None
        start = max(state.parked_until, now)
        return add_working(policy.calendar_at(state.level), start, state.resolve_remaining)
    allowance = policy.resolve_allowance(state.level)
    if state.status is Status.SUSPENDED and state.resolve_remaining is not None:
        return add_working(policy.calendar_at(state.level), now, state.resolve_remaining)
    if state.due_at is not None and state.status is not Status.REGISTERED:
        return state.due_at
    start = now
    if state.status is Status.PENDING_VERIFICATION and verify_due is not None:
        start = max(verify_due, now)
    return add_working(policy.calendar_at(state.level), start, allowance)


def service_notice(
    category_name: str,
    verify_minutes: float,
    resolve_minutes: float,
    *,
    verify_working: bool = False,
    resolve_working: bool = False,
) -> str:
    """The category's promise to the public (Open311 ``service_notice``); a limit counted on a
    working calendar says so (工作时间), a wall-clock one (``24x7``) does not."""
    return (
        f"{category_name}：网格员 {_minutes(verify_minutes, verify_working)} 内到现场核实，"
        f"核实后 {_minutes(resolve_minutes, resolve_working)} 内处置"
    )


def _minutes(value: float, working: bool) -> str:
    amount = f"{int(value // 60)} 小时" if value >= 60 and value % 60 == 0 else f"{value:g} 分钟"
    return f"工作时间 {amount}" if working else amount


# --- Open311 service attributes -----------------------------------------------------------


class Datatype(StrEnum):
    STRING = "string"
    NUMBER = "number"
    SINGLEVALUELIST = "singlevaluelist"


@dataclass(frozen=True)
class Attribute:
    """A question a category asks the reporter (Open311 service definition attribute)."""

    code: str
    description: str
    datatype: Datatype
    required: bool
    order: int
    values: tuple[tuple[str, str], ...] = ()  # (key, name)
    max_length: int = 100

    def check(self, value: str | None) -> str | None:
        """A problem with the value given, or None when it will do."""
        if value is None or value == "":
            return f"attribute[{self.code}] is required" if self.required else None
        if self.datatype is Datatype.SINGLEVALUELIST:
            keys = [k for k, _ in self.values]
            if value not in keys:
                return f"attribute[{self.code}] must be one of {', '.join(keys)}"
        elif self.datatype is Datatype.NUMBER:
            try:
                float(value)
            except ValueError:
                return f"attribute[{self.code}] must be a number"
        if len(value) > self.max_length:
            return f"attribute[{self.code}] is longer than {self.max_length} characters"
        return None


_YES_NO = (("yes", "是"), ("no", "否"))

#: The categories that ask more than the description (others have no attributes).
ATTRIBUTES: Mapping[str, tuple[Attribute, ...]] = {
    "gas_safety": (
        Attribute("gas_smell", "现场是否闻到燃气味", Datatype.SINGLEVALUELIST, True, 1, _YES_NO),
    ),
    "building_danger": (
        Attribute("people_inside", "房屋内是否有人", Datatype.SINGLEVALUELIST, True, 1, _YES_NO),
    ),
    "illegal_parking": (
        Attribute("plate", "车牌号（如可见）", Datatype.STRING, False, 1, max_length=16),
    ),
    "abandoned_vehicle": (
        Attribute("plate", "车牌号（如可见）", Datatype.STRING, False, 1, max_length=16),
        Attribute("days", "已停放约多少天", Datatype.NUMBER, False, 2, max_length=6),
    ),
}


def check_attributes(category: str, given: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The category's attributes that were given (known ones only) and the problems found."""
    wanted = ATTRIBUTES.get(category, ())
    known = {a.code for a in wanted}
    problems = [
        f"attribute[{code}] is not asked by this service" for code in given if code not in known
    ]
    kept: dict[str, str] = {}
    for attribute in wanted:
        value = given.get(attribute.code)
        problem = attribute.check(value)
        if problem:
            problems.append(problem)
        elif value:
            kept[attribute.code] = value
    return kept, problems
