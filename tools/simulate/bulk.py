"""``wangge simulate --bulk``: the simulator's history for millions of events, written with COPY.

Running the dispatch core for every step of a million events takes about twenty minutes here,
so the bulk writer runs it once per *path* instead. Each event is first acted out on
``MiniEngine`` (the core's clocks in plain integers), which yields its path: the sequence of
commands without their times. Events sharing a path differ only in their step times, their
SLA allowances and their ids, and every instant or duration the core stores is an affine
function of those (deadlines are ``dispatch + allowance``, warnings fire at a fraction of it,
remaining time is ``deadline - now``…). So for each path the real core (``DomainEngine``) runs
on one representative and once more per variable, nudged by 4 µs; the differences give the
coefficients, and every event of the path is written from that template: its event row and
audit rows, the rows ``dispatch.store.record`` would have written (a test compares the two
writers row for row).

Rows go in with COPY, with triggers off for the session (``session_replication_role =
replica``, which needs a superuser; otherwise the triggers stay on and keep the statistics row
by row), then one ``stats_rebuild()`` aggregation and ``seal`` build the statistics. No outbox
rows are written: the simulated past has no timers or notifications left to send.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Engine
from sqlmodel import Session

from dispatch import store
from domain.lifecycle import (
    Action,
    Category,
    Decision,
    LevelAllowance,
    SlaPolicy,
    Status,
    TimerKind,
)
from domain.lifecycle.model import ACK_TIMERS, RESOLVE_TIMERS
from domain.roles import Role
from evaluation.sealing import rebuild as rebuild_stats
from evaluation.sealing import seal, today_local
from kernel.uow import UnitOfWork
from tools.simulate.events import (
    OCCURRED_BEFORE,
    SYSTEM,
    US,
    DomainEngine,
    MiniEngine,
    PatrolPlan,
    Plan,
    Step,
    Summary,
    World,
    _fire_offsets,
    default_window,
    ensure_synthetic_grids,
    from_us,
    load_world,
    patrol_plans,
    plans,
    play,
    reporter_of,
    staff_ids,
    to_us,
)

INSTANTS = frozenset({
    "created_at", "ack_due_at", "due_at", "suspended_at", "dispatched_at", "acknowledged_at",
    "resolved_at", "closed_at", "voided_at",
})  # fmt: skip
DURATIONS = frozenset({"ack_allowance", "resolve_allowance", "ack_remaining", "resolve_remaining"})
KEYS = ("mA", "mB", "head", "comm", "disp", "dept")
#: Placeholders the template run uses for what differs between events.
SENTINELS = {**{k: f"@{k}@" for k in KEYS}, "E": "@E@", "G": "@G@", "R": "@R@", "DEPT": "@D@",
             "C": "@C@"}  # fmt: skip
_SLOT_OF = {v: k for k, v in SENTINELS.items()}
DELTA = 4  # µs: keeps allowance * 0.25 exact, as whole-second allowances are
NULL = "\\N"
EVENT_STATE_COLUMNS = tuple(
    n for n in store.STATE_FIELDS if n not in ("event_id", "category", "grid")
)
EVENT_COPY_COLUMNS = (
    "id", "client_id", "request_hash", "category_id", "grid_id", "community_id", "description",
    "geom", "coord", "orig_lon", "orig_lat", "accuracy_m", "snapped", "distance_m", "source",
    "occurred_at", "received_at", *EVENT_STATE_COLUMNS,
)  # fmt: skip
AUDIT_COPY_COLUMNS = (
    "event_id", "version", "action", "from_status", "to_status", "from_level", "to_level",
    "actor", "at", "note", "reason", "data",
)  # fmt: skip
PATROL_COPY_COLUMNS = (
    "client_id", "staff_id", "grid_id", "started_at", "stopped_at", "length_m", "track",
)  # fmt: skip

PathKey = tuple[bool, bool, tuple[tuple[object, ...], ...]]


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _braces(value: str) -> str:
    return value.replace("{", "{{").replace("}", "}}")


def _us_of(value: Any) -> int:
    if isinstance(value, str):
        return to_us(datetime.fromisoformat(value))
    if isinstance(value, datetime):
        return to_us(value)
    if isinstance(value, int):
        return value
    assert isinstance(value, timedelta)
    return value // timedelta(microseconds=1)


# --- paths and templates ---------------------------------------------------------------------


def path_of(world: World, plan: Plan, cutoff: int) -> tuple[PathKey, list[int]]:
    """The event's path (commands without times) and its free step times."""
    simple = simple_path(world, plan, cutoff)
    if simple is not None:
        return simple
    category = world.categories[plan.category]
    engine = MiniEngine(category.allowances, category.big)
    steps = play(plan, big=category.big, engine=engine, cutoff=cutoff)
    key: PathKey = (category.big, plan.public, tuple(s.shape() for s in steps))
    return key, [s.at for s in steps if s.timer is None]


