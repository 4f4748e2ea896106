"""Value types of the dispatch core: statuses, actions, the event state and what a decision yields.

Everything here is immutable and free of I/O. Instants are aware UTC datetimes; durations are
``timedelta``. The service layer persists ``EventState`` fields on the event row, ``AuditEntry``
as the append-only audit row, and ``TimerCommand`` / ``Notification`` as outbox rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from domain.lifecycle.errors import NaiveDatetime
from domain.roles import MAX_LEVEL, MIN_LEVEL, Role

#: A JSON-friendly value as stored in ``AuditEntry.data`` (a JSONB column fits it).
JsonValue = str | int | float | bool | None | list[str]


class Status(StrEnum):
    """Where an event stands; ``suspended``, ``parked`` and ``merged`` are statuses (see
    ``EventState.resume_status``): a merged event is parked as a duplicate of another open one
    until it is unmerged; a parked one (挂账) waits, approved, for what it needs (budget, a
    season) until it is unparked."""

    PENDING_VERIFICATION = "pending_verification"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    SUSPENDED = "suspended"
    PARKED = "parked"
    MERGED = "merged"
    CLOSED = "closed"
    VOIDED = "voided"


#: How statuses are named to people (exports, notices): the national practice's words.
STATUS_LABELS: Mapping[str, str] = {
    Status.PENDING_VERIFICATION: "待核实",
    Status.REGISTERED: "已立案",
    Status.DISPATCHED: "已派遣",
    Status.ACKNOWLEDGED: "已签收",
    Status.RESOLVED: "待核查",
    Status.SUSPENDED: "挂起",
    Status.PARKED: "挂账",
    Status.MERGED: "已合并",
    Status.CLOSED: "已结案",
    Status.VOIDED: "已作废",
}

#: Finished events: nothing moves them any more, except that a closed case that comes back is
#: reopened (``reopen``: a new cycle).
TERMINAL_STATUSES: frozenset[Status] = frozenset({Status.CLOSED, Status.VOIDED})
#: Statuses that count as the holder's open work (load balancing, the load cap). A parked case
#: (挂账) waits for what it needs, not for its holder: it does not count.
OPEN_WORK_STATUSES: frozenset[Status] = frozenset(
    {Status.DISPATCHED, Status.ACKNOWLEDGED, Status.SUSPENDED}
)


class Clock(StrEnum):
    """An event's SLA clocks: the handling stage's acknowledgement (签收) and resolution (处置),
    and the stage clocks around them: verification (立案/核实, from a public or hotline report's
    receipt to the grid's decision on it), dispatch (派遣, from registration to the first
    dispatch) and review (核查, from the fix to the reviewer's decision, which is the close,
    结案: docs/decisions/0026)."""

    ACK = "ack"
    RESOLVE = "resolve"
    DISPATCH = "dispatch"
    REVIEW = "review"
    VERIFY = "verify"


#: The clocks that run in each status (none while suspended, parked, merged, closed...).
RUNNING_CLOCKS: Mapping[Status, tuple[Clock, ...]] = {
    Status.PENDING_VERIFICATION: (Clock.VERIFY,),
    Status.REGISTERED: (Clock.DISPATCH,),
    Status.DISPATCHED: (Clock.ACK, Clock.RESOLVE),
    Status.ACKNOWLEDGED: (Clock.RESOLVE,),
    Status.RESOLVED: (Clock.REVIEW,),
}
#: Statuses in which the handling clocks (ack, resolve) run: a holder works the event there,
#: a pause keeps their remaining time, a request may wait there.
CLOCKED_STATUSES: frozenset[Status] = frozenset({Status.DISPATCHED, Status.ACKNOWLEDGED})
#: Statuses in which some SLA clock runs (their rows may carry timers).
TIMED_STATUSES: frozenset[Status] = frozenset(RUNNING_CLOCKS)
#: Statuses whose clocks are paused with their remaining time kept: a suspension (挂起, by the
#: command centre) and an approved parking (挂账) share the pause and its resumption.
PAUSED_STATUSES: frozenset[Status] = frozenset({Status.SUSPENDED, Status.PARKED})
#: The latest deadline an extension may ask for, counted from the request.
MAX_EXTENSION = timedelta(days=30)
#: The latest review date a parking request may name, counted from the request.
MAX_PARKING = timedelta(days=366)
#: Statuses an event may be merged from (and returns to when unmerged).
MERGEABLE_STATUSES: frozenset[Status] = frozenset(
    {Status.PENDING_VERIFICATION, Status.REGISTERED, Status.DISPATCHED, Status.ACKNOWLEDGED}
)


class Action(StrEnum):
    """What can happen to an event. ``warn`` and ``breach`` are the timers' (system) actions."""

    REPORT = "report"
    REGISTER = "register"
    VERIFY = "verify"
    DISPATCH = "dispatch"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    REVIEW = "review"
    ESCALATE = "escalate"
    RETURN = "return"  # 回退: not ours; back to the command centre
    SUSPEND = "suspend"
    RESUME = "resume"
    VOID = "void"
    MERGE = "merge"
    UNMERGE = "unmerge"
    CLAIM = "claim"
    REQUEST_EXTENSION = "request_extension"  # 延期申请: the holder asks for a later deadline
    APPROVE_EXTENSION = "approve_extension"  # the level above agrees: the deadline moves
    REFUSE_EXTENSION = "refuse_extension"
    REQUEST_PARKING = "request_parking"  # 挂账申请: cannot be fixed now (budget, season)
    APPROVE_PARKING = "approve_parking"  # the level above agrees: parked, the clocks stop
    REFUSE_PARKING = "refuse_parking"
    UNPARK = "unpark"  # 挂账解除: the clocks run again
    REOPEN = "reopen"  # 重开: a closed case came back; a new cycle (counted as rework)
    WARN = "warn"
    BREACH = "breach"


