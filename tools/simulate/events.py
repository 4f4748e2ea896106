"""A simulated history for the loaded map: ``wangge simulate --days N --seed S [--bulk]``.

The model (all of it seeded, so a seed gives the same history every time):

- arrivals: a Poisson number of reports per day (weekends quieter), each with a category drawn
  by weight (some seasonal: 道路积水 in summer, 病媒 in warm months), an hour of day from the
  category's daily profile (morning and afternoon peaks; 占道经营 in the evening, 噪音 at
  night), a grid drawn by its own busyness and a point inside it; a few reports come from the
  public and wait for verification (some of those are voided);
- handling: automatic dispatch within seconds (a few wait for the command centre), the member
  acknowledges in minutes, fixes in about half of the category's time, the head reviews; a
  fraction fail review (rework), are re-dispatched, escalated by hand, suspended for hours, or
  voided as duplicates; a long tail of slow fixes. Timers fire exactly when the SLA says
  (warnings, breaches that escalate up the ladder), so levels and lateness follow the rules;
- patrols: most grids are walked once or twice a day, each with a short GPS track.

Each event's human intentions are drawn up front (``Plan``); ``play`` then acts them out
against an engine, firing due timers before every step. Two engines act identically:
``DomainEngine`` is the real dispatch core (``domain.lifecycle.apply``), ``MiniEngine`` a
small mirror of its clocks used by the bulk writer to learn each event's path cheaply.

Small runs (the default) write through ``dispatch.store.record`` (event row, audit row, outbox
rows, the statistics triggers) with a simulated clock. ``--bulk`` (``dispatch.simulate_bulk``)
writes the same rows with COPY for millions of events. ``--grids N`` above the map's grid count
adds synthetic grids (translated copies of the map with subdistrict codes 5xx), for benchmarks.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import random
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np
import shapely
from sqlalchemy import TextClause, text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from dispatch import store
from dispatch.categories.models import Category
from domain.lifecycle import (
    Action,
    Assignment,
    Command,
    Decision,
    EventState,
    SlaPolicy,
    Status,
    TimerKind,
    apply,
    open_event,
    pending_timers,
)
from domain.lifecycle.model import ACK_TIMERS, RESOLVE_TIMERS
from domain.lifecycle.sla import timer_due_at
from domain.roles import Role
from kernel.settings import get_settings
from kernel.uow import UnitOfWork

EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000  # microseconds per second
SYSTEM = "system"
SYNTHETIC_SUBDISTRICT_BASE = 500

# --- the world -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridInfo:
    id: int
    code: str
    community_id: int
    members: tuple[int, int]
    head: int
    community_staff: int
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    code: str
    name: str
    big: bool
    department: str | None
    department_staff: int
    policy: SlaPolicy
    #: (ack, resolve) allowance per level, in microseconds
    allowances: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class World:
    grids: tuple[GridInfo, ...]
    categories: tuple[CategoryInfo, ...]
    dispatchers: tuple[int, ...]


def to_us(moment: datetime) -> int:
    return (moment - EPOCH_UTC) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH_UTC + timedelta(microseconds=us)


def _allowances(policy: SlaPolicy) -> tuple[tuple[int, int], ...]:
    one = timedelta(microseconds=1)
    return tuple(
        (policy.ack_allowance(level) // one, policy.resolve_allowance(level) // one)
        for level in range(4)
    )


def ensure_synthetic_grids(session: Session, total: int) -> int:
    """Make the map hold at least ``total`` grids by adding translated copies of the loaded map
    (a bench-only city: subdistrict codes 501, 502…, communities and grids renamed ·模拟N).
    Returns the number of grids added."""
    base = session.execute(
        text("SELECT substr(min(code), 7, 3), count(*) FROM grid WHERE substr(code, 7, 1) <> '5'")
    ).one()
    base_sub, base_count = str(base[0]), int(base[1])
    have = int(session.execute(text("SELECT count(*) FROM grid")).scalar_one())
    added = 0
    copy = 0
    while have + added < total:
        copy += 1
        sub = f"{SYNTHETIC_SUBDISTRICT_BASE + copy:03d}"
        params = {"base": base_sub, "sub": sub, "j": str(copy), "dx": 0.1 * copy}
        session.execute(
            text("""
            INSERT INTO subdistrict (code, name, geom, area_m2)
            SELECT substr(code, 1, 6) || :sub, '模拟街道' || :j, ST_Translate(geom, :dx, 0), area_m2
              FROM subdistrict WHERE substr(code, 7, 3) = :base
            ON CONFLICT (code) DO NOTHING
            """),
            params,
        )
        session.execute(
            text("""
            INSERT INTO community (code, name)
            SELECT substr(code, 1, 6) || :sub || substr(code, 10, 3), name || '·模拟' || :j
              FROM community WHERE substr(code, 7, 3) = :base
            ON CONFLICT (code) DO NOTHING
            """),
            params,
        )
        result = session.execute(
            text("""
            INSERT INTO grid (code, name, community_id, geom, area_m2)
            SELECT substr(g.code, 1, 6) || :sub || substr(g.code, 10, 6), g.name || '·模拟' || :j,
                   nc.id, ST_Translate(g.geom, :dx, 0), g.area_m2
              FROM grid g
              JOIN community c ON c.id = g.community_id
              JOIN community nc ON nc.code = substr(c.code, 1, 6) || :sub || substr(c.code, 10, 3)
             WHERE substr(g.code, 7, 3) = :base
            ON CONFLICT (code) DO NOTHING
            """),
            params,
        )
        added += int(result.rowcount)  # type: ignore[attr-defined]
        if copy > 999 - SYNTHETIC_SUBDISTRICT_BASE or base_count == 0:
            break
    return added


def load_world(session: Session, *, grids: int | None = None, seed: int = 0) -> World:
    """The map, roster and categories as the simulator needs them. Synthetic grids borrow the
    staff of the grid they copy (same community and serial in the base subdistrict)."""
    rows = session.execute(
        text("""
        SELECT g.id, g.code, g.community_id,
               coalesce(src.id, g.id) AS staff_grid,
               ST_AsBinary(g.geom)
          FROM grid g
          LEFT JOIN grid src ON substr(g.code, 7, 1) = '5'
               AND src.code = substr(g.code, 1, 6)
                   || (SELECT substr(min(code), 7, 3) FROM grid WHERE substr(code, 7, 1) <> '5')
                   || substr(g.code, 10, 6)
         ORDER BY (substr(g.code, 7, 1) = '5'), g.code
        """)
    ).all()
    if grids is not None:
        rows = rows[:grids]
    staff = session.execute(
        text("SELECT id, role::text, grid_id, community_id, department FROM staff ORDER BY id")
    ).all()
    members: dict[int, list[int]] = {}
    heads: dict[int, int] = {}
    community_staff: dict[int, int] = {}
    departments: dict[str, int] = {}
    dispatchers: list[int] = []
    for sid, role, grid_id, community_id, department in staff:
        if role == "member" and grid_id is not None:
            members.setdefault(grid_id, []).append(sid)
        elif role == "head" and grid_id is not None:
            heads.setdefault(grid_id, sid)
        elif role == "community" and community_id is not None:
            community_staff.setdefault(community_id, sid)
        elif role == "department" and department:
            departments.setdefault(department, sid)
        elif role == "dispatcher":
            dispatchers.append(sid)
    if not dispatchers:
        raise RuntimeError("the roster has no dispatcher: run `wangge load-data` first")
    base_community = {
        int(r[0]): int(r[1])
        for r in session.execute(text("SELECT id, community_id FROM grid")).all()
    }
    rng = random.Random(seed ^ 0x5EED)
    infos: list[GridInfo] = []
    for gid, code, community_id, staff_grid, wkb in rows:
        ms = members.get(staff_grid, [])
        head = heads.get(staff_grid)
        comm = community_staff.get(base_community.get(staff_grid, community_id))
        if len(ms) < 2 or head is None or comm is None:
            raise RuntimeError(f"grid {code} lacks its head, two members or community staff")
        infos.append(
            GridInfo(
                id=gid,
                code=code,
                community_id=community_id,
                members=(ms[0], ms[1]),
                head=head,
                community_staff=comm,
                points=_interior_points(shapely.from_wkb(bytes(wkb)), rng, 24),
            )
        )
    categories: list[CategoryInfo] = []
    for category in session.exec(_active_categories()):
        policy = store.policy_for(category)
        dept = category.department
        dept_staff = departments.get(dept or "") or next(iter(departments.values()), None)
        if dept_staff is None:
            raise RuntimeError("the roster has no department staff: run `wangge load-data`")
        assert category.id is not None
        categories.append(
            CategoryInfo(
                id=category.id,
                code=category.code,
                name=category.name,
                big=category.big,
                department=dept,
                department_staff=dept_staff,
                policy=policy,
                allowances=_allowances(policy),
            )
        )
    if not categories:
        raise RuntimeError("no active categories: run `wangge load-data` first")
    return World(grids=tuple(infos), categories=tuple(categories), dispatchers=tuple(dispatchers))


def _active_categories() -> SelectOfScalar[Category]:
    return select(Category).where(col(Category.active).is_(True)).order_by(col(Category.code))


def _interior_points(
    geom: object, rng: random.Random, count: int
) -> tuple[tuple[float, float], ...]:
    minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(geom))
    points: list[tuple[float, float]] = []
    attempts = 0
    while len(points) < count and attempts < count * 200:
        attempts += 1
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(geom, x, y):
            points.append((round(x, 7), round(y, 7)))
    if not points:
        c = shapely.get_coordinates(shapely.point_on_surface(geom))[0]
        points.append((float(c[0]), float(c[1])))
    return tuple(points)


# --- the model -------------------------------------------------------------------------------

HOUR_WEIGHTS: tuple[float, ...] = (
    0.15, 0.08, 0.05, 0.05, 0.08, 0.25, 0.8, 1.6, 2.6, 3.0, 3.0, 2.6,
    1.8, 2.2, 2.8, 3.0, 2.8, 2.4, 1.8, 1.4, 1.0, 0.7, 0.45, 0.25,
)  # fmt: skip
#: Relative frequency of each category (unknown codes: 3, or 0.6 for big ones).
CATEGORY_WEIGHTS: Mapping[str, float] = {
    "exposed_garbage": 14, "illegal_parking": 12, "street_vending": 10, "small_ads": 10,
    "piled_materials": 8, "greenery_damage": 5, "street_light": 5, "manhole_cover": 4,
    "road_damage": 4, "outdoor_ads": 3, "waterlogging": 2, "abandoned_vehicle": 2,
    "noise_fumes": 4, "unlicensed_business": 2, "pests": 2, "fire_lane_blocked": 3,
    "dispute": 3, "illegal_construction": 0.8, "safety_hazard": 1.2, "gas_safety": 0.5,
    "food_safety": 0.6, "building_danger": 0.3,
}  # fmt: skip
#: Hours that are busier for a category (factor).
CATEGORY_HOURS: Mapping[str, Mapping[int, float]] = {
    "street_vending": {17: 2.5, 18: 3.0, 19: 3.0, 20: 2.5, 21: 2.0},
    "noise_fumes": {19: 2.5, 20: 3.0, 21: 3.0, 22: 3.5, 23: 3.0, 0: 2.0},
    "illegal_parking": {7: 1.8, 8: 2.0, 18: 1.6},
}
#: Months that are busier for a category (factor).
CATEGORY_MONTHS: Mapping[str, Mapping[int, float]] = {
    "waterlogging": {6: 4.0, 7: 5.0, 8: 4.0},
    "pests": {5: 1.5, 6: 2.5, 7: 3.0, 8: 2.5, 9: 1.5},
    "street_light": {11: 1.4, 12: 1.7, 1: 1.7},
    "exposed_garbage": {7: 1.3, 8: 1.3},
}
WEEKEND_FACTOR = 0.85
PUBLIC_SHARE = 0.04
PUBLIC_VOID_SHARE = 0.3
VOID_SHARE = 0.025
LATE_DISPATCH_SHARE = 0.03
REDISPATCH_SHARE = 0.025
HAND_ESCALATE_SHARE = 0.02
SUSPEND_SHARE = 0.01
REWORK_SHARE = 0.06
TAIL_SHARE = 0.06
BIG_TO_DEPARTMENT_SHARE = 0.6
PATROL_DAY_SHARE = 0.9
#: The phone's occurred_at, this long before the report reached the server.
OCCURRED_BEFORE = timedelta(minutes=2)


@dataclass(slots=True)
class Plan:
    """One event's report and the intentions of the people who handle it (seconds)."""

    t0: int  # report instant, µs since the epoch
    grid: int  # index into World.grids
    category: int  # index into World.categories
    point: int
    client_id: uuid.UUID
    accuracy_m: float
    public: bool
    member: int  # 0 or 1: the member the automatic dispatch picks
    dispatcher: int  # index into World.dispatchers
    verify_after: int = 0
    void_pending: bool = False
    dispatch_after: int = 2
    big_escalate_after: int | None = None
    redispatch_after: int | None = None
    ack: list[int] = field(default_factory=list)
    work: list[int] = field(default_factory=list)
    review: list[int] = field(default_factory=list)
    approved: list[bool] = field(default_factory=list)
    void_after: int | None = None
    hand_escalate_after: int | None = None
    suspend: tuple[float, int] | None = None  # (share of the work done, seconds suspended)
    extra: list[int] = field(default_factory=list)