_TIMER_INDEX = {kind: i for i, kind in enumerate((*ACK_TIMERS, *RESOLVE_TIMERS))}
_REGISTER = Step(Action.REGISTER, 0, "").shape()
_AUTO = Step(
    Action.DISPATCH, 0, SYSTEM, assign=(0, "mA", Role.MEMBER, "least_loaded_member"), note="auto"
).shape()
_ACK = Step(Action.ACKNOWLEDGE, 0, "mA").shape()
_RESOLVE = Step(Action.RESOLVE, 0, "mA").shape()
_APPROVE = Step(Action.REVIEW, 0, "head", approved=True).shape()
_WARN = {kind: Step(Action.WARN, 0, SYSTEM, timer=kind).shape() for kind in _TIMER_INDEX}


def simple_path(world: World, plan: Plan, cutoff: int) -> tuple[PathKey, list[int]] | None:
    """The path of the most common kind of event, worked out without acting it out: a staff
    report of a small category dispatched automatically, acknowledged and fixed before any
    breach, approved at the first review, nothing else happening. Warnings fire in order of
    their due time (ties in the core's timer order), as ``play`` on ``MiniEngine`` would fire
    them; None for every other event (a test checks the two agree)."""
    category = world.categories[plan.category]
    if (
        category.big
        or plan.public
        or len(plan.approved) != 1
        or plan.redispatch_after is not None
        or plan.void_after is not None
        or plan.hand_escalate_after is not None
        or plan.suspend is not None
    ):
        return None
    d = plan.t0 + plan.dispatch_after * US
    ta = d + plan.ack[0] * US
    tr = ta + plan.work[0] * US
    tv = tr + plan.review[0] * US
    ack_allow, res_allow = category.allowances[0]
    if ta >= d + ack_allow or tr >= d + res_allow or tv > cutoff:
        return None
    before = _fire_offsets(category.allowances)[0]
    due = {
        kind: (d + (ack_allow if kind in ACK_TIMERS else res_allow) - before[kind])
        for kind in (TimerKind.ACK_WARN50, TimerKind.ACK_WARN75,
                     TimerKind.RESOLVE_WARN50, TimerKind.RESOLVE_WARN75)
    }  # fmt: skip
    early = sorted((t, _TIMER_INDEX[k], k) for k, t in due.items() if t <= ta)
    late = sorted(
        (t, _TIMER_INDEX[k], k) for k, t in due.items() if k not in ACK_TIMERS and ta < t <= tr
    )
    shapes = (
        _REGISTER,
        _AUTO,
        *(_WARN[k] for _, _, k in early),
        _ACK,
        *(_WARN[k] for _, _, k in late),
        _RESOLVE,
        _APPROVE,
    )
    return (False, False, shapes), [plan.t0, d, ta, tr, tv]


def _policy(big: bool, allowances: Sequence[int]) -> SlaPolicy:
    """A policy whose allowance for each level is given explicitly (µs, ack then resolve)."""
    minute = 60 * US
    levels = {
        level: LevelAllowance(
            multiplier=1.0,
            ack_minutes=allowances[2 * level] / minute,
            resolve_minutes=allowances[2 * level + 1] / minute,
        )
        for level in range(4)
    }
    category = Category(
        code=SENTINELS["C"],
        ack_minutes=allowances[0] / minute,
        resolve_minutes=allowances[1] / minute,
        big=big,
        department=SENTINELS["DEPT"],
    )
    return SlaPolicy(category=category, levels=levels)