#: Actions that only ``open_event`` performs (they create the event).
CREATION_ACTIONS: frozenset[Action] = frozenset({Action.REPORT, Action.REGISTER})
#: Actions that only timer jobs (and the reconciliation sweep) send; they never raise.
SYSTEM_ACTIONS: frozenset[Action] = frozenset({Action.WARN, Action.BREACH})
#: A holder's requests that the level above decides, and the decisions (approve, refuse).
REQUEST_ACTIONS: frozenset[Action] = frozenset({Action.REQUEST_EXTENSION, Action.REQUEST_PARKING})
DECISION_ACTIONS: frozenset[Action] = frozenset(
    {
        Action.APPROVE_EXTENSION,
        Action.REFUSE_EXTENSION,
        Action.APPROVE_PARKING,
        Action.REFUSE_PARKING,
    }
)


class RequestKind(StrEnum):
    """What a holder's pending request asks the level above for."""

    EXTENSION = "extension"  # 延期
    PARKING = "parking"  # 挂账


#: The kind of request each request or decision action is about.
REQUEST_KIND_OF: Mapping[Action, RequestKind] = {
    Action.REQUEST_EXTENSION: RequestKind.EXTENSION,
    Action.APPROVE_EXTENSION: RequestKind.EXTENSION,
    Action.REFUSE_EXTENSION: RequestKind.EXTENSION,
    Action.REQUEST_PARKING: RequestKind.PARKING,
    Action.APPROVE_PARKING: RequestKind.PARKING,
    Action.REFUSE_PARKING: RequestKind.PARKING,
}


class EscalationReason(StrEnum):
    """Why an event moved up the ladder (DESIGN §2: a, b, c)."""

    HANDLER_REQUEST = "handler_request"
    ACK_OVERDUE = "ack_overdue"
    DEADLINE_PASSED = "deadline_passed"
    #: The command centre dispatched the event up the ladder (to a department, level 3): the
    #: subdistrict did not keep it, so it counts as an escalation, not as a re-dispatch.
    DISPATCHED_UP = "dispatched_up"


class TimerKind(StrEnum):
    """The SLA timers: 50 %, 75 % and 100 % (breach) of each clock."""

    ACK_WARN50 = "ack_warn50"
    ACK_WARN75 = "ack_warn75"
    ACK_BREACH = "ack_breach"
    RESOLVE_WARN50 = "resolve_warn50"
    RESOLVE_WARN75 = "resolve_warn75"
    RESOLVE_BREACH = "resolve_breach"
    DISPATCH_WARN50 = "dispatch_warn50"
    DISPATCH_WARN75 = "dispatch_warn75"
    DISPATCH_BREACH = "dispatch_breach"
    REVIEW_WARN50 = "review_warn50"
    REVIEW_WARN75 = "review_warn75"
    REVIEW_BREACH = "review_breach"
    VERIFY_WARN50 = "verify_warn50"
    VERIFY_WARN75 = "verify_warn75"
    VERIFY_BREACH = "verify_breach"

    @property
    def is_ack(self) -> bool:
        return self in ACK_TIMERS

    @property
    def clock(self) -> Clock:
        """The clock the timer belongs to."""
        return Clock(self.value.rsplit("_", 1)[0])

    @property
    def is_breach(self) -> bool:
        return self.fraction >= 1.0

    @property
    def is_stage(self) -> bool:
        """A timer of a stage clock (verify, dispatch, review): its breach never escalates."""
        return self.clock in STAGE_CLOCKS

    @property
    def fraction(self) -> float:
        """The share of the allowance after which the timer fires."""
        return TIMER_FRACTIONS[self]


