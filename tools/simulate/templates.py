"""Path templates: what every event of one path writes, read off the dispatch core's own runs.

Events sharing a path (the same moves, ``play.Move``) differ only in their step times, their
SLA allowances and their ids, and every instant or duration the core computes along the path
is an affine function of the first two (deadlines are ``dispatch + allowance``, warnings fire at
a fraction of it, remaining time is ``deadline - now``…). So the real core runs the path on one
representative and once more per group of variables, nudged; the differences give every value's
coefficients (a ``Form``), and one more run at random nudges checks them all. A ``Template`` is
the event row and audit rows of the path as COPY text with slots for those forms and the ids;
the same forms give the memo of ``tools.simulate.paths`` the core's clocks along the path.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import numpy as np

from dispatch import store
from domain.lifecycle import Category, Decision, LevelAllowance, SlaPolicy, Status
from domain.lifecycle.audit import decode_field
from domain.lifecycle.sla import timer_due_at
from domain.roles import LEVELS, start_level
from tools.simulate.play import CoreEngine, Move, Step
from tools.simulate.world import US, to_us

#: A path: big category or not, public report or not, and the moves.
PathKey = tuple[bool, bool, tuple[Move, ...]]
#: The symbolic people of a path, and the placeholders the template runs use for them and for
#: everything else that differs between events (event, grid, reporter, department, category).
PEOPLE = ("mA", "mB", "head", "comm", "disp", "dept")
SENTINELS: Mapping[str, str] = {
    **{k: f"@{k}@" for k in PEOPLE}, "E": "@E@", "G": "@G@", "R": "@R@", "DEPT": "@D@", "C": "@C@",
}  # fmt: skip
_SLOT_OF = {v: k for k, v in SENTINELS.items()}
#: Each event's variables: its ten allowances (ack then resolve, level by level; then the stage
#: clocks' dispatch and review), then the times of its free steps (every step but the timers,
#: which fire when due).
N_LEVEL_ALLOWANCES = 2 * len(LEVELS)
STAGE_ALLOWANCES = (N_LEVEL_ALLOWANCES, N_LEVEL_ALLOWANCES + 1)
N_ALLOWANCES = N_LEVEL_ALLOWANCES + len(STAGE_ALLOWANCES)
DELTA = 4  # µs: keeps allowance * 0.25 exact, as whole-second allowances are
#: Coefficients are found in one run per group of PER_RUN variables, nudged by 4·RADIX^i µs:
#: a value moves by sum(4c_i · RADIX^i), and 4c_i (a multiple of a quarter, |c_i| ≤ 2) is read
#: back as a balanced base-RADIX digit. A final run with random nudges checks every value.
RADIX = 17
PER_RUN = 4
NULL = "\\N"
#: The event row's columns that are not the core's state (what was reported, where), then the
#: state's, in ``store.EVENT_ROW_COLUMNS`` order.
_FIRST_STATE = next(i for i, c in enumerate(store.EVENT_ROW_COLUMNS) if c in store.STATE_FIELDS)
HEAD_COLUMNS = store.EVENT_ROW_COLUMNS[:_FIRST_STATE]
STATE_COLUMNS = store.EVENT_ROW_COLUMNS[_FIRST_STATE:]
if not set(STATE_COLUMNS) <= set(store.STATE_FIELDS):
    raise RuntimeError("the event row's state columns no longer come last")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _braces(value: str) -> str:
    return value.replace("{", "{{").replace("}", "}}")


def _array(values: Iterable[Any]) -> str:
    return "{" + ",".join(sorted(str(getattr(v, "value", v)) for v in values)) + "}"


#: COPY text by the value's type (a lookup: the bulk writer formats millions of values).
_TEXT: Mapping[type, Callable[[Any], str]] = {
    str: _escape,
    int: str,
    float: str,
    bool: lambda v: "t" if v else "f",
    type(None): lambda v: NULL,
    datetime: datetime.isoformat,
    timedelta: lambda v: f"{v // timedelta(microseconds=1)} microseconds",
    uuid.UUID: str,
    list: _array,  # text arrays (the sent warnings)
    frozenset: _array,
    dict: lambda v: _escape(json.dumps(v, ensure_ascii=False)),
}


def copy_text(value: Any) -> str:
    """One column value as COPY text."""
    to_text = _TEXT.get(type(value))
    if to_text is not None:
        return to_text(value)
    if isinstance(value, Enum):
        return _escape(str(value.value))
    raise TypeError(f"no COPY text for {type(value).__name__}")


def _us(value: datetime | timedelta) -> int:
    return to_us(value) if isinstance(value, datetime) else value // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Form:
    """A value (µs) as an affine function of an event's variables, counted in quarters (a
    warning fires at 75 % of an allowance): ``4 · value = const4 + Σ coef4 · variable``, the
    nonzero terms as (variable index, coef4)."""

    const4: int
    terms: tuple[tuple[int, int], ...]

    def at(self, variables: Sequence[int]) -> int:
        value4 = self.const4
        for index, coef4 in self.terms:
            value4 += coef4 * variables[index]
        if value4 % 4:
            raise NotAffine("an allowance that is not a multiple of 4 µs broke exactness")
        return value4 // 4


class NotAffine(AssertionError):
    """A value of the path did not follow the affine model (the template would be wrong)."""


def _policy(big: bool, allowances: Sequence[int]) -> SlaPolicy:
    """A policy whose allowance for each level is given explicitly (µs, ack then resolve), and
    the stage clocks' (dispatch, review)."""
    minute = 60 * US
    levels = {
        level: LevelAllowance(
            multiplier=1.0,
            ack_minutes=allowances[2 * level] / minute,
            resolve_minutes=allowances[2 * level + 1] / minute,
        )
        for level in LEVELS
    }
    category = Category(
        code=SENTINELS["C"],
        ack_minutes=allowances[0] / minute,
        resolve_minutes=allowances[1] / minute,
        big=big,
        department=SENTINELS["DEPT"],
        dispatch_minutes=allowances[STAGE_ALLOWANCES[0]] / minute,
        review_minutes=allowances[STAGE_ALLOWANCES[1]] / minute,
    )
    return SlaPolicy(category=category, levels=levels)