def replay(key: PathKey, free: Sequence[int], allowances: Sequence[int]) -> list[Decision]:
    """Run the real core along a path with placeholder ids: free steps at the given times,
    timers exactly when due."""
    from domain.lifecycle.sla import timer_due_at

    big, public, shapes = key
    engine = DomainEngine(
        event_id=SENTINELS["E"],
        policy=_policy(big, allowances),
        grid_code=SENTINELS["G"],
        reporter=None if public else SENTINELS["R"],
        ids={k: SENTINELS[k] for k in KEYS},
        department=SENTINELS["DEPT"],
    )
    times = iter(free)
    engine.open(next(times), trusted=not public)
    for shape in shapes[1:]:
        action, actor, actor_role, assign, approved, timer, note = shape
        if timer is not None:
            due = timer_due_at(engine.state, timer)  # type: ignore[arg-type]
            assert due is not None
            at = to_us(due)
        else:
            at = next(times)
        engine.act(
            Step(action, at, actor, actor_role, assign, approved, timer, note)  # type: ignore[arg-type]
        )
    return engine.decisions


@dataclass
class Template:
    """Everything an event of one path writes, with slots for what differs between events."""

    key: PathKey
    n_free: int
    levels: tuple[int, ...]
    const4: np.ndarray[Any, np.dtype[np.int64]]  # per form: 4 × constant
    coef4: np.ndarray[Any, np.dtype[np.int64]]  # per form: 4 × coefficient of each variable
    instant_forms: list[int]
    duration_forms: list[int]
    audit_lines: list[str]  # str.format_map templates
    state_line: str  # the state columns of the event row, tab-separated
    status: Status


class NotAffine(AssertionError):
    """A value of the path did not follow the affine model (the template would be wrong)."""


#: Coefficients are found in one run per group of PER_RUN variables, nudged by 4·RADIX^i µs:
#: a value moves by sum(4c_i · RADIX^i), and 4c_i (a multiple of a quarter, |c_i| ≤ 2) is read
#: back as a balanced base-RADIX digit. A final run with random nudges checks every value.
RADIX = 17
PER_RUN = 4