ACK_TIMERS: tuple[TimerKind, ...] = (
    TimerKind.ACK_WARN50,
    TimerKind.ACK_WARN75,
    TimerKind.ACK_BREACH,
)
RESOLVE_TIMERS: tuple[TimerKind, ...] = (
    TimerKind.RESOLVE_WARN50,
    TimerKind.RESOLVE_WARN75,
    TimerKind.RESOLVE_BREACH,
)
DISPATCH_TIMERS: tuple[TimerKind, ...] = (
    TimerKind.DISPATCH_WARN50,
    TimerKind.DISPATCH_WARN75,
    TimerKind.DISPATCH_BREACH,
)
REVIEW_TIMERS: tuple[TimerKind, ...] = (
    TimerKind.REVIEW_WARN50,
    TimerKind.REVIEW_WARN75,
    TimerKind.REVIEW_BREACH,
)
VERIFY_TIMERS: tuple[TimerKind, ...] = (
    TimerKind.VERIFY_WARN50,
    TimerKind.VERIFY_WARN75,
    TimerKind.VERIFY_BREACH,
)
#: The stage clocks around handling: nobody holds the event while they run (the grid's staff
#: who verify, the command centre's dispatchers, the reviewer's level), so a breach raises a
#: notice and never escalates.
STAGE_CLOCKS: frozenset[Clock] = frozenset({Clock.VERIFY, Clock.DISPATCH, Clock.REVIEW})
TIMER_FRACTIONS: Mapping[TimerKind, float] = {
    kind: {"warn50": 0.5, "warn75": 0.75, "breach": 1.0}[kind.value.rsplit("_", 1)[1]]
    for kind in TimerKind
}
#: The ``EventState`` field holding the instant each timer fires for the current deadlines.
#: The marks are computed once on the category's calendar (working time is not linear in wall
#: time, so a mark cannot be derived from the deadline in SQL) and stored on the event row.
TIMER_FIELDS: Mapping[TimerKind, str] = {
    TimerKind.ACK_WARN50: "ack_warn50_at",
    TimerKind.ACK_WARN75: "ack_warn75_at",
    TimerKind.ACK_BREACH: "ack_due_at",
    TimerKind.RESOLVE_WARN50: "resolve_warn50_at",
    TimerKind.RESOLVE_WARN75: "resolve_warn75_at",
    TimerKind.RESOLVE_BREACH: "due_at",
    TimerKind.DISPATCH_WARN50: "dispatch_warn50_at",
    TimerKind.DISPATCH_WARN75: "dispatch_warn75_at",
    TimerKind.DISPATCH_BREACH: "dispatch_due_at",
    TimerKind.REVIEW_WARN50: "review_warn50_at",
    TimerKind.REVIEW_WARN75: "review_warn75_at",
    TimerKind.REVIEW_BREACH: "review_due_at",
    TimerKind.VERIFY_WARN50: "verify_warn50_at",
    TimerKind.VERIFY_WARN75: "verify_warn75_at",
    TimerKind.VERIFY_BREACH: "verify_due_at",
}

#: The ``EventState`` fields holding the original promise (``EventState.promised_ack_at``).
PROMISE_FIELDS: tuple[str, ...] = ("promised_ack_at", "promised_due_at")


class TimerOp(StrEnum):
    SET = "set"
    CANCEL = "cancel"


class NotificationKind(StrEnum):
    ASSIGNED = "assigned"
    WARNING = "warning"
    BREACH = "breach"
    ESCALATED = "escalated"
    RETURNED = "returned"
    REASSIGNED = "reassigned"
    REVIEW_REQUESTED = "review_requested"
    REVIEW_FAILED = "review_failed"
    CLOSED = "closed"
    VOIDED = "voided"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    VERIFY_REQUESTED = "verify_requested"
    MERGED = "merged"
    APPROVAL_REQUESTED = "approval_requested"  # a holder's extension or parking request
    REQUEST_APPROVED = "request_approved"
    REQUEST_REFUSED = "request_refused"
    UNPARKED = "unparked"
    REOPENED = "reopened"