def replay(key: PathKey, variables: Sequence[int]) -> list[Decision]:
    """Run the real core along a path with placeholder ids: free steps at the given times,
    timers exactly when due."""
    big, public, moves = key
    engine = CoreEngine(
        event_id=SENTINELS["E"],
        policy=_policy(big, variables[:N_ALLOWANCES]),
        grid_code=SENTINELS["G"],
        reporter=None if public else SENTINELS["R"],
        ids={k: SENTINELS[k] for k in PEOPLE},
        department=SENTINELS["DEPT"],
    )
    times = iter(variables[N_ALLOWANCES:])
    engine.open(next(times), trusted=not public)
    for move in moves[1:]:
        if move.timer is not None:
            due = timer_due_at(engine.state, move.timer)
            assert due is not None, f"{move.timer} is not due on the path"
            at = to_us(due)
        else:
            at = next(times)
        engine.act(Step(move, at))
    return engine.decisions


class Derivation:
    """The core's runs along one path: at a representative's variables (``base``), nudged
    group by group, and at random nudges (the check, last of ``runs``). ``solve`` reads any
    value the core computed along the path as a ``Form``."""

    def __init__(self, key: PathKey, variables: Sequence[int]) -> None:
        self.key = key
        big, _, moves = key
        levels = {start_level(big)} | {m.assign[0] for m in moves if m.assign is not None}
        self.variables = list(variables)
        self.n_free = len(variables) - N_ALLOWANCES
        active = (
            [N_ALLOWANCES + i for i in range(self.n_free)]
            + [2 * level + half for level in sorted(levels) for half in (0, 1)]
            + list(STAGE_ALLOWANCES)
        )
        self.base = replay(key, variables)
        self.chunks = [active[i : i + PER_RUN] for i in range(0, len(active), PER_RUN)]
        self.runs: list[list[Decision]] = []
        for chunk in self.chunks:
            nudged = list(variables)
            for i, j in enumerate(chunk):
                nudged[j] += DELTA * RADIX**i
            self.runs.append(replay(key, nudged))
        rng = np.random.default_rng(len(moves))
        self.check = list(variables)
        for j in active:
            self.check[j] += DELTA * int(rng.integers(1, 1000))
        self.runs.append(replay(key, self.check))

    def solve(self, base: datetime | timedelta, others: Sequence[Any]) -> Form:
        """The form of a value: ``base`` in the base run, ``others`` in ``runs``."""
        value, moved = _us(base), [_us(v) for v in others]
        coef = [0] * len(self.variables)
        half = RADIX // 2
        for chunk, other in zip(self.chunks, moved, strict=False):
            diff = other - value
            for j in chunk:
                digit = (diff + half) % RADIX - half
                coef[j] = digit
                diff = (diff - digit) // RADIX
            if diff:
                raise NotAffine(f"path {self.key[2][:3]}…: a value moved off the affine model")
        const4 = 4 * value - sum(c * v for c, v in zip(coef, self.variables, strict=True))
        check4 = const4 + sum(c * v for c, v in zip(coef, self.check, strict=True))
        if check4 != 4 * moved[-1]:
            raise NotAffine(f"path {self.key[2][:3]}…: the check run disagrees")
        return Form(const4, tuple((j, c) for j, c in enumerate(coef) if c))


@dataclass
class Template:
    """Everything an event of one path writes, with slots for what differs between events."""

    const4: np.ndarray[Any, np.dtype[np.int64]]  # per form: 4 × constant
    coef4: np.ndarray[Any, np.dtype[np.int64]]  # per form: 4 × coefficient of each variable
    instant_forms: list[int]
    duration_forms: list[int]
    audit_lines: list[str]  # str.format_map templates
    state_line: str  # the state columns of the event row, tab-separated
    status: Status


