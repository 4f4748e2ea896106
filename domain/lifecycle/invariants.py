"""Invariants every reachable ``EventState`` satisfies; ``apply`` checks them after each step."""

from __future__ import annotations

from domain.lifecycle.model import (
    CLOCKED_STATUSES,
    MERGEABLE_STATUSES,
    PAUSED_STATUSES,
    EventState,
    RequestKind,
    Status,
)
from domain.roles import MAX_LEVEL, MIN_LEVEL


def invariant_violations(state: EventState) -> list[str]:
    """Every invariant ``state`` breaks, as readable sentences (empty when the state is sound)."""
    problems: list[str] = []

    def need(condition: bool, message: str) -> None:
        if not condition:
            problems.append(message)

    s = state.status
    need(MIN_LEVEL <= state.level <= MAX_LEVEL, f"level {state.level} outside 0..3")
    need(state.version >= 1, "version must be at least 1")
    need(state.cycle >= 1, "cycle must be at least 1")
    for name in ("rework_count", "redispatch_count", "escalation_count", "deadline_version"):
        need(getattr(state, name) >= 0, f"{name} is negative")
    need(state.assignee_id is not None or state.assignee_role is None, "role without assignee")
    for name in (
        "created_at",
        "ack_due_at",
        "due_at",
        "suspended_at",
        "dispatched_at",
        "acknowledged_at",
        "resolved_at",
        "closed_at",
        "voided_at",
        "promised_ack_at",
        "promised_due_at",
        "rejected_at",
        "requested_at",
        "request_deadline",
        "parked_until",
    ):
        value = getattr(state, name)
        need(value is None or value.utcoffset() is not None, f"{name} is naive")

    if s in (Status.PENDING_VERIFICATION, Status.REGISTERED):
        need(state.dispatched_at is None, f"{s} but dispatched_at is set")
        need(state.assignee_id is None, f"{s} but an assignee is set")
        need(state.deadline_version == 0, f"{s} but deadlines were set")
        need(state.promised_due_at is None, f"{s} but a promise was made")
    if state.request_kind is None:
        need(
            state.requested_at is None
            and state.request_reason is None
            and state.request_deadline is None,
            "request details without a pending request",
        )
    else:
        need(s in CLOCKED_STATUSES, f"a request pending while {s}")
        need(state.assignee_id is not None, "a request pending without a holder")
        need(state.requested_at is not None, "a pending request without requested_at")
        need(bool(state.request_reason), "a pending request without a reason")
        if state.request_kind is RequestKind.EXTENSION:
            need(state.request_deadline is not None, "an extension request without a deadline")
    need(state.parked_until is None or s == Status.PARKED, f"{s} but parked_until is set")
    if s in CLOCKED_STATUSES or s in PAUSED_STATUSES:
        need(state.dispatched_at is not None, f"{s} without dispatched_at")
        need(state.due_at is not None, f"{s} without due_at")
        need(state.resolve_allowance is not None, f"{s} without resolve allowance")
        need(state.deadline_version >= 1, f"{s} with deadline_version 0")
        need(state.promised_due_at is not None, f"{s} without the original promise")
    if s == Status.DISPATCHED:
        need(
            state.ack_due_at is not None and state.ack_allowance is not None,
            "dispatched without an ack deadline",
        )
        need(state.acknowledged_at is None, "dispatched but acknowledged_at is set")
    if s == Status.ACKNOWLEDGED:
        need(state.assignee_id is not None, "acknowledged without an assignee")
        need(state.acknowledged_at is not None, "acknowledged without acknowledged_at")
    if s in (Status.DISPATCHED, Status.ACKNOWLEDGED):
        need(state.resolved_at is None, f"{s} but resolved_at is set")
    if s == Status.RESOLVED:
        need(state.resolved_at is not None, "resolved without resolved_at")
        need(state.assignee_id is not None, "resolved without an assignee")
    if s == Status.CLOSED:
        need(state.closed_at is not None, "closed without closed_at")
        need(state.resolved_at is not None, "closed without resolved_at")
    else:
        need(state.closed_at is None, f"{s} but closed_at is set")
    if s == Status.VOIDED:
        need(state.voided_at is not None, "voided without voided_at")
    else:
        need(state.voided_at is None, f"{s} but voided_at is set")
    if s in PAUSED_STATUSES:
        need(state.suspended_at is not None, f"{s} without suspended_at")
        need(state.resume_status in CLOCKED_STATUSES, f"{s} without a clocked resume status")
        need(state.resolve_remaining is not None, f"{s} without remaining resolve time")
        need(
            (state.ack_remaining is not None) == (state.resume_status == Status.DISPATCHED),
            f"remaining ack time is kept exactly when {s} before acknowledgement",
        )
    elif s == Status.MERGED:
        back = state.resume_status
        need(back in MERGEABLE_STATUSES, "merged without a status to return to")
        clocked = back in CLOCKED_STATUSES
        need((state.suspended_at is not None) == clocked, "merged: paused exactly when clocked")
        need((state.resolve_remaining is not None) == clocked, "merged: remaining time if clocked")
        need(
            (state.ack_remaining is not None) == (back == Status.DISPATCHED),
            "remaining ack time is kept exactly when merged before acknowledgement",
        )
    else:
        need(state.suspended_at is None, f"{s} but suspended_at is set")
        need(state.resume_status is None, f"{s} but resume_status is set")
        need(
            state.ack_remaining is None and state.resolve_remaining is None,
            f"{s} but remaining times are set",
        )
    return problems