def ensure_utc(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` in UTC; raise ``NaiveDatetime`` when it has no time zone."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetime(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Category:
    """A category's SLA and routing values (DESIGN §3); minutes may be fractional."""

    code: str
    ack_minutes: float
    resolve_minutes: float
    big: bool = False
    department: str | None = None
    #: 派遣: a registered event is dispatched within this much (working) time of registration.
    dispatch_minutes: float = 5.0
    #: 核查: a fix is reviewed (closed or sent back) within this much time of the resolution.
    review_minutes: float = 60.0
    #: 立案/核实: a public or hotline report is decided (confirmed, rejected or linked) within
    #: this much (working) time of its receipt.
    verify_minutes: float = 30.0

    def __post_init__(self) -> None:
        minutes = (self.ack_minutes, self.resolve_minutes, self.verify_minutes)
        if not all(m > 0 for m in (*minutes, self.dispatch_minutes, self.review_minutes)):
            raise ValueError(
                f"category {self.code!r}: ack, resolve, verify, dispatch and review minutes must"
                " be positive"
            )


@dataclass(frozen=True)
class Assignment:
    """Who handles an event, at which level. ``assignee_id`` None means the level's queue."""

    level: int
    assignee_id: str | None = None
    role: Role | None = None
    department: str | None = None
    reason: str = "manual"

    def __post_init__(self) -> None:
        if not MIN_LEVEL <= self.level <= MAX_LEVEL:
            raise ValueError(f"level must be in {MIN_LEVEL}..{MAX_LEVEL}, got {self.level}")
        if self.assignee_id is None and self.role is not None:
            raise ValueError("a queue assignment (assignee_id None) carries no role")


@dataclass(frozen=True)
class EventState:
    """The dispatch-relevant state of one event. Timestamps describe the current cycle
    (the latest dispatch, acknowledgement and resolution); the audit log keeps the history."""

    event_id: str
    status: Status
    level: int
    created_at: datetime
    version: int = 1
    category: str = ""
    grid: str | None = None
    reporter_id: str | None = None
    assignee_id: str | None = None
    assignee_role: Role | None = None
    department: str | None = None
    ack_due_at: datetime | None = None
    due_at: datetime | None = None
    ack_allowance: timedelta | None = None
    resolve_allowance: timedelta | None = None
    ack_remaining: timedelta | None = None
    resolve_remaining: timedelta | None = None
    ack_warn50_at: datetime | None = None
    ack_warn75_at: datetime | None = None
    resolve_warn50_at: datetime | None = None
    resolve_warn75_at: datetime | None = None
    #: The stage clocks' marks (``TIMER_FIELDS``): dispatch, set at registration and kept after
    #: the dispatch (按时派遣 compares ``dispatched_at`` with ``dispatch_due_at``); review, set
    #: at each resolution and kept after the decision. Never moved by a pause or an extension
    #: (neither can happen while they run: docs/decisions/0021).
    dispatch_warn50_at: datetime | None = None
    dispatch_warn75_at: datetime | None = None
    dispatch_due_at: datetime | None = None
    review_warn50_at: datetime | None = None
    review_warn75_at: datetime | None = None
    review_due_at: datetime | None = None
    #: The verification clock's marks (立案/核实), set when a public or hotline report is
    #: received and kept after the decision: ``verify_due_at`` is the 按时核实 deadline (the
    #: public report row carries the same instant; docs/decisions/0026). None for staff reports.
    verify_warn50_at: datetime | None = None
    verify_warn75_at: datetime | None = None
    verify_due_at: datetime | None = None
    #: The original promise: the acknowledgement and resolution deadlines of the first
    #: dispatch. Set once when the clocks first start and never moved afterwards, except by a
    #: pause (suspension, parking, merge), which moves them later by the paused working time
    #: (the ack promise only when paused before acknowledgement; docs/decisions/0013), by an
    #: approved extension (the resolution promise, to the deadline asked for) and by a
    #: reopening (a new cycle, a new promise; docs/decisions/0017). Rework, re-dispatch,
    #: escalation and breaches restart ``ack_due_at``/``due_at`` (the stage clock), not these.
    promised_ack_at: datetime | None = None
    promised_due_at: datetime | None = None
    #: The current deadlines reached a year the calendar does not know and used its fallback.
    clock_fallback: bool = False
    deadline_version: int = 0
    warnings_sent: frozenset[TimerKind] = frozenset()
    rework_count: int = 0
    redispatch_count: int = 0
    escalation_count: int = 0
    last_escalation_reason: EscalationReason | None = None
    suspended_at: datetime | None = None
    resume_status: Status | None = None
    dispatched_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    voided_at: datetime | None = None
    #: Report → close in working time on the category's calendar (beside the wall time
    #: ``closed_at - created_at``; the statistics count both in whole minutes), set at the
    #: close, cleared by a reopening. A span reaching a year the calendar does not know counts
    #: those days whole and sets ``clock_fallback`` (no guessing: ``domain.calendar``).
    resolution_working_time: timedelta | None = None
    #: The last rejected review of a fix: its note and instant. Kept until the next review
    #: decides (a new rejection replaces them, an approval keeps them as the record).
    rejection_note: str | None = None
    rejected_at: datetime | None = None
    #: The case's cycle: 1, and one more each time a closed case is reopened (a new dispatch,
    #: new clocks and a new promise; the earlier cycles stay in the audit log).
    cycle: int = 1
    #: The holder's request waiting for the level above (at most one): what it asks for, when,
    #: why, and the deadline asked for (an extension's new resolve deadline; a parking's review
    #: date, optional). Cleared by the decision, and when the event leaves its holder or its
    #: clocked status (a re-dispatch, an escalation, a return, a fix, a pause, a void).
    request_kind: RequestKind | None = None
    requested_at: datetime | None = None
    request_reason: str | None = None
    request_deadline: datetime | None = None
    #: A parked case's review date (None: none was given), while it is parked.
    parked_until: datetime | None = None


@dataclass(frozen=True)
class Command:
    """A request to change an event. Which fields matter depends on ``action``:

    - ``review``: ``approved`` is required.
    - ``dispatch``: ``assignment`` is required (its level becomes the event's level).
    - ``escalate`` / ``breach``: ``assignment`` is optional and must be at ``level + 1``;
      None puts the event in that level's queue.
    - ``acknowledge`` on a queued event: the actor claims it (``actor_role`` becomes the role).
    - ``claim`` on a queued event: the actor takes it (``actor_role`` is required); the
      deadlines run on.
    - ``warn`` / ``breach``: ``timer`` and ``deadline_version`` are required.
    - ``request_extension``: ``note`` (the reason) and ``deadline`` (the new resolve
      deadline) are required; ``request_parking``: ``note``, and ``deadline`` as the review
      date when there is one; ``refuse_*`` and ``reopen``: ``note`` (the reason).
    - ``reopen``: ``assignment`` is optional (None: the handler of the closed cycle).
    - ``expected_version``: when given and different from the state's, ``StaleVersion``.
    """

    action: Action
    actor: str
    note: str = ""
    actor_role: Role | None = None
    approved: bool | None = None
    assignment: Assignment | None = None
    timer: TimerKind | None = None
    deadline_version: int | None = None
    expected_version: int | None = None
    deadline: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One append-only audit row. ``data`` holds every state field the transition changed
    (JSON-friendly, see ``domain.lifecycle.audit``), so ``replay`` can rebuild the state."""

    event_id: str
    action: Action
    from_status: Status | None
    to_status: Status
    from_level: int | None
    to_level: int
    actor: str
    at: datetime
    version: int
    note: str = ""
    reason: EscalationReason | None = None
    data: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class TimerCommand:
    """Set or cancel one SLA timer; ``job_id`` is ``sla-{event_id}-{kind}-{deadline_version}``."""

    op: TimerOp
    event_id: str
    kind: TimerKind
    deadline_version: int
    fire_at: datetime | None = None

    @property
    def job_id(self) -> str:
        return timer_job_id(self.event_id, self.kind, self.deadline_version)


def timer_job_id(event_id: str, kind: TimerKind, deadline_version: int) -> str:
    """The deterministic RQ job id of one timer (RQ allows only letters, digits, ``_``, ``-``)."""
    return f"sla-{event_id}-{kind.value}-{deadline_version}"


@dataclass(frozen=True)
class Notification:
    """A message for the outbox. ``recipients`` are person ids; when it is empty the message goes
    to everyone holding ``audience`` at ``level`` (and ``department`` / the event's grid)."""

    kind: NotificationKind
    event_id: str
    level: int
    recipients: tuple[str, ...] = ()
    audience: Role | None = None
    department: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Decision:
    """What applying a command yields. A no-op (stale timer) has ``audit`` None and nothing else."""

    state: EventState
    audit: AuditEntry | None = None
    timers: tuple[TimerCommand, ...] = ()
    notifications: tuple[Notification, ...] = ()

    @property
    def noop(self) -> bool:
        return self.audit is None