class _Builder:
    def __init__(self, key: PathKey, free: Sequence[int], allowances: Sequence[int]) -> None:
        self.key = key
        big, _, shapes = key
        used = {2 if big else 0} | {s[3][0] for s in shapes if s[3] is not None}  # type: ignore[index]
        self.levels = tuple(sorted(used))
        self.vars0 = [*free, *allowances]
        self.n_vars = len(self.vars0)
        active = list(range(len(free))) + [
            len(free) + 2 * level + half for level in self.levels for half in (0, 1)
        ]
        self.base = replay(key, free, allowances)
        self.chunks = [active[i : i + PER_RUN] for i in range(0, len(active), PER_RUN)]
        self.runs: list[list[Decision]] = []
        for chunk in self.chunks:
            nudged = list(self.vars0)
            for i, j in enumerate(chunk):
                nudged[j] += DELTA * RADIX**i
            self.runs.append(self._replay(nudged))
        rng = np.random.default_rng(len(shapes))
        self.check_vars = list(self.vars0)
        for j in active:
            self.check_vars[j] += DELTA * int(rng.integers(1, 1000))
        self.runs.append(self._replay(self.check_vars))
        self.forms: dict[tuple[int, tuple[int, ...]], int] = {}
        self.kinds: dict[int, set[str]] = defaultdict(set)

    def _replay(self, variables: Sequence[int]) -> list[Decision]:
        n_free = len(self.vars0) - 8
        return replay(self.key, variables[:n_free], variables[n_free:])

    def form(self, base: int, others: Sequence[int], kind: str) -> str:
        coef = [0] * self.n_vars
        half = RADIX // 2
        for chunk, value in zip(self.chunks, others, strict=False):
            diff = value - base
            for j in chunk:
                digit = (diff + half) % RADIX - half
                coef[j] = digit
                diff = (diff - digit) // RADIX
            if diff:
                raise NotAffine(f"path {self.key[2][:3]}…: a value moved off the affine model")
        const4 = 4 * base - sum(c * v for c, v in zip(coef, self.vars0, strict=True))
        check4 = const4 + sum(c * v for c, v in zip(coef, self.check_vars, strict=True))
        if check4 != 4 * others[-1]:
            raise NotAffine(f"path {self.key[2][:3]}…: the check run disagrees")
        ident = (const4, tuple(coef))
        index = self.forms.setdefault(ident, len(self.forms))
        self.kinds[index].add(kind)
        return f"{'T' if kind == 'instant' else 'U'}{index}"

    def json_value(self, name: str, value: Any, others: list[Any]) -> str:
        """A data field as a format_map template of its JSON text."""
        if value is None:
            return "null"
        if name in INSTANTS:
            return '"{' + self.form(_us_of(value), [_us_of(v) for v in others], "instant") + '}"'
        if name in DURATIONS:
            return "{" + self.form(_us_of(value), [_us_of(v) for v in others], "duration") + "}"
        if isinstance(value, str) and value in _SLOT_OF:
            return '"{' + _SLOT_OF[value] + '}"'
        return _braces(_copy_text(json.dumps(value, ensure_ascii=False)))

    def column_value(self, name: str, value: Any, others: list[Any]) -> str:
        """A state column as a format_map template of its COPY text."""
        if value is None:
            return NULL
        if name in INSTANTS:
            return "{" + self.form(_us_of(value), [_us_of(v) for v in others], "instant") + "}"
        if name in DURATIONS:
            slot = self.form(_us_of(value), [_us_of(v) for v in others], "duration")
            return "{" + slot + "} microseconds"
        if isinstance(value, str) and value in _SLOT_OF:
            return "{" + _SLOT_OF[value] + "}"
        if name == "warnings_sent":
            return _braces("{" + ",".join(sorted(k.value for k in value)) + "}")
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, Enum):
            return _braces(_copy_text(str(value.value)))
        return _braces(_copy_text(str(value)))

    def build(self) -> Template:
        audit_lines: list[str] = []
        for i, decision in enumerate(self.base):
            entry = decision.audit
            assert entry is not None
            others = [run[i].audit for run in self.runs]
            data_parts = []
            for name, value in entry.data.items():
                other_values = [o.data[name] for o in others if o is not None]
                data_parts.append(
                    _braces(json.dumps(name)) + ": " + self.json_value(name, value, other_values)
                )
            at = self.form(
                to_us(entry.at), [to_us(o.at) for o in others if o is not None], "instant"
            )
            actor = entry.actor
            actor_text = "{" + _SLOT_OF[actor] + "}" if actor in _SLOT_OF else _braces(actor)
            audit_lines.append(
                "\t".join(
                    [
                        "{E}",
                        str(entry.version),
                        entry.action.value,
                        entry.from_status.value if entry.from_status else NULL,
                        entry.to_status.value,
                        NULL if entry.from_level is None else str(entry.from_level),
                        str(entry.to_level),
                        actor_text,
                        "{" + at + "}",
                        _braces(_copy_text(entry.note)),
                        entry.reason.value if entry.reason else NULL,
                        "{{" + ", ".join(data_parts) + "}}",
                    ]
                )
                + "\n"
            )
        final = self.base[-1].state
        final_others = [run[-1].state for run in self.runs]
        state_parts = [
            self.column_value(name, getattr(final, name), [getattr(s, name) for s in final_others])
            for name in EVENT_STATE_COLUMNS
        ]
        n = len(self.forms)
        const4 = np.zeros(n, dtype=np.int64)
        coef4 = np.zeros((n, self.n_vars), dtype=np.int64)
        for (c4, coef), index in self.forms.items():
            const4[index] = c4
            coef4[index] = coef
        _, _, shapes = self.key
        return Template(
            key=self.key,
            n_free=sum(1 for s in shapes if s[5] is None),
            levels=self.levels,
            const4=const4,
            coef4=coef4,
            instant_forms=[i for i, k in self.kinds.items() if "instant" in k],
            duration_forms=[i for i, k in self.kinds.items() if "duration" in k],
            audit_lines=audit_lines,
            state_line="\t".join(state_parts),
            status=final.status,
        )


