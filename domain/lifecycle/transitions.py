"""The transition table of DESIGN §2, as data.

Each rule says: in status ``source``, action ``action`` (when ``guard`` holds) leads to ``target``.
``same`` keeps the status; ``previous`` returns to the status remembered at suspension. Guards on
the level are checked against the state; ``approved`` / ``rejected`` against the review command.
``report`` and ``register`` only create events (``open_event``); ``warn`` and ``breach`` are sent
by timers and never raise: a stale or early timer is a no-op. A holder's request (延期 extension,
挂账 parking) needs a holder and no other pending request; the level above approves or refuses it
(who may is the service's check, ``domain.supervision.may_decide``). ``closed`` is left only by
``reopen`` (a new cycle). The table, as ``render_markdown()`` prints it:

| from | action | guard | to | effect |
|---|---|---|---|---|
| pending_verification | verify | | registered | public report accepted by grid staff |
| pending_verification | void | | voided | invalid or duplicate report |
| registered | dispatch | | dispatched | assign at the assignment's level; deadlines start |
| registered | void | | voided | invalid or duplicate report |
| dispatched | acknowledge | | acknowledged | ack timers off; the actor claims a queued event |
| dispatched | dispatch | | dispatched | manual re-dispatch (counted); deadlines restart |
| dispatched | escalate | level < 3 | dispatched | handler asks: level + 1, deadlines restart |
| dispatched | return | level != 2 | dispatched | not ours: command centre queue; clocks restart |
| dispatched | suspend | | suspended | clock paused; remaining time kept |
| dispatched | void | | voided | timers cancelled |
| dispatched | warn | | same | warning sent (50 % / 75 %) |
| dispatched | breach | level < 3 | dispatched | ack overdue / deadline passed: escalate one level |
| dispatched | breach | level = 3 | same | breach reported to the command centre |
| acknowledged | resolve | | resolved | resolve timers cancelled; review requested one level up |
| acknowledged | dispatch | | dispatched | manual re-dispatch (counted); deadlines restart |
| acknowledged | escalate | level < 3 | dispatched | handler asks: level + 1, deadlines restart |
| acknowledged | return | level != 2 | dispatched | not ours: command centre queue; clocks restart |
| acknowledged | suspend | | suspended | clock paused; remaining time kept |
| acknowledged | void | | voided | timers cancelled |
| acknowledged | warn | | same | warning sent (50 % / 75 %) |
| acknowledged | breach | level < 3 | dispatched | deadline passed: escalate one level |
| acknowledged | breach | level = 3 | same | breach reported to the command centre |
| resolved | review | approved | closed | fix accepted |
| resolved | review | rejected | dispatched | rework (counted): same handler, fresh deadlines |
| suspended | resume | | previous | deadlines = now + remaining time |
| suspended | void | | voided | |
| pending_verification | merge | | merged | parked as a duplicate of another open event |
| registered | merge | | merged | parked as a duplicate of another open event |
| dispatched | merge | | merged | parked as a duplicate; clock paused, remaining time kept |
| acknowledged | merge | | merged | parked as a duplicate; clock paused, remaining time kept |
| merged | unmerge | | previous | back where it was; deadlines = now + remaining time |
| merged | void | | voided | |
| dispatched | claim | queued | same | a queued event: the actor takes it; deadlines run on |
| dispatched | request_extension | held, none asked | same | 延期 asked; clocks run on |
| acknowledged | request_extension | held, none asked | same | 延期 asked; clocks run on |
| dispatched | approve_extension | extension asked | same | due_at, promise := deadline |
| acknowledged | approve_extension | extension asked | same | due_at, promise := deadline |
| dispatched | refuse_extension | extension asked | same | refused (reason) |
| acknowledged | refuse_extension | extension asked | same | refused (reason) |
| dispatched | request_parking | held, none asked | same | 挂账 asked; clocks run on |
| acknowledged | request_parking | held, none asked | same | 挂账 asked; clocks run on |
| dispatched | approve_parking | parking asked | parked | clocks paused, as suspend |
| acknowledged | approve_parking | parking asked | parked | clocks paused, as suspend |
| dispatched | refuse_parking | parking asked | same | refused (reason) |
| acknowledged | refuse_parking | parking asked | same | refused (reason) |
| parked | unpark | | previous | as resume |
| parked | void | | voided | |
| closed | reopen | | dispatched | new cycle; counted as rework |
| registered | warn | | same | warning sent (50 % / 75 %) |
| registered | breach | | same | stage clock (dispatch / review) breached: 督办, no escalation |
| resolved | warn | | same | warning sent (50 % / 75 %) |
| resolved | breach | | same | stage clock (dispatch / review) breached: 督办, no escalation |
| pending_verification | warn | | same | warning sent (50 % / 75 %) |
| pending_verification | breach | | same | stage clock (verify) breached: 督办, no escalation |

The stages of the national process map onto the table: 立案/核实 is ``pending_verification``
(public and hotline reports; the verification clock), 派遣 is ``registered`` (the dispatch
clock), 处置 is ``dispatched``/``acknowledged`` (the acknowledgement and resolution clocks),
核查 is ``resolved`` (the review clock), and **结案 is the review's approval**: ``resolved |
review | approved`` closes the event in the same transition, so the close has no clock of its
own — it is timed by the review clock (docs/decisions/0026).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from domain.lifecycle.model import (
    SYSTEM_ACTIONS,
    Action,
    Command,
    EventState,
    RequestKind,
    Status,
)
from domain.roles import COMMAND_CENTRE_LEVEL, MAX_LEVEL


class Target(StrEnum):
    """Targets that depend on the state rather than naming a status."""

    SAME = "same"
    PREVIOUS = "previous"


class Guard(StrEnum):
    """Named conditions a rule may carry."""

    BELOW_TOP = "level < 3"
    AT_TOP = "level = 3"
    APPROVED = "approved"
    REJECTED = "rejected"
    QUEUED = "queued"  # nobody holds the event: it waits in its level's queue
    OFF_CENTRE = "level != 2"  # not with the command centre (a return goes there)
    MAY_REQUEST = "held, none asked"  # someone holds it and no request of theirs waits
    EXTENSION_PENDING = "extension asked"
    PARKING_PENDING = "parking asked"


#: Guards decided by the command (they do not restrict ``allowed_actions``).
COMMAND_GUARDS: frozenset[Guard] = frozenset({Guard.APPROVED, Guard.REJECTED})


@dataclass(frozen=True)
class Rule:
    source: Status
    action: Action
    target: Status | Target
    guard: Guard | None = None
    effect: str = ""


_S = Status
_A = Action

_REDISPATCH = "manual re-dispatch (counted); deadlines restart"
_ESCALATE = "handler asks: level + 1, deadlines restart"
_SUSPEND = "clock paused; remaining time kept"
_RETURN = "not ours: command centre queue; clocks restart"
_WARN = "warning sent (50 % / 75 %)"
_TOP_BREACH = "breach reported to the command centre"
_VOID_REPORT = "invalid or duplicate report"
_MERGE = "parked as a duplicate of another open event"
_MERGE_CLOCKED = "parked as a duplicate; clock paused, remaining time kept"
_ASK_EXTENSION = "延期 asked; clocks run on"
_EXTEND = "due_at, promise := deadline"
_REFUSE = "refused (reason)"
_ASK_PARKING = "挂账 asked; clocks run on"
_PARK = "clocks paused, as suspend"
_STAGE_BREACH = "stage clock (dispatch / review) breached: 督办, no escalation"

RULES: tuple[Rule, ...] = (
    Rule(_S.PENDING_VERIFICATION, _A.VERIFY, _S.REGISTERED, None,
         "public report accepted by grid staff"),
    Rule(_S.PENDING_VERIFICATION, _A.VOID, _S.VOIDED, None, _VOID_REPORT),
    Rule(_S.REGISTERED, _A.DISPATCH, _S.DISPATCHED, None,
         "assign at the assignment's level; deadlines start"),
    Rule(_S.REGISTERED, _A.VOID, _S.VOIDED, None, _VOID_REPORT),
    Rule(_S.DISPATCHED, _A.ACKNOWLEDGE, _S.ACKNOWLEDGED, None,
         "ack timers off; the actor claims a queued event"),
    Rule(_S.DISPATCHED, _A.DISPATCH, _S.DISPATCHED, None, _REDISPATCH),
    Rule(_S.DISPATCHED, _A.ESCALATE, _S.DISPATCHED, Guard.BELOW_TOP, _ESCALATE),
    Rule(_S.DISPATCHED, _A.RETURN, _S.DISPATCHED, Guard.OFF_CENTRE, _RETURN),
    Rule(_S.DISPATCHED, _A.SUSPEND, _S.SUSPENDED, None, _SUSPEND),
    Rule(_S.DISPATCHED, _A.VOID, _S.VOIDED, None, "timers cancelled"),
    Rule(_S.DISPATCHED, _A.WARN, Target.SAME, None, _WARN),
    Rule(_S.DISPATCHED, _A.BREACH, _S.DISPATCHED, Guard.BELOW_TOP,
         "ack overdue / deadline passed: escalate one level"),
    Rule(_S.DISPATCHED, _A.BREACH, Target.SAME, Guard.AT_TOP, _TOP_BREACH),
    Rule(_S.ACKNOWLEDGED, _A.RESOLVE, _S.RESOLVED, None,
         "resolve timers cancelled; review requested one level up"),
    Rule(_S.ACKNOWLEDGED, _A.DISPATCH, _S.DISPATCHED, None, _REDISPATCH),
    Rule(_S.ACKNOWLEDGED, _A.ESCALATE, _S.DISPATCHED, Guard.BELOW_TOP, _ESCALATE),
    Rule(_S.ACKNOWLEDGED, _A.RETURN, _S.DISPATCHED, Guard.OFF_CENTRE, _RETURN),
    Rule(_S.ACKNOWLEDGED, _A.SUSPEND, _S.SUSPENDED, None, _SUSPEND),
    Rule(_S.ACKNOWLEDGED, _A.VOID, _S.VOIDED, None, "timers cancelled"),
    Rule(_S.ACKNOWLEDGED, _A.WARN, Target.SAME, None, _WARN),
    Rule(_S.ACKNOWLEDGED, _A.BREACH, _S.DISPATCHED, Guard.BELOW_TOP,
         "deadline passed: escalate one level"),
    Rule(_S.ACKNOWLEDGED, _A.BREACH, Target.SAME, Guard.AT_TOP, _TOP_BREACH),
    Rule(_S.RESOLVED, _A.REVIEW, _S.CLOSED, Guard.APPROVED, "fix accepted"),
    Rule(_S.RESOLVED, _A.REVIEW, _S.DISPATCHED, Guard.REJECTED,
         "rework (counted): same handler, fresh deadlines"),
    Rule(_S.SUSPENDED, _A.RESUME, Target.PREVIOUS, None, "deadlines = now + remaining time"),
    Rule(_S.SUSPENDED, _A.VOID, _S.VOIDED, None, ""),
    Rule(_S.PENDING_VERIFICATION, _A.MERGE, _S.MERGED, None, _MERGE),
    Rule(_S.REGISTERED, _A.MERGE, _S.MERGED, None, _MERGE),
    Rule(_S.DISPATCHED, _A.MERGE, _S.MERGED, None, _MERGE_CLOCKED),
    Rule(_S.ACKNOWLEDGED, _A.MERGE, _S.MERGED, None, _MERGE_CLOCKED),
    Rule(_S.MERGED, _A.UNMERGE, Target.PREVIOUS, None,
         "back where it was; deadlines = now + remaining time"),
    Rule(_S.MERGED, _A.VOID, _S.VOIDED, None, ""),
    Rule(_S.DISPATCHED, _A.CLAIM, Target.SAME, Guard.QUEUED,
         "a queued event: the actor takes it; deadlines run on"),
    Rule(_S.DISPATCHED, _A.REQUEST_EXTENSION, Target.SAME, Guard.MAY_REQUEST, _ASK_EXTENSION),
    Rule(_S.ACKNOWLEDGED, _A.REQUEST_EXTENSION, Target.SAME, Guard.MAY_REQUEST, _ASK_EXTENSION),
    Rule(_S.DISPATCHED, _A.APPROVE_EXTENSION, Target.SAME, Guard.EXTENSION_PENDING, _EXTEND),
    Rule(_S.ACKNOWLEDGED, _A.APPROVE_EXTENSION, Target.SAME, Guard.EXTENSION_PENDING, _EXTEND),
    Rule(_S.DISPATCHED, _A.REFUSE_EXTENSION, Target.SAME, Guard.EXTENSION_PENDING, _REFUSE),
    Rule(_S.ACKNOWLEDGED, _A.REFUSE_EXTENSION, Target.SAME, Guard.EXTENSION_PENDING, _REFUSE),
    Rule(_S.DISPATCHED, _A.REQUEST_PARKING, Target.SAME, Guard.MAY_REQUEST, _ASK_PARKING),
    Rule(_S.ACKNOWLEDGED, _A.REQUEST_PARKING, Target.SAME, Guard.MAY_REQUEST, _ASK_PARKING),
    Rule(_S.DISPATCHED, _A.APPROVE_PARKING, _S.PARKED, Guard.PARKING_PENDING, _PARK),
    Rule(_S.ACKNOWLEDGED, _A.APPROVE_PARKING, _S.PARKED, Guard.PARKING_PENDING, _PARK),
    Rule(_S.DISPATCHED, _A.REFUSE_PARKING, Target.SAME, Guard.PARKING_PENDING, _REFUSE),
    Rule(_S.ACKNOWLEDGED, _A.REFUSE_PARKING, Target.SAME, Guard.PARKING_PENDING, _REFUSE),
    Rule(_S.PARKED, _A.UNPARK, Target.PREVIOUS, None,
         "as resume"),
    Rule(_S.PARKED, _A.VOID, _S.VOIDED, None, ""),
    Rule(_S.CLOSED, _A.REOPEN, _S.DISPATCHED, None,
         "new cycle; counted as rework"),
    Rule(_S.REGISTERED, _A.WARN, Target.SAME, None, _WARN),
    Rule(_S.REGISTERED, _A.BREACH, Target.SAME, None, _STAGE_BREACH),
    Rule(_S.RESOLVED, _A.WARN, Target.SAME, None, _WARN),
    Rule(_S.RESOLVED, _A.BREACH, Target.SAME, None, _STAGE_BREACH),
    Rule(_S.PENDING_VERIFICATION, _A.WARN, Target.SAME, None, _WARN),
    Rule(_S.PENDING_VERIFICATION, _A.BREACH, Target.SAME, None,
         "stage clock (verify) breached: 督办, no escalation"),
)  # fmt: skip


def _index(rules: tuple[Rule, ...]) -> dict[tuple[Status, Action], tuple[Rule, ...]]:
    table: dict[tuple[Status, Action], tuple[Rule, ...]] = {}
    for rule in rules:
        key = (rule.source, rule.action)
        table[key] = (*table.get(key, ()), rule)
    return table


#: ``(status, action) -> rules``; several rules for one key differ by their guards.
TRANSITIONS: Mapping[tuple[Status, Action], tuple[Rule, ...]] = _index(RULES)


def guard_holds(guard: Guard | None, state: EventState, command: Command | None) -> bool:
    """Whether ``guard`` holds; command guards hold for any command when ``command`` is None."""
    if guard is None:
        return True
    if guard is Guard.BELOW_TOP:
        return state.level < MAX_LEVEL
    if guard is Guard.AT_TOP:
        return state.level >= MAX_LEVEL
    if guard is Guard.QUEUED:
        return state.assignee_id is None
    if guard is Guard.OFF_CENTRE:
        return state.level != COMMAND_CENTRE_LEVEL
    if guard is Guard.MAY_REQUEST:
        return state.assignee_id is not None and state.request_kind is None
    if guard is Guard.EXTENSION_PENDING:
        return state.request_kind is RequestKind.EXTENSION
    if guard is Guard.PARKING_PENDING:
        return state.request_kind is RequestKind.PARKING
    if command is None:
        return True
    if guard is Guard.APPROVED:
        return command.approved is True
    return command.approved is False


def find_rule(state: EventState, command: Command) -> Rule | None:
    """The rule that ``command`` follows from ``state``, or None when no rule applies."""
    for rule in TRANSITIONS.get((state.status, command.action), ()):
        if guard_holds(rule.guard, state, command):
            return rule
    return None


def allowed_actions(state: EventState, *, include_system: bool = False) -> list[Action]:
    """The actions a person may take now, in ``Action`` order (timer actions on request)."""
    allowed: list[Action] = []
    for action in Action:
        if action in SYSTEM_ACTIONS and not include_system:
            continue
        rules = TRANSITIONS.get((state.status, action), ())
        if any(guard_holds(rule.guard, state, None) for rule in rules):
            allowed.append(action)
    return allowed


def resolve_target(rule: Rule, state: EventState) -> Status:
    """The status a rule leads to from ``state``."""
    if rule.target is Target.SAME:
        return state.status
    if rule.target is Target.PREVIOUS:
        if state.resume_status is None:
            raise AssertionError(
                f"event {state.event_id} is {state.status} without a resume status"
            )
        return state.resume_status
    return Status(rule.target)


def render_markdown(rules: tuple[Rule, ...] = RULES) -> str:
    """The table as Markdown (the same text as this module's docstring shows)."""
    lines = ["| from | action | guard | to | effect |", "|---|---|---|---|---|"]
    for rule in rules:
        guard = rule.guard.value if rule.guard is not None else ""
        cells = [rule.source.value, rule.action.value, guard, rule.target.value, rule.effect]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(line.replace("|  |", "| |") for line in lines)