def _lognormal(rng: random.Random, median_s: float, sigma: float) -> int:
    return max(1, int(median_s * math.exp(rng.gauss(0.0, sigma))))


def _cumulative(weights: Sequence[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, cumulative: Sequence[float]) -> int:
    return bisect.bisect_right(cumulative, rng.random() * cumulative[-1])


@dataclass(frozen=True)
class Window:
    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def day_start_us(day: date) -> int:
    return to_us(datetime(day.year, day.month, day.day, tzinfo=get_settings().tz))


def plans(world: World, window: Window, *, seed: int, per_day: float) -> Iterator[list[Plan]]:
    """The events of each day (sorted by report time), drawn from the model."""
    counts = np.random.default_rng(seed)
    rng = random.Random(seed)
    cats = world.categories
    base_weight = [CATEGORY_WEIGHTS.get(c.code, 0.6 if c.big else 3.0) for c in cats]
    hours = [
        _cumulative(
            [HOUR_WEIGHTS[h] * CATEGORY_HOURS.get(c.code, {}).get(h, 1.0) for h in range(24)]
        )
        for c in cats
    ]
    grid_weights = _cumulative([math.exp(rng.gauss(0.0, 0.4)) for _ in world.grids])
    for day in window.days:
        month_weights = _cumulative(
            [
                w * CATEGORY_MONTHS.get(c.code, {}).get(day.month, 1.0)
                for w, c in zip(base_weight, cats, strict=True)
            ]
        )
        mean = per_day * (WEEKEND_FACTOR if day.weekday() >= 5 else 1.0)
        n = int(counts.poisson(mean))
        start = day_start_us(day)
        batch = [_plan(rng, world, start, month_weights, hours, grid_weights) for _ in range(n)]
        batch.sort(key=lambda p: p.t0)
        yield batch


def _plan(
    rng: random.Random,
    world: World,
    day_start: int,
    category_weights: Sequence[float],
    hours: Sequence[Sequence[float]],
    grid_weights: Sequence[float],
) -> Plan:
    ci = _pick(rng, category_weights)
    category = world.categories[ci]
    hour = _pick(rng, hours[ci])
    t0 = day_start + (hour * 3600 + rng.randrange(3600)) * US
    gi = _pick(rng, grid_weights)
    plan = Plan(
        t0=t0,
        grid=gi,
        category=ci,
        point=rng.randrange(len(world.grids[gi].points)),
        client_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        accuracy_m=round(rng.uniform(3.0, 30.0), 1),
        public=rng.random() < PUBLIC_SHARE,
        member=rng.randrange(2),
        dispatcher=rng.randrange(len(world.dispatchers)),
    )
    if plan.public:
        plan.verify_after = _lognormal(rng, 600, 0.6)
        if rng.random() < PUBLIC_VOID_SHARE:
            plan.void_pending = True
            return plan
    plan.dispatch_after = (
        _lognormal(rng, 480, 0.8) if rng.random() < LATE_DISPATCH_SHARE else rng.randint(1, 5)
    )
    if category.big:
        if rng.random() < BIG_TO_DEPARTMENT_SHARE:
            plan.big_escalate_after = _lognormal(rng, 360, 0.7)
    elif rng.random() < REDISPATCH_SHARE:
        plan.redispatch_after = rng.randint(120, 360)
    level = 3 if plan.big_escalate_after is not None else (2 if category.big else 0)
    resolve_s = category.allowances[level][1] / US
    cycles = 1
    while cycles < 3 and rng.random() < REWORK_SHARE:
        cycles += 1
    for c in range(cycles):
        plan.ack.append(_lognormal(rng, 150 if c == 0 else 100, 0.7))
        work = _lognormal(rng, resolve_s * (0.5 if c == 0 else 0.25), 0.35)
        if rng.random() < TAIL_SHARE:
            work = int(work * math.exp(rng.gauss(math.log(3.0), 0.8)))
        plan.work.append(work)
        plan.review.append(_lognormal(rng, 240, 0.6))
        plan.approved.append(c == cycles - 1)
    if rng.random() < VOID_SHARE:
        plan.void_after = _lognormal(rng, 180, 0.7)
    if not category.big and rng.random() < HAND_ESCALATE_SHARE:
        plan.hand_escalate_after = _lognormal(rng, 480, 0.6)
    if rng.random() < SUSPEND_SHARE:
        plan.suspend = (rng.uniform(0.2, 0.6), _lognormal(rng, 3 * 3600, 0.8))
    plan.extra = [_lognormal(rng, 300, 0.6) for _ in range(4)]
    return plan


# --- acting a plan out -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One command of an event's path; ``actor`` and the assignee are symbolic keys
    (``system``; ``mA`` the member the automatic dispatch chose, ``mB`` the other one;
    ``head``, ``comm``, ``disp``, ``dept``)."""

    action: Action
    at: int  # µs since the epoch
    actor: str
    actor_role: Role | None = None
    assign: tuple[int, str, Role, str] | None = None  # level, assignee key, role, reason
    approved: bool | None = None
    timer: TimerKind | None = None
    note: str = ""

    def shape(self) -> tuple[object, ...]:
        """Everything but the time: what the bulk writer groups paths by."""
        return (
            self.action, self.actor, self.actor_role, self.assign, self.approved, self.timer,
            self.note,
        )  # fmt: skip


LEVEL_ASSIGNEE: Mapping[int, tuple[str, Role]] = {
    1: ("comm", Role.COMMUNITY),
    2: ("disp", Role.DISPATCHER),
    3: ("dept", Role.DEPARTMENT),
}


class Engine(Protocol):
    def open(self, at: int, *, trusted: bool) -> None: ...

    def act(self, step: Step) -> None: ...

    @property
    def status(self) -> Status: ...

    @property
    def level(self) -> int: ...

    @property
    def assignee(self) -> str | None: ...

    @property
    def assignee_role(self) -> Role | None: ...

    def resolve_due(self) -> int | None: ...

    def next_timer(self) -> tuple[int, TimerKind] | None: ...


class _Cutoff(Exception):
    pass


def play(plan: Plan, *, big: bool, engine: Engine, cutoff: int) -> list[Step]:
    """Act ``plan`` out on ``engine``, firing due timers before every step; stops (leaving the
    event open) at the first step after ``cutoff``. Returns the steps taken, the report first."""
    steps: list[Step] = [Step(Action.REPORT if plan.public else Action.REGISTER, plan.t0, "")]
    engine.open(plan.t0, trusted=not plan.public)
    extra = iter(plan.extra)
    last = plan.t0

    def fire_until(t: int) -> None:
        while True:
            nxt = engine.next_timer()
            if nxt is None or nxt[0] > t:
                return
            due, kind = nxt
            if due > cutoff:
                raise _Cutoff
            assign = None
            if kind.is_breach and engine.level < 3:
                key, role = LEVEL_ASSIGNEE[engine.level + 1]
                assign = (engine.level + 1, key, role, "least_loaded")
            action = Action.BREACH if kind.is_breach else Action.WARN
            do_now(Step(action, due, SYSTEM, assign=assign, timer=kind))

    def do_now(step: Step) -> None:
        nonlocal last
        engine.act(step)
        steps.append(step)
        last = max(last, step.at)

    def do(step: Step) -> None:
        fire_until(step.at)
        if step.at > cutoff:
            raise _Cutoff
        do_now(step)

    def handler(t: int) -> str:
        fire_until(t)
        key = engine.assignee
        assert key is not None, "every assignment names a person"
        return key

    def ack(t: int) -> int:
        fire_until(t)
        if engine.status is Status.DISPATCHED:
            do(Step(Action.ACKNOWLEDGE, t, handler(t)))
        return t

    def resolve(t: int) -> int:
        fire_until(t)
        while engine.status is Status.DISPATCHED:  # escalated meanwhile: the new handler
            ta = ack(last + next(extra, 300) * US)
            t = max(t, ta + next(extra, 300) * US)
            fire_until(t)
        do(Step(Action.RESOLVE, t, handler(t)))
        return t

    def voider() -> str:
        return "head" if engine.level <= 1 else "disp"

    try:
        t = plan.t0
        if plan.public:
            t += plan.verify_after * US
            if plan.void_pending:
                do(Step(Action.VOID, t, "head"))
                return steps
            do(Step(Action.VERIFY, t, "head"))
        t += plan.dispatch_after * US
        first = (
            (2, "disp", Role.DISPATCHER, "least_loaded")
            if big
            else (0, "mA", Role.MEMBER, "least_loaded_member")
        )
        do(Step(Action.DISPATCH, t, SYSTEM, assign=first, note="auto"))
        start = t
        if plan.big_escalate_after is not None:
            te = start + plan.big_escalate_after * US
            fire_until(te)
            if engine.status is Status.DISPATCHED and engine.level == 2:
                do(Step(Action.ESCALATE, te, handler(te),
                        assign=(3, "dept", Role.DEPARTMENT, "least_loaded")))  # fmt: skip
                start = te
        if plan.redispatch_after is not None:
            tr = start + plan.redispatch_after * US
            fire_until(tr)
            if engine.status is Status.DISPATCHED and engine.level == 0:
                other = "mB" if engine.assignee == "mA" else "mA"
                do(Step(Action.DISPATCH, tr, "disp", assign=(0, other, Role.MEMBER, "manual")))
                start = tr
        for c, approved in enumerate(plan.approved):
            ta = ack(start + plan.ack[c] * US)
            if c == 0 and plan.void_after is not None:
                do(Step(Action.VOID, ta + plan.void_after * US, voider()))
                return steps
            if c == 0 and plan.hand_escalate_after is not None:
                te = ta + plan.hand_escalate_after * US
                fire_until(te)
                if engine.level < 3 and engine.status in (Status.DISPATCHED, Status.ACKNOWLEDGED):
                    key, role = LEVEL_ASSIGNEE[engine.level + 1]
                    do(Step(Action.ESCALATE, te, handler(te),
                            assign=(engine.level + 1, key, role, "least_loaded")))  # fmt: skip
                    ta = ack(te + next(extra, 300) * US)
            tr = ta + plan.work[c] * US
            if c == 0 and plan.suspend is not None:
                share, pause = plan.suspend
                ts = ta + int(plan.work[c] * share) * US
                fire_until(ts)
                due = engine.resolve_due()
                if engine.status is Status.ACKNOWLEDGED and due is not None and due > ts:
                    do(Step(Action.SUSPEND, ts, "disp"))
                    do(Step(Action.RESUME, ts + pause * US, "disp"))
                    tr += pause * US
            tr = resolve(max(tr, last + US))
            reviewer = "head" if engine.assignee_role is Role.MEMBER else "disp"
            tv = tr + plan.review[c] * US
            do(Step(Action.REVIEW, tv, reviewer, approved=approved))
            start = tv
    except _Cutoff:
        pass
    return steps


_TIMER_ORDER: tuple[tuple[TimerKind, ...], tuple[TimerKind, ...]] = (
    ACK_TIMERS + RESOLVE_TIMERS,
    RESOLVE_TIMERS,
)


@functools.lru_cache(maxsize=1024)
def _fire_offsets(allowances: tuple[tuple[int, int], ...]) -> tuple[dict[TimerKind, int], ...]:
    """Per level, how long before its deadline each timer fires: allowance * (1 - fraction),
    rounded as the core rounds it (timedelta times float)."""
    one = timedelta(microseconds=1)
    return tuple(
        {
            kind: (timedelta(microseconds=a if kind.is_ack else r) * (1.0 - kind.fraction)) // one
            for kind in (*ACK_TIMERS, *RESOLVE_TIMERS)
        }
        for a, r in allowances
    )


class MiniEngine:
    """The dispatch core's clocks and levels, in plain integers (the bulk writer's mirror of
    ``DomainEngine``; a test proves they take the same paths)."""

    def __init__(self, allowances: Sequence[tuple[int, int]], big: bool) -> None:
        self._allow = allowances
        self._big = big
        self._before = _fire_offsets(tuple(allowances))
        self._status = Status.REGISTERED
        self._level = 0
        self._assignee: str | None = None
        self._role: Role | None = None
        self._ack_due = 0
        self._due = 0
        self._sent: set[TimerKind] = set()
        self._resume: Status | None = None
        self._left = 0

    def open(self, at: int, *, trusted: bool) -> None:
        self._status = Status.REGISTERED if trusted else Status.PENDING_VERIFICATION
        self._level = 2 if self._big else 0

    @property
    def status(self) -> Status:
        return self._status

    @property
    def level(self) -> int:
        return self._level

    @property
    def assignee(self) -> str | None:
        return self._assignee

    @property
    def assignee_role(self) -> Role | None:
        return self._role

    def resolve_due(self) -> int | None:
        return self._due if self._status in (Status.DISPATCHED, Status.ACKNOWLEDGED) else None

    def _period(self, assign: tuple[int, str, Role, str] | None, at: int) -> None:
        assert assign is not None
        self._level, self._assignee, self._role = assign[0], assign[1], assign[2]
        ack, res = self._allow[self._level]
        self._ack_due, self._due = at + ack, at + res
        self._sent = set()
        self._status = Status.DISPATCHED

    def act(self, step: Step) -> None:
        a, at = step.action, step.at
        if a is Action.VERIFY:
            self._status = Status.REGISTERED
        elif a in (Action.DISPATCH, Action.ESCALATE):
            self._period(step.assign, at)
        elif a is Action.ACKNOWLEDGE:
            self._status = Status.ACKNOWLEDGED
        elif a is Action.RESOLVE:
            self._status = Status.RESOLVED
        elif a is Action.REVIEW:
            if step.approved:
                self._status = Status.CLOSED
            else:
                self._period((self._level, self._assignee or "", self._role or Role.MEMBER, ""), at)
        elif a is Action.SUSPEND:
            self._left = max(self._due - at, 0)
            self._resume, self._status = self._status, Status.SUSPENDED
        elif a is Action.RESUME:
            assert self._resume is not None
            self._due = at + self._left
            self._status, self._resume = self._resume, None
        elif a is Action.VOID:
            self._status = Status.VOIDED
        elif a in (Action.WARN, Action.BREACH):
            assert step.timer is not None
            self._sent.add(step.timer)
            if a is Action.BREACH and self._level < 3:
                self._period(step.assign, at)
        else:
            raise ValueError(f"the mirror does not know {a}")

    def next_timer(self) -> tuple[int, TimerKind] | None:
        if self._status is Status.DISPATCHED:
            kinds = _TIMER_ORDER[0]
        elif self._status is Status.ACKNOWLEDGED:
            kinds = _TIMER_ORDER[1]
        else:
            return None
        best: tuple[int, TimerKind] | None = None
        before = self._before[self._level]
        sent = self._sent
        for kind in kinds:
            if kind in sent:
                continue
            fire = (self._ack_due if kind in ACK_TIMERS else self._due) - before[kind]
            if best is None or fire < best[0]:
                best = (fire, kind)
        return best


class DomainEngine:
    """The real dispatch core: every step is ``domain.lifecycle.apply`` on the event's state;
    the decisions are kept for ``dispatch.store.record``. ``ids`` maps symbolic keys to staff
    ids (or to placeholders when the bulk writer derives its templates)."""

    def __init__(
        self,
        *,
        event_id: str,
        policy: SlaPolicy,
        grid_code: str,
        reporter: str | None,
        ids: Mapping[str, str],
        department: str | None,
    ) -> None:
        self._event_id = event_id
        self._policy = policy
        self._grid = grid_code
        self._reporter = reporter
        self._ids = ids
        self._keys = {v: k for k, v in ids.items()}
        self._department = department
        self.decisions: list[Decision] = []
        self._state: EventState | None = None

    @property
    def state(self) -> EventState:
        assert self._state is not None
        return self._state

    def open(self, at: int, *, trusted: bool) -> None:
        decision = open_event(
            event_id=self._event_id,
            policy=self._policy,
            now=from_us(at),
            reporter_id=self._reporter,
            trusted=trusted,
            grid=self._grid,
        )
        self.decisions.append(decision)
        self._state = decision.state

    @property
    def status(self) -> Status:
        return self.state.status

    @property
    def level(self) -> int:
        return self.state.level

    @property
    def assignee(self) -> str | None:
        a = self.state.assignee_id
        return None if a is None else self._keys[a]

    @property
    def assignee_role(self) -> Role | None:
        return self.state.assignee_role

    def resolve_due(self) -> int | None:
        due = self.state.due_at
        if due is None or self.state.status not in (Status.DISPATCHED, Status.ACKNOWLEDGED):
            return None
        return to_us(due)

    def next_timer(self) -> tuple[int, TimerKind] | None:
        best: tuple[int, TimerKind] | None = None
        for kind in pending_timers(self.state):
            due = timer_due_at(self.state, kind)
            if due is None:
                continue
            fire = to_us(due)
            if best is None or fire < best[0]:
                best = (fire, kind)
        return best

    def command(self, step: Step) -> Command:
        assignment = None
        if step.assign is not None:
            level, key, role, reason = step.assign
            assignment = Assignment(
                level=level,
                assignee_id=self._ids[key],
                role=role,
                department=self._department if level == 3 else None,
                reason=reason,
            )
        return Command(
            action=step.action,
            actor=SYSTEM if step.actor == SYSTEM else self._ids[step.actor],
            note=step.note,
            actor_role=step.actor_role,
            approved=step.approved,
            assignment=assignment,
            timer=step.timer,
            deadline_version=self.state.deadline_version if step.timer is not None else None,
        )

    def act(self, step: Step) -> None:
        decision = apply(self.state, self.command(step), now=from_us(step.at), policy=self._policy)
        if decision.noop:
            raise AssertionError(f"event {self._event_id}: {step.action} at {step.at} was a no-op")
        self.decisions.append(decision)
        self._state = decision.state


def staff_ids(world: World, plan: Plan) -> dict[str, str]:
    grid = world.grids[plan.grid]
    category = world.categories[plan.category]
    return {
        "mA": str(grid.members[plan.member]),
        "mB": str(grid.members[1 - plan.member]),
        "head": str(grid.head),
        "comm": str(grid.community_staff),
        "disp": str(world.dispatchers[plan.dispatcher]),
        "dept": str(category.department_staff),
    }


def reporter_of(world: World, plan: Plan) -> int | None:
    return None if plan.public else world.grids[plan.grid].members[plan.member]


# --- the rows an event needs besides its state -------------------------------------------------


def event_columns(world: World, plan: Plan, event_id: int) -> dict[str, object]:
    """The event row's columns that are not the dispatch core's state."""
    grid = world.grids[plan.grid]
    category = world.categories[plan.category]
    lon, lat = grid.points[plan.point]
    reported = from_us(plan.t0)
    return {
        "id": event_id,
        "client_id": plan.client_id,
        "request_hash": hashlib.sha256(plan.client_id.bytes).hexdigest(),
        "category_id": category.id,
        "grid_id": grid.id,
        "community_id": grid.community_id,
        "description": f"{category.name}（模拟）",
        "lon": lon,
        "lat": lat,
        "coord": "wgs84",
        "orig_lon": lon,
        "orig_lat": lat,
        "accuracy_m": plan.accuracy_m,
        "snapped": False,
        "distance_m": 0.0,
        "source": "public" if plan.public else "staff",
        "occurred_at": reported - OCCURRED_BEFORE,
        "received_at": reported,
        "reporter_id": reporter_of(world, plan),
    }


# --- patrols ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatrolPlan:
    client_id: uuid.UUID
    staff_id: int
    grid_id: int
    started_at: int  # µs
    stopped_at: int
    track: tuple[tuple[float, float], ...]

    @property
    def length_m(self) -> float:
        total = 0.0
        for (x1, y1), (x2, y2) in zip(self.track, self.track[1:], strict=False):
            dx = math.radians(x2 - x1) * math.cos(math.radians((y1 + y2) / 2))
            total += 6_371_008.8 * math.hypot(dx, math.radians(y2 - y1))
        return round(total, 2)

    @property
    def wkt(self) -> str:
        return "SRID=4326;LINESTRING(" + ", ".join(f"{x} {y}" for x, y in self.track) + ")"


def patrol_plans(world: World, window: Window, *, seed: int) -> Iterator[PatrolPlan]:
    rng = random.Random(seed ^ 0xBA7)
    for day in window.days:
        start = day_start_us(day)
        for grid in world.grids:
            if rng.random() >= PATROL_DAY_SHARE:
                continue
            for _ in range(1 if rng.random() < 0.6 else 2):
                begin = start + (rng.choice((8, 9, 14, 15)) * 3600 + rng.randrange(3600)) * US
                points = tuple(rng.choice(grid.points) for _ in range(rng.randint(3, 5)))
                yield PatrolPlan(
                    client_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    staff_id=grid.members[rng.randrange(2)],
                    grid_id=grid.id,
                    started_at=begin,
                    stopped_at=begin + rng.randint(40 * 60, 90 * 60) * US,
                    track=points,
                )


# --- small runs: through the real services ---------------------------------------------------

_INSERT_EVENT = text("""
INSERT INTO event (id, client_id, request_hash, category_id, grid_id, community_id, description,
    geom, coord, orig_lon, orig_lat, accuracy_m, snapped, distance_m, source, occurred_at,
    received_at, {state})
