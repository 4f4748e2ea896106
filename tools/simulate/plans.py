"""The random model of a simulated history: arrivals and the handlers' intentions, all seeded.

Each event's report (category, time, place) and the intentions of the people who handle it are
drawn up front as a ``Plan``:

- arrivals: a Poisson number of reports per day (weekends quieter), each with a category drawn
  by weight (some seasonal: 道路积水 in summer, 病媒 in warm months), an hour of day from the
  category's daily profile (morning and afternoon peaks; 占道经营 in the evening, 噪音 at
  night), a grid drawn by its own busyness and a point inside it; a few reports come from the
  public or the 12345 hotline and wait for verification (some of those are voided: nothing
  found), and some problems staff reported are reported again by them while open (duplicates,
  linked on site: ``public_reports``);
- handling: automatic dispatch within seconds (a few wait for the command centre), the member
  acknowledges in minutes, fixes in about half of the category's time, the head reviews; a
  fraction fail review (rework), are re-dispatched, escalated by hand, suspended for hours, or
  voided as duplicates; a long tail of slow fixes.

A plan holds intentions only; what actually happens (timers, escalations) is the dispatch
core's business when the plan is acted out (``tools.simulate.play``).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from domain.roles import DEPARTMENT_LEVEL, start_level
from kernel.settings import get_settings
from tools.simulate.world import US, World, from_us, to_us

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
#: Problems first reported by the public or the hotline (those the grid staff missed: 漏报),
#: of which some are found to be nothing on site (voided), and the hotline's part of them.
PUBLIC_SHARE = 0.04
PUBLIC_VOID_SHARE = 0.3
HOTLINE_OF_PUBLIC = 0.4
#: Problems staff reported that the public or the hotline report again while open.
REPORTED_AGAIN_SHARE = 0.06
VOID_SHARE = 0.025
LATE_DISPATCH_SHARE = 0.03
REDISPATCH_SHARE = 0.025
HAND_ESCALATE_SHARE = 0.02
SUSPEND_SHARE = 0.01
REWORK_SHARE = 0.06
TAIL_SHARE = 0.06
BIG_TO_DEPARTMENT_SHARE = 0.6
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
    source: str = "staff"  # staff, or (public) the public or the 12345 hotline
    duplicate_of: uuid.UUID | None = None  # a report of an open problem: its first report
    duplicated: bool = False  # reported again by the public or the hotline


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


def default_window(days: int, until: date | None, now: datetime) -> Window:
    """``days`` days ending ``until`` (default: yesterday, local time)."""
    last = until or (now.astimezone(get_settings().tz).date() - timedelta(days=1))
    return Window(first=last - timedelta(days=days - 1), last=last)


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
    others = random.Random(seed * 7919 + 12345)  # the public's reports: a stream of their own
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
        batch += public_reports(others, world, batch)
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
    # the level whose allowance the handler works against (big ones go on to a department)
    level = DEPARTMENT_LEVEL if plan.big_escalate_after is not None else start_level(category.big)
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


def public_reports(rng: random.Random, world: World, batch: list[Plan]) -> list[Plan]:
    """Who else reports the day's problems: the public reports of ``batch`` come from residents
    or the hotline; some problems staff reported are reported again by them while open (the
    duplicates, linked on site to the first report). Drawn from their own stream, so the
    staff's events are the same with or without them."""
    again: list[Plan] = []
    for plan in batch:
        if plan.public:
            plan.source = "hotline" if rng.random() < HOTLINE_OF_PUBLIC else "public"
            continue
        if world.categories[plan.category].big or rng.random() >= REPORTED_AGAIN_SHARE:
            continue
        plan.duplicated = True
        dup = Plan(
            t0=plan.t0 + _lognormal(rng, 900, 0.8) * US,
            grid=plan.grid,
            category=plan.category,
            point=plan.point,
            client_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            accuracy_m=round(rng.uniform(5.0, 40.0), 1),
            public=True,
            member=plan.member,
            dispatcher=plan.dispatcher,
            source="hotline" if rng.random() < HOTLINE_OF_PUBLIC else "public",
            duplicate_of=plan.client_id,
        )
        dup.verify_after = _lognormal(rng, 600, 0.6)
        dup.void_pending = True
        again.append(dup)
    return again


# --- who is involved and what was reported ----------------------------------------------------


def staff_ids(world: World, plan: Plan) -> dict[str, str]:
    """The ids behind the symbolic people of a path (``tools.simulate.play``): ``mA`` the member
    the automatic dispatch picks, ``mB`` the other one, the grid's head, the community's staff,
    a dispatcher and the category's department."""
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
    """The member who reported (None: a report from the public)."""
    return None if plan.public else world.grids[plan.grid].members[plan.member]


def report_of(world: World, plan: Plan) -> tuple[dict[str, Any], float, float]:
    """What the phone sent, as ``dispatch.store.REPORT_COLUMNS`` values, and the point
    (lon, lat): the event row's columns that are not the dispatch core's state."""
    grid = world.grids[plan.grid]
    category = world.categories[plan.category]
    lon, lat = grid.points[plan.point]
    reported = from_us(plan.t0)
    report = {
        "client_id": plan.client_id,
        "request_hash": hashlib.sha256(plan.client_id.bytes).hexdigest(),
        "category_id": category.id,
        "grid_id": grid.id,
        "description": f"{category.name}（模拟）",
        "coord": "wgs84",
        "orig_lon": lon,
        "orig_lat": lat,
        "accuracy_m": plan.accuracy_m,
        "snapped": False,
        "distance_m": 0.0,
        "source": plan.source,
        "occurred_at": reported - OCCURRED_BEFORE,
        "received_at": reported,
    }
    return report, lon, lat