def build_template(key: PathKey, free: Sequence[int], allowances: Sequence[int]) -> Template:
    return _Builder(key, free, allowances).build()


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
    free: np.ndarray[Any, np.dtype[np.int64]],
    allowances: np.ndarray[Any, np.dtype[np.int64]],
    slots: Sequence[dict[str, str]],
    event_heads: Sequence[str],
) -> tuple[list[str], list[str]]:
    """The COPY lines (event rows, audit rows) of a group of events on ``template``'s path.
    ``free``: events × free times; ``allowances``: events × 8; ``slots``: ids per event;
    ``event_heads``: each event row's leading non-state columns (tab-terminated)."""
    variables = np.concatenate([free, allowances], axis=1)
    values4 = template.const4[None, :] + variables @ template.coef4.T
    if np.any(values4 % 4):
        raise AssertionError("an allowance that is not a multiple of 4 µs broke exactness")
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


# --- the run ---------------------------------------------------------------------------------


def _event_head(world: World, plan: Plan, event_id: int) -> str:
    """The event row's leading columns (those ``event_columns`` gives), as COPY text."""
    grid = world.grids[plan.grid]
    category = world.categories[plan.category]
    lon, lat = grid.points[plan.point]
    received = from_us(plan.t0)
    occurred = received - OCCURRED_BEFORE
    return (
        f"{event_id}\t{plan.client_id}\t{hashlib.sha256(plan.client_id.bytes).hexdigest()}\t"
        f"{category.id}\t{grid.id}\t{grid.community_id}\t{_copy_text(category.name)}（模拟）\t"
        f"SRID=4326;POINT({lon} {lat})\twgs84\t{lon}\t{lat}\t{plan.accuracy_m}\tf\t0\t"
        f"{'public' if plan.public else 'staff'}\t{occurred.isoformat()}\t"
        f"{received.isoformat()}\t"
    )


def _slots(world: World, plan: Plan, event_id: int) -> dict[str, str]:
    category = world.categories[plan.category]
    reporter = reporter_of(world, plan)
    return {
        **staff_ids(world, plan),
        "E": str(event_id),
        "G": world.grids[plan.grid].code,
        "C": category.code,
        "DEPT": json.dumps(category.department or "", ensure_ascii=False)[1:-1],
        "R": "" if reporter is None else str(reporter),
    }


def _timestamp(value: datetime | None) -> str:
    return NULL if value is None else value.isoformat()


def _direct_lines(
    world: World, plan: Plan, event_id: int, cutoff: int
) -> tuple[str, list[str], Status]:
    """One event through the real core with its real ids (for paths too rare for a template):
    the COPY lines of what ``dispatch.store.record`` would write."""
    category = world.categories[plan.category]
    reporter = reporter_of(world, plan)
    engine = DomainEngine(
        event_id=str(event_id),
        policy=category.policy,
        grid_code=world.grids[plan.grid].code,
        reporter=None if reporter is None else str(reporter),
        ids=staff_ids(world, plan),
        department=category.department,
    )
    play(plan, big=category.big, engine=engine, cutoff=cutoff)
    columns = store.state_columns(engine.state)
    parts = []
    for name in EVENT_STATE_COLUMNS:
        value = columns[name]
        if value is None:
            parts.append(NULL)
        elif name in INSTANTS:
            parts.append(_timestamp(value))
        elif name in DURATIONS:
            parts.append(f"{_us_of(value)} microseconds")
        elif name == "warnings_sent":
            parts.append("{" + ",".join(value) + "}")
        else:
            parts.append(_copy_text(str(value)))
    event = _event_head(world, plan, event_id) + "\t".join(parts) + "\n"
    audits = []
    for decision in engine.decisions:
        a = decision.audit
        assert a is not None
        audits.append(
            "\t".join(
                [
                    str(event_id),
                    str(a.version),
                    a.action.value,
                    a.from_status.value if a.from_status else NULL,
                    a.to_status.value,
                    NULL if a.from_level is None else str(a.from_level),
                    str(a.to_level),
                    _copy_text(a.actor),
                    a.at.isoformat(),
                    _copy_text(a.note),
                    a.reason.value if a.reason else NULL,
                    _copy_text(json.dumps(dict(a.data), ensure_ascii=False)),
                ]
            )
            + "\n"
        )
    return event, audits, engine.state.status