VALUES (:id, :client_id, :request_hash, :category_id, :grid_id, :community_id, :description,
    ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :coord, :orig_lon, :orig_lat, :accuracy_m,
    :snapped, :distance_m, :source, :occurred_at, :received_at, {values})
""")


def _insert_event_sql() -> TextClause:
    names = [n for n in store.STATE_FIELDS if n not in ("event_id", "category", "grid")]
    return text(
        str(_INSERT_EVENT.text)
        .replace("{state}", ", ".join(names))
        .replace("{values}", ", ".join(f":{n}" for n in names))
    )


_INSERT_PATROL = text("""
INSERT INTO patrol (client_id, staff_id, grid_id, started_at, stopped_at, length_m, track)
VALUES (:client_id, :staff_id, :grid_id, :started_at, :stopped_at, :length_m,
        ST_GeomFromEWKT(:track))
""")


@dataclass
class Summary:
    events: int = 0
    closed: int = 0
    voided: int = 0
    open: int = 0
    audit_rows: int = 0
    patrols: int = 0
    seconds: float = 0.0
    added_grids: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"{self.events} events ({self.closed} closed, {self.voided} voided, {self.open} open), "
            f"{self.audit_rows} audit rows, {self.patrols} patrols in {self.seconds:.1f} s"
            + (f"; {self.added_grids} synthetic grids added" if self.added_grids else "")
        )


def record_plan(session: Session, world: World, plan: Plan, *, cutoff: int) -> list[Decision]:
    """One event through the dispatch core and ``dispatch.store.record`` (no commit)."""
    category = world.categories[plan.category]
    grid = world.grids[plan.grid]
    event_id = store.next_event_id(session)
    reporter = reporter_of(world, plan)
    engine = DomainEngine(
        event_id=str(event_id),
        policy=category.policy,
        grid_code=grid.code,
        reporter=None if reporter is None else str(reporter),
        ids=staff_ids(world, plan),
        department=category.department,
    )
    play(plan, big=category.big, engine=engine, cutoff=cutoff)
    first, *rest = engine.decisions
    row = event_columns(world, plan, event_id)
    row.update(store.state_columns(first.state))
    session.execute(_insert_event_sql(), row)
    store.record(session, first, previous_version=None)
    for decision in rest:
        store.record(session, decision, previous_version=decision.state.version - 1)
    return engine.decisions


def default_window(days: int, until: date | None, now: datetime) -> Window:
    last = until or (now.astimezone(get_settings().tz).date() - timedelta(days=1))
    return Window(first=last - timedelta(days=days - 1), last=last)


def simulate(
    uow: UnitOfWork,
    *,
    days: int,
    seed: int,
    per_day: float | None = None,
    grids: int | None = None,
    until: date | None = None,
    now: datetime | None = None,
    patrols: bool = True,
) -> Summary:
    """A small run through the real services; commits once per simulated day."""
    began = time.perf_counter()
    now = now or datetime.now(UTC)
    summary = Summary()
    if grids:
        summary.added_grids = ensure_synthetic_grids(uow.session, grids)
        uow.commit()
    world = load_world(uow.session, grids=grids, seed=seed)
    window = default_window(days, until, now)
    cutoff = to_us(now)
    rate = per_day if per_day is not None else 1.5 * len(world.grids)
    event_ids: list[int] = []
    for batch in plans(world, window, seed=seed, per_day=rate):
        for plan in batch:
            if plan.t0 > cutoff:
                continue
            decisions = record_plan(uow.session, world, plan, cutoff=cutoff)
            event_ids.append(int(decisions[0].state.event_id))
            summary.events += 1
            summary.audit_rows += len(decisions)
            status = decisions[-1].state.status
            summary.closed += status is Status.CLOSED
            summary.voided += status is Status.VOIDED
            summary.open += status not in (Status.CLOSED, Status.VOIDED)
        uow.commit()
    if patrols:
        rows = [
            _patrol_row(p) for p in patrol_plans(world, window, seed=seed) if p.stopped_at <= cutoff
        ]
        for chunk in range(0, len(rows), 2000):
            uow.session.execute(_INSERT_PATROL, rows[chunk : chunk + 2000])
        summary.patrols = len(rows)
    if event_ids:
        _retire_outbox(uow.session, event_ids, now)
    uow.commit()
    summary.seconds = time.perf_counter() - began
    return summary


def _patrol_row(p: PatrolPlan) -> dict[str, object]:
    return {
        "client_id": p.client_id,
        "staff_id": p.staff_id,
        "grid_id": p.grid_id,
        "started_at": from_us(p.started_at),
        "stopped_at": from_us(p.stopped_at),
        "length_m": p.length_m,
        "track": p.wkt,
    }


def _retire_outbox(session: Session, event_ids: list[int], now: datetime) -> None:
    """The simulated past's messages are history, not work: mark them processed so the relay
    does not schedule timers or send notifications for it. Timers still ahead of ``now`` (of
    events left open) stay for the relay."""
    session.execute(
        text("""
        UPDATE outbox SET processed_at = :now
         WHERE event_id = ANY(:ids) AND processed_at IS NULL
           AND NOT (topic = 'timer.set' AND (payload->>'fire_at')::timestamptz > :now)
        """),
        {"ids": event_ids, "now": now},
    )
