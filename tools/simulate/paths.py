"""The path of each event: its plan played on a memo of the core's answers, or on the core.

Acting a plan out on the core costs half a millisecond, and most plans follow a path already
seen. Along a path, what the core tells the people (status, level, handler, allowed actions,
who reviews, where an escalation goes) is the same for every event, and its clocks (the
resolution deadline, when each pending timer is due) are affine in the event's variables, read
off the core's runs by ``templates.Derivation``. The memo keeps those answers per path prefix;
``play`` runs on it unchanged. A plan that leaves the known prefixes is acted out on the core,
whose decisions then serve the writer directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.lifecycle import Action, Decision, TimerKind, allowed_actions
from tools.simulate.plans import Plan
from tools.simulate.play import (
    Move,
    Standing,
    Step,
    act_out,
    earliest,
    play,
    resolve_due,
    standing,
    timer_schedule,
)
from tools.simulate.templates import (
    N_ALLOWANCES,
    PEOPLE,
    SENTINELS,
    Derivation,
    Form,
    PathKey,
)
from tools.simulate.world import World


@dataclass(slots=True)
class _Node:
    """The core's answers after a path prefix (its forms use only the prefix's variables)."""

    standing: Standing
    allowed: frozenset[Action]
    resolve_due: Form | None
    timers: tuple[tuple[TimerKind, Form], ...]
    children: dict[Move, _Node] = field(default_factory=dict)


class _Unknown(Exception):
    """The plan leaves the paths the memo knows."""


class _MemoEngine:
    """``play``'s engine on the memo: answers come from the nodes, clocks from their forms.
    ``root`` is the node of the report (a big category's or not, a public report or not)."""

    def __init__(self, root: _Node, allowances: Sequence[int]) -> None:
        self.variables = list(allowances)
        self.node = root
        self.standing = root.standing
        self.next_timer: tuple[int, TimerKind] | None = None

    def open(self, at: int, *, trusted: bool) -> None:
        self.variables.append(at)
        self._enter(self.node)

    def act(self, step: Step) -> None:
        node = self.node.children.get(step.move)
        if node is None:
            raise _Unknown
        if step.move.timer is None:
            self.variables.append(step.at)
        self._enter(node)

    def _enter(self, node: _Node) -> None:
        self.node = node
        self.standing = node.standing
        variables = self.variables
        self.next_timer = earliest([(kind, form.at(variables)) for kind, form in node.timers])

    def allows(self, action: Action) -> bool:
        return action in self.node.allowed

    def resolve_due(self) -> int | None:
        due = self.node.resolve_due
        return None if due is None else due.at(self.variables)


def path_of(world: World, plan: Plan, steps: Sequence[Step]) -> tuple[PathKey, list[int]]:
    """The path of a plan acted out (``steps``), and the times of its free steps."""
    key = (world.categories[plan.category].big, plan.public, tuple(s.move for s in steps))
    return key, [s.at for s in steps if s.move.timer is None]


@dataclass(slots=True)
class Acted:
    """An event's path as found: its free step times and, when the core acted it out, its
    decisions (with the event's real ids)."""

    key: PathKey
    free: list[int]
    decisions: list[Decision] | None


class PathMemo:
    """The core's answers along every path learnt (``learn``), shared by events of all
    categories (allowances are variables)."""

    def __init__(self) -> None:
        self._roots: dict[tuple[bool, bool], _Node] = {}
        self.acted_out = 0  # plans that needed the core

    def find(self, world: World, plan: Plan, event_id: int, *, cutoff: int) -> Acted:
        """The plan's path, from the memo if it knows the way, else from the core."""
        category = world.categories[plan.category]
        root = self._roots.get((category.big, plan.public))
        if root is not None:
            try:
                memo = _MemoEngine(root, category.flat_allowances)
                steps = play(plan, engine=memo, cutoff=cutoff)
                return Acted(*path_of(world, plan, steps), None)
            except _Unknown:
                pass
        self.acted_out += 1
        steps, core = act_out(world, plan, event_id, cutoff=cutoff)
        return Acted(*path_of(world, plan, steps), core.decisions)

    def learn(self, derivation: Derivation) -> None:
        """Remember the core's answers after every prefix of the derivation's path."""
        big, public, moves = derivation.key
        people = {SENTINELS[k]: k for k in PEOPLE}
        node = self._roots.get((big, public))
        if node is None:
            node = self._roots[(big, public)] = self._node(derivation, 0, people, N_ALLOWANCES + 1)
        free = 1  # the report is the first free step
        for i, move in enumerate(moves[1:], start=1):
            free += move.timer is None
            child = node.children.get(move)
            if child is None:
                child = node.children[move] = self._node(derivation, i, people, N_ALLOWANCES + free)
            node = child

    @staticmethod
    def _node(derivation: Derivation, i: int, people: dict[str, str], n_vars: int) -> _Node:
        state = derivation.base[i].state
        others = [run[i].state for run in derivation.runs]
        due = resolve_due(state)
        due_form = None
        if due is not None:
            due_form = derivation.solve(due, [resolve_due(o) for o in others])
        other_schedules = [dict(timer_schedule(o)) for o in others]
        timers = tuple(
            (kind, derivation.solve(at, [s[kind] for s in other_schedules]))
            for kind, at in timer_schedule(state)
        )
        forms = [f for f in (due_form, *(f for _, f in timers)) if f is not None]
        if any(j >= n_vars for f in forms for j, _ in f.terms):
            raise AssertionError("a clock depends on a step that has not happened yet")
        allowed = frozenset(allowed_actions(state))
        return _Node(standing(state, people), allowed, due_form, timers)