#: A path gets a template once this many of its events have been seen; rarer paths (half
#: of all paths occur once in a million events) run through the core directly.
TEMPLATE_AFTER = 4


@dataclass
class BulkWriter:
    """Turns plans into COPY lines: events of common paths from templates, the others through
    the core directly."""

    world: World
    cutoff: int
    template_after: int = TEMPLATE_AFTER
    templates: dict[PathKey, Template] = field(default_factory=dict)
    seen: dict[PathKey, int] = field(default_factory=lambda: defaultdict(int))
    direct: int = 0

    def lines(self, batch: Sequence[Plan], first_id: int) -> tuple[list[str], list[str], Summary]:
        groups: dict[PathKey, list[tuple[int, Plan, list[int]]]] = defaultdict(list)
        summary = Summary()
        for offset, plan in enumerate(batch):
            key, free = path_of(self.world, plan, self.cutoff)
            groups[key].append((first_id + offset, plan, free))
        events: list[str] = []
        audits: list[str] = []
        statuses: list[tuple[Status, int]] = []
        for key, members in groups.items():
            self.seen[key] += len(members)
            template = self.templates.get(key)
            if template is None and self.seen[key] >= self.template_after:
                _, plan, free = members[0]
                category = self.world.categories[plan.category]
                allow = [v for pair in category.allowances for v in pair]
                template = self.templates[key] = build_template(key, free, allow)
            if template is None:
                for eid, plan, _ in members:
                    ev, au, status = _direct_lines(self.world, plan, eid, self.cutoff)
                    events.append(ev)
                    audits.extend(au)
                    statuses.append((status, 1))
                self.direct += len(members)
                continue
            times = np.array([m[2] for m in members], dtype=np.int64)
            allowances = np.array(
                [
                    [v for pair in self.world.categories[m[1].category].allowances for v in pair]
                    for m in members
                ],
                dtype=np.int64,
            )
            slots = [_slots(self.world, plan, eid) for eid, plan, _ in members]
            heads = [_event_head(self.world, plan, eid) for eid, plan, _ in members]
            evs, aus = render(template, times, allowances, slots, heads)
            events.extend(evs)
            audits.extend(aus)
            statuses.append((template.status, len(members)))
        summary.events = len(batch)
        summary.audit_rows = len(audits)
        for status, n in statuses:
            summary.closed += n if status is Status.CLOSED else 0
            summary.voided += n if status is Status.VOIDED else 0
            summary.open += n if status not in (Status.CLOSED, Status.VOIDED) else 0
        return events, audits, summary


def _patrol_line(p: PatrolPlan) -> str:
    return (
        "\t".join(
            [
                str(p.client_id),
                str(p.staff_id),
                str(p.grid_id),
                from_us(p.started_at).isoformat(),
                from_us(p.stopped_at).isoformat(),
                str(p.length_m),
                p.wkt,
            ]
        )
        + "\n"
    )


def _copy(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str], lines: list[str]
) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for start in range(0, len(lines), 20_000):
            cp.write("".join(lines[start : start + 20_000]))


def _chunks(batches: Iterator[list[Plan]], size: int, cutoff: int) -> Iterator[list[Plan]]:
    pending: list[Plan] = []
    for batch in batches:
        pending.extend(p for p in batch if p.t0 <= cutoff)
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending


def run(
    engine: Engine,
    *,
    days: int,
    seed: int,
    per_day: float | None = None,
    grids: int | None = None,
    until: date | None = None,
    now: datetime | None = None,
    chunk: int = 50_000,
    template_after: int = TEMPLATE_AFTER,
    patrols: bool = True,
    rebuild: bool = True,
    progress: bool = False,
) -> Summary:
    """Write a simulated history with COPY and rebuild the statistics; returns what was
    written. The same seed and arguments write what the small mode writes."""
    began = time.perf_counter()
    now = now or datetime.now(UTC)
    total = Summary()
    with Session(engine) as session:
        if grids:
            total.added_grids = ensure_synthetic_grids(session, grids)
            session.commit()
        world = load_world(session, grids=grids, seed=seed)
    window = default_window(days, until, now)
    cutoff = to_us(now)
    rate = per_day if per_day is not None else 1.5 * len(world.grids)
    writer = BulkWriter(world, cutoff, template_after=template_after)
    url = engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as ids, psycopg.connect(url) as conn:
        triggers_off = _triggers_off(conn)
        work: queue.Queue[tuple[list[str], list[str]] | None] = queue.Queue(maxsize=2)
        failure: list[BaseException] = []

        def copier() -> None:  # COPY runs while the next chunk is generated
            try:
                while (item := work.get()) is not None:
                    _copy(conn, "event", EVENT_COPY_COLUMNS, item[0])
                    _copy(conn, "event_audit", AUDIT_COPY_COLUMNS, item[1])
                    conn.commit()
            except BaseException as exc:  # handed to the main thread
                failure.append(exc)
                while work.get() is not None:
                    pass

        thread = threading.Thread(target=copier, name="bulk-copy")
        thread.start()
        try:
            for batch in _chunks(plans(world, window, seed=seed, per_day=rate), chunk, cutoff):
                first_id = _reserve_ids(ids, len(batch))
                events, audits, summary = writer.lines(batch, first_id)
                work.put((events, audits))
                for name in ("events", "audit_rows", "closed", "voided", "open"):
                    setattr(total, name, getattr(total, name) + getattr(summary, name))
                if progress:
                    print(f"  {total.events} events, {len(writer.templates)} templates, "
                          f"{writer.direct} direct, {time.perf_counter() - began:.0f} s",
                          flush=True)  # fmt: skip
                if failure:
                    break
        finally:
            work.put(None)
            thread.join()
        if failure:
            raise failure[0]
        if patrols:
            lines = [_patrol_line(p) for p in patrol_plans(world, window, seed=seed)
                     if p.stopped_at <= cutoff]  # fmt: skip
            _copy(conn, "patrol", PATROL_COPY_COLUMNS, lines)
            conn.commit()
            total.patrols = len(lines)
    total.extra["templates"] = len(writer.templates)
    total.extra["direct"] = writer.direct
    total.extra["load_seconds"] = round(time.perf_counter() - began, 1)
    if rebuild:
        with Session(engine) as session:
            started = time.perf_counter()
            uow, today = UnitOfWork(session), today_local(now)
            # without the statistics triggers the rows need the whole rebuild, else sealing
            blocks = (
                rebuild_stats(uow=uow, today=today) if triggers_off else seal(uow=uow, today=today)
            )
            total.extra["blocks"] = blocks
            total.extra["rebuild_seconds"] = round(time.perf_counter() - started, 1)
    total.seconds = time.perf_counter() - began
    return total


def _triggers_off(conn: psycopg.Connection[Any]) -> bool:
    """Skip triggers (statistics, foreign keys) for this session when allowed."""
    try:
        conn.execute("SET session_replication_role = replica")
        conn.commit()
        return True
    except psycopg.Error:
        conn.rollback()
        return False


def _reserve_ids(conn: psycopg.Connection[Any], n: int) -> int:
    """A block of ``n`` consecutive event ids (the bulk writer runs alone)."""
    row = conn.execute(
        "SELECT setval(pg_get_serial_sequence('event', 'id'),"
        " nextval(pg_get_serial_sequence('event', 'id')) + %s - 1) - %s + 1",
        (n, n),
    ).fetchone()
    assert row is not None
    return int(row[0])


def instantiate(
    template: Template, world: World, plan: Plan, event_id: int, free: list[int]
) -> tuple[str, list[str]]:
    """One event's lines (tests use it to compare with the small mode)."""
    category = world.categories[plan.category]
    allow = np.array([[v for pair in category.allowances for v in pair]], dtype=np.int64)
    ev, au = render(
        template,
        np.array([free], dtype=np.int64),
        allow,
        [_slots(world, plan, event_id)],
        [_event_head(world, plan, event_id)],
    )
    return ev[0], au
