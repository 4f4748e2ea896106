"""The transition table as data, and the audit codec / replay integrity checks."""

from __future__ import annotations

import ast
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.lifecycle import (
    RULES,
    TRANSITIONS,
    Action,
    Assignment,
    AuditEntry,
    Category,
    Command,
    EventState,
    InvalidCommand,
    SlaPolicy,
    Status,
    allowed_actions,
    apply,
    open_event,
    render_markdown,
    replay,
)
from domain.lifecycle import transitions as transitions_module
from domain.lifecycle.audit import STATE_FIELDS, decode_field, encode_field
from domain.lifecycle.errors import ReplayError
from domain.lifecycle.model import CREATION_ACTIONS, TERMINAL_STATUSES
from domain.lifecycle.transitions import Target
from domain.roles import Role

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
POLICY = SlaPolicy(category=Category(code="litter", ack_minutes=10, resolve_minutes=60))
MEMBER = Assignment(level=0, assignee_id="m1", role=Role.MEMBER)


class Story:
    """Applies commands one minute apart and keeps the audit log."""

    def __init__(self) -> None:
        first = open_event(event_id="e1", policy=POLICY, now=T0, reporter_id="r1", grid="g1")
        assert first.audit is not None
        self.state: EventState = first.state
        self.log: list[AuditEntry] = [first.audit]

    def do(self, minutes: int, action: Action, **fields: object) -> None:
        actor = str(fields.pop("actor", "u1"))
        command = Command(action=action, actor=actor, **fields)  # type: ignore[arg-type]
        now = T0 + timedelta(minutes=minutes)
        decision = apply(self.state, command, now=now, policy=POLICY)
        assert decision.audit is not None
        self.state = decision.state
        self.log.append(decision.audit)


def test_rendered_table_is_the_documented_one() -> None:
    assert transitions_module.__doc__ is not None
    assert render_markdown() in transitions_module.__doc__


def test_terminal_statuses_have_no_way_out_but_a_reopening() -> None:
    """Nothing leaves a voided event; a closed case only by ``reopen`` (a new cycle)."""
    leaving = [(r.source, r.action) for r in RULES if r.source in TERMINAL_STATUSES]
    assert leaving == [(Status.CLOSED, Action.REOPEN)]


def test_creation_actions_are_not_in_the_table() -> None:
    assert not [r for r in RULES if r.action in CREATION_ACTIONS]


def test_every_non_terminal_status_can_be_left_or_voided() -> None:
    for status in Status:
        if status not in TERMINAL_STATUSES:
            assert any(r.source is status for r in RULES), status
    assert {r.source for r in RULES if r.action is Action.VOID} == set(
        Status
    ) - TERMINAL_STATUSES - {Status.RESOLVED}


def test_keys_with_several_rules_differ_by_guard() -> None:
    for rules in TRANSITIONS.values():
        assert len({r.guard for r in rules}) == len(rules)


def test_allowed_actions_follow_the_guards() -> None:
    story = Story()
    story.do(0, Action.DISPATCH, assignment=MEMBER)
    assert allowed_actions(story.state) == [
        Action.DISPATCH, Action.ACKNOWLEDGE, Action.ESCALATE, Action.RETURN, Action.SUSPEND,
        Action.VOID, Action.MERGE, Action.REQUEST_EXTENSION, Action.REQUEST_PARKING,
    ]  # fmt: skip
    top = replace(story.state, level=3)
    assert Action.ESCALATE not in allowed_actions(top)
    assert Action.RETURN in allowed_actions(top)
    assert Action.RETURN not in allowed_actions(replace(story.state, level=2))
    assert Action.BREACH in allowed_actions(top, include_system=True)


def test_target_markers() -> None:
    assert {r.target for r in RULES if isinstance(r.target, Target)} == {
        Target.SAME,
        Target.PREVIOUS,
    }


def test_merge_parks_the_clock_and_unmerge_gives_back_the_time_left() -> None:
    story = Story()
    story.do(0, Action.DISPATCH, assignment=MEMBER)
    due = story.state.due_at
    assert due is not None
    story.do(5, Action.MERGE)
    merged = story.state
    assert merged.status is Status.MERGED and merged.resume_status is Status.DISPATCHED
    assert merged.resolve_remaining is not None and merged.ack_remaining is not None
    assert allowed_actions(merged) == [Action.VOID, Action.UNMERGE]
    story.do(20, Action.UNMERGE)
    back = story.state
    assert back.status is Status.DISPATCHED and back.resume_status is None
    assert back.due_at == due + timedelta(minutes=15)  # parked from minute 5 to 20
    fresh = Story()
    fresh.do(0, Action.MERGE)  # registered: nothing to pause
    assert fresh.state.resolve_remaining is None and fresh.state.suspended_at is None
    fresh.do(1, Action.UNMERGE)
    assert fresh.state.status is Status.REGISTERED


def test_codec_round_trips_every_field() -> None:
    story = Story()
    story.do(0, Action.DISPATCH, assignment=Assignment(0, "h1", Role.HEAD))
    story.do(3, Action.SUSPEND)
    for name in STATE_FIELDS:
        value = getattr(story.state, name)
        assert decode_field(name, encode_field(name, value)) == value, name


def test_replay_rejects_a_gap_a_reorder_and_a_foreign_entry() -> None:
    story = Story()
    story.do(0, Action.DISPATCH, assignment=MEMBER)
    story.do(1, Action.ACKNOWLEDGE, actor="m1")
    story.do(2, Action.RESOLVE, actor="m1")
    log = story.log
    assert replay(log) == story.state
    with pytest.raises(ReplayError):
        replay([log[0], log[2], log[3]])
    with pytest.raises(ReplayError):
        replay([log[0], log[2], log[1], log[3]])
    with pytest.raises(ReplayError):
        replay([*log[:2], replace(log[2], event_id="other")])
    with pytest.raises(ReplayError):
        replay(log[1:])
    with pytest.raises(ReplayError):
        replay([])
    with pytest.raises(ReplayError):
        replay([*log[:2], replace(log[2], data={**log[2].data, "status": "closed"})])
    with pytest.raises(ReplayError):
        replay([*log[:2], replace(log[2], data={**log[2].data, "colour": "red"})])


def test_domain_imports_only_the_standard_library() -> None:
    package = Path(transitions_module.__file__).parent.parent  # the whole domain core
    modules = sorted(package.rglob("*.py"))
    assert len(modules) >= 10
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                ok = top in sys.stdlib_module_names or top == "domain"
                assert ok, f"{path.name} imports {name}"


def test_a_return_goes_back_to_the_command_centres_queue_with_a_reason() -> None:
    """回退: not ours. Back to the command centre's shared queue, stage clocks restart there,
    the original promise stays, nothing is counted as an escalation or a re-dispatch; no
    reason, no return."""
    story = Story()
    story.do(0, Action.DISPATCH, assignment=MEMBER)
    promised = story.state.promised_due_at
    with pytest.raises(InvalidCommand):
        story.do(5, Action.RETURN)
    story.do(5, Action.RETURN, note="占道经营归城管，不属网格职责")
    back = story.state
    assert back.status is Status.DISPATCHED and back.level == 2 and back.assignee_id is None
    assert back.due_at is not None and back.due_at > T0 + timedelta(minutes=5)
    assert back.promised_due_at == promised
    assert (back.escalation_count, back.redispatch_count) == (0, 0)