class _Lines:
    """Builds a template's COPY lines, numbering the forms they use (``T``: instants, ``U``:
    durations, both ``{slot}``s of the format templates)."""

    def __init__(self, derivation: Derivation) -> None:
        self.derivation = derivation
        self.forms: dict[Form, int] = {}
        self.instants: set[int] = set()
        self.durations: set[int] = set()

    def slot(self, value: datetime | timedelta, others: Sequence[Any]) -> str:
        form = self.derivation.solve(value, others)
        index = self.forms.setdefault(form, len(self.forms))
        if isinstance(value, datetime):
            self.instants.add(index)
            return f"T{index}"
        self.durations.add(index)
        return f"U{index}"

    def column(self, value: Any, others: Sequence[Any]) -> str:
        """A column as a format_map template of its COPY text."""
        if isinstance(value, datetime):
            return "{" + self.slot(value, others) + "}"
        if isinstance(value, timedelta):
            return "{" + self.slot(value, others) + "} microseconds"
        if isinstance(value, str) and value in _SLOT_OF:
            return "{" + _SLOT_OF[value] + "}"
        if isinstance(value, dict):
            fields = [
                _braces(json.dumps(name)) + ": " + self.json(name, v, [o[name] for o in others])
                for name, v in value.items()
            ]
            return "{{" + ", ".join(fields) + "}}"
        return _braces(copy_text(value))

    def json(self, name: str, value: Any, others: Sequence[Any]) -> str:
        """An audit data field as a format_map template of its JSON text."""
        if value is None:
            return "null"
        decoded = decode_field(name, value)
        if isinstance(decoded, datetime | timedelta):
            slot = self.slot(decoded, [decode_field(name, o) for o in others])
            return '"{' + slot + '}"' if isinstance(decoded, datetime) else "{" + slot + "}"
        if isinstance(value, str) and value in _SLOT_OF:
            return '"{' + _SLOT_OF[value] + '}"'
        return _braces(_escape(json.dumps(value, ensure_ascii=False)))

    def template(self) -> Template:
        d = self.derivation
        audit_lines: list[str] = []
        for i, decision in enumerate(d.base):
            row = _audit_row(decision)
            others = [_audit_row(run[i]) for run in d.runs]
            parts = ["{E}"] + [
                self.column(row[name], [o[name] for o in others])
                for name in store.AUDIT_ROW_COLUMNS[1:]
            ]
            audit_lines.append("\t".join(parts) + "\n")
        final = d.base[-1].state
        others_final = [run[-1].state for run in d.runs]
        state_parts = [
            self.column(getattr(final, name), [getattr(s, name) for s in others_final])
            for name in STATE_COLUMNS
        ]
        const4 = np.zeros(len(self.forms), dtype=np.int64)
        coef4 = np.zeros((len(self.forms), len(d.variables)), dtype=np.int64)
        for form, index in self.forms.items():
            const4[index] = form.const4
            for j, c in form.terms:
                coef4[index, j] = c
        return Template(
            const4=const4,
            coef4=coef4,
            instant_forms=sorted(self.instants),
            duration_forms=sorted(self.durations),
            audit_lines=audit_lines,
            state_line="\t".join(state_parts),
            status=final.status,
        )


def _audit_row(decision: Decision) -> dict[str, Any]:
    assert decision.audit is not None, "every step of a path is written"
    return store.audit_values(decision.audit)


def build_template(derivation: Derivation) -> Template:
    return _Lines(derivation).template()


def _iso(values: np.ndarray[Any, np.dtype[np.int64]]) -> list[str]:
    """``datetime.isoformat()`` of aware UTC instants given in µs (seconds only when whole)."""
    stamps = values.astype("datetime64[us]")
    whole = values % US == 0
    if whole.all():
        text_ = np.datetime_as_string(stamps.astype("datetime64[s]"), unit="s")
    else:
        text_ = np.where(
            whole,
            np.datetime_as_string(stamps.astype("datetime64[s]"), unit="s"),
            np.datetime_as_string(stamps, unit="us"),
        )
    return [f"{t}+00:00" for t in text_.tolist()]


def render(
    template: Template,
    variables: np.ndarray[Any, np.dtype[np.int64]],
    slots: Sequence[dict[str, str]],
    event_heads: Sequence[str],
) -> tuple[list[str], list[str]]:
    """The COPY lines (event rows, audit rows) of a group of events on ``template``'s path.
    ``variables``: events × (allowances, free times); ``slots``: ids per event;
    ``event_heads``: each event row's leading non-state columns (tab-terminated)."""
    values4 = template.const4[None, :] + variables @ template.coef4.T
    if np.any(values4 % 4):
        raise NotAffine("an allowance that is not a multiple of 4 µs broke exactness")
    values = values4 // 4
    columns: dict[str, list[str]] = {}
    for k in template.instant_forms:
        columns[f"T{k}"] = _iso(values[:, k])
    for k in template.duration_forms:
        columns[f"U{k}"] = [str(v) for v in values[:, k].tolist()]
    events: list[str] = []
    audits: list[str] = []
    names = list(columns)
    for e, base in enumerate(slots):
        mapping = dict(base)
        for name in names:
            mapping[name] = columns[name][e]
        events.append(event_heads[e] + template.state_line.format_map(mapping) + "\n")
        audits.extend(line.format_map(mapping) for line in template.audit_lines)
    return events, audits
