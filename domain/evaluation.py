"""The pure rules of the statistics (no database, web or Redis import).

- Days: Asia/Shanghai calendar days; an event belongs to the day it was reported.
- Resolution minutes: whole minutes from report to close, ``floor((closed - created) / 1 min)``.
- Percentiles: nearest rank on those minutes, the value at rank ``ceil(p * N / 100)`` of the
  sorted values (what PostgreSQL's ``percentile_disc(p / 100)`` returns), exact to the minute.
- Indicators: formulas as data, each a ratio of linear combinations of named counters.
- Scorecard: weights and scoring bands as data (``data/scorecard.json``); grades 优 良 中 差.
- Blocks: aligned runs of 2^k days that the sealed histograms cover; any window is a union of
  at most two blocks per level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

STATS_TZ = ZoneInfo("Asia/Shanghai")
#: Groups with fewer closed events than this are flagged ``small_sample``.
SMALL_SAMPLE = 5
#: The percentiles reported for resolution times.
PERCENTILES: tuple[int, ...] = (50, 90, 95)
#: Sealed blocks go up to 2^MAX_BLOCK_LEVEL days (the trigger invalidates levels 0..10).
MAX_BLOCK_LEVEL = 10
EPOCH = date(1970, 1, 1)

LEVEL_NAMES: Mapping[int, str] = {0: "网格", 1: "社区", 2: "街道指挥中心", 3: "职能部门"}


# --- days and blocks -------------------------------------------------------------------------


def day_number(day: date) -> int:
    """Days since 1970-01-01 (the numbering the blocks are aligned to)."""
    return (day - EPOCH).days


def day_of_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


def block_end(lvl: int, start: int) -> int:
    """The last day number of a block."""
    return start + (1 << lvl) - 1


def decompose(first: int, last: int, max_level: int = MAX_BLOCK_LEVEL) -> list[tuple[int, int]]:
    """The aligned blocks ``(lvl, start)`` that exactly tile days ``first..last`` (inclusive),
    largest first: at most two per level."""
    blocks: list[tuple[int, int]] = []
    day = first
    while day <= last:
        lvl = max_level
        while lvl > 0 and (day % (1 << lvl) != 0 or day + (1 << lvl) - 1 > last):
            lvl -= 1
        blocks.append((lvl, day))
        day += 1 << lvl
    return blocks


def children(lvl: int, start: int) -> tuple[tuple[int, int], tuple[int, int]]:
    if lvl == 0:
        raise ValueError("a one-day block has no children")
    half = 1 << (lvl - 1)
    return (lvl - 1, start), (lvl - 1, start + half)


def cover(
    first: int, last: int, sealed: Iterable[tuple[int, int]]
) -> tuple[list[tuple[int, int]], list[int]]:
    """Tile days ``first..last`` with sealed blocks where they exist: returns the sealed blocks
    to read and the days (not sealed at level 0) to read from the base rows."""
    have = set(sealed)
    use: list[tuple[int, int]] = []
    leaves: list[int] = []
    todo = decompose(first, last)
    while todo:
        lvl, start = todo.pop()
        if (lvl, start) in have:
            use.append((lvl, start))
        elif lvl == 0:
            leaves.append(start)
        else:
            todo.extend(children(lvl, start))
    return sorted(use), sorted(leaves)


class GroupBy(StrEnum):
    grid = "grid"
    community = "community"
    category = "category"
    level = "level"
    day = "day"
    week = "week"
    month = "month"

    @property
    def is_time(self) -> bool:
        return self in (GroupBy.day, GroupBy.week, GroupBy.month)


@dataclass(frozen=True)
class Period:
    """One row of a time grouping: its label and its days (clipped to the window)."""

    label: str
    first: date
    last: date


def periods(since: date, until: date, group_by: GroupBy) -> list[Period]:
    """Days, ISO weeks (Monday first, labelled ``YYYY-Www``) or calendar months of a window."""
    result: list[Period] = []
    day = since
    while day <= until:
        if group_by is GroupBy.day:
            end, label = day, day.isoformat()
        elif group_by is GroupBy.week:
            monday = day - timedelta(days=day.weekday())
            end = monday + timedelta(days=6)
            year, week, _ = monday.isocalendar()
            label = f"{year}-W{week:02d}"
        elif group_by is GroupBy.month:
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            end, label = following - timedelta(days=1), f"{day.year}-{day.month:02d}"
        else:
            raise ValueError(f"{group_by} is not a time grouping")
        end = min(end, until)
        result.append(Period(label=label, first=day, last=end))
        day = end + timedelta(days=1)
    return result


# --- resolution times ------------------------------------------------------------------------


def rank(count: int, percent: int) -> int:
    """The 1-based nearest rank of the ``percent``-th percentile of ``count`` values."""
    if count <= 0:
        raise ValueError("no values")
    return max(1, -(-percent * count // 100))


def percentile(hist: Mapping[int, int], percent: int) -> int | None:
    """Nearest-rank percentile of a histogram ``{minutes: count}`` (None when empty)."""
    total = sum(hist.values())
    if total == 0:
        return None
    target = rank(total, percent)
    seen = 0
    for minutes in sorted(hist):
        seen += hist[minutes]
        if seen >= target:
            return minutes
    raise AssertionError("unreachable: the ranks add up to the total")


@dataclass(frozen=True)
class Resolution:
    """Report → close times of one group of closed events, in whole minutes."""

    count: int
    mean: float | None
    p50: int | None
    p90: int | None
    p95: int | None
    max: int | None
    on_time: int
    on_time_rate: float | None

    @property
    def small_sample(self) -> bool:
        return self.count < SMALL_SAMPLE


def summarize(hist: Mapping[int, tuple[int, int]]) -> Resolution:
    """The figures of a histogram ``{minutes: (count, on_time)}`` (the reference
    implementation; ``dispatch.stats.histogram`` computes the same for many groups at once)."""
    counts = {m: n for m, (n, _) in hist.items() if n > 0}
    total = sum(counts.values())
    on_time = sum(o for n, o in hist.values() if n > 0)
    if total == 0:
        return Resolution(0, None, None, None, None, None, 0, None)
    p50, p90, p95 = (percentile(counts, p) for p in PERCENTILES)
    return Resolution(
        count=total,
        mean=round(sum(m * n for m, n in counts.items()) / total, 2),
        p50=p50,
        p90=p90,
        p95=p95,
        max=max(counts),
        on_time=on_time,
        on_time_rate=round(on_time / total, 4),
    )


# --- indicators ------------------------------------------------------------------------------


class Source(StrEnum):
    """Where an indicator's counters come from (and what its drill-down lists)."""

    events = "events"  # stats_daily counters of the events reported in the window
    patrols = "patrols"  # grid-days with a patrol that walked
    map = "map"  # grids.service.coverage (the map and the roster, not the window)


@dataclass(frozen=True)
class Indicator:
    """A ratio ``sum(numerator) / sum(denominator)`` of named counters (coefficient per name).
    For event indicators, the drill-down lists the events whose own numerator contribution
    is positive."""

    code: str
    name: str
    name_en: str
    numerator: Mapping[str, int]
    denominator: Mapping[str, int]
    source: Source
    formula: str
    higher_is_better: bool = True


def _c(**coefficients: int) -> Mapping[str, int]:
    return dict(coefficients)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "coverage", "网格化管理覆盖率", "grid coverage",
        _c(covered_area_km2=1), _c(jurisdiction_area_km2=1), Source.map,
        "area covered by grids / jurisdiction area (km²)",
    ),
    Indicator(
        "staffing", "一长两员配备率", "staffing",
        _c(staffed_grids=1), _c(grids=1), Source.map,
        "grids with one head and two members / grids",
    ),
    Indicator(
        "patrol_coverage", "巡查覆盖率", "patrol coverage",
        _c(patrolled_grid_days=1), _c(grid_days=1), Source.patrols,
        "grid-days with at least one patrol (track or GPS point) / grid-days in the window",
    ),
    Indicator(
        "valid_report", "有效上报率", "valid-report rate",
        _c(reported=1, voided=-1), _c(reported=1), Source.events,
        "reports not voided / reports",
    ),
    Indicator(
        "on_time_dispatch", "按时派遣率", "on-time dispatch",
        _c(dispatched_on_time=1), _c(dispatched=1), Source.events,
        "events first dispatched within the dispatch limit of the report / events dispatched",
    ),
    Indicator(
        "accurate_dispatch", "准确派遣率", "accurate dispatch",
        _c(dispatched=1), _c(dispatched=1, redispatches=1), Source.events,
        "(dispatches − re-dispatches) / dispatches, dispatches = first dispatches + re-dispatches",
    ),
    Indicator(
        "on_time_handling", "按期处置率", "on-time handling",
        _c(handled_on_time=1), _c(handled=1), Source.events,
        "resolved or closed events whose fix came before its deadline / resolved or closed events",
    ),
    Indicator(
        "closure_rate", "结案率", "closure rate",
        _c(closed=1), _c(reported=1, voided=-1), Source.events,
        "closed / due to close (reports not voided)",
    ),
    Indicator(
        "on_time_closure", "按期结案率", "on-time closure",
        _c(closed_on_time=1), _c(reported=1, voided=-1), Source.events,
        "closed within the category's resolve time of the report / due to close",
    ),
    Indicator(
        "rework_rate", "返工率", "rework rate",
        _c(reworks=1), _c(reworks=1, handled=1), Source.events,
        "rework count / fixes submitted (rework count + resolved or closed events)",
        higher_is_better=False,
    ),
    Indicator(
        "kept_in_grid", "小事不出网格", "kept in grid",
        _c(closed_level0=1), _c(closed=1), Source.events,
        "closed at level 0 (grid) / closed",
    ),
    Indicator(
        "kept_in_subdistrict", "大事不出街道", "kept in subdistrict",
        _c(closed_le2=1), _c(closed=1), Source.events,
        "closed at level ≤ 2 (grid, community, command centre) / closed",
    ),
    Indicator(
        "missed_report", "漏报率", "missed-report rate",
        _c(public_registered=1), _c(registered=1), Source.events,
        "registered public reports / registered events",
        higher_is_better=False,
    ),
)  # fmt: skip

INDICATOR_BY_CODE: Mapping[str, Indicator] = {i.code: i for i in INDICATORS}


@dataclass(frozen=True)
class IndicatorValue:
    indicator: Indicator
    numerator: float
    denominator: float
    value: float | None


def combine(coefficients: Mapping[str, int], totals: Mapping[str, float]) -> float:
    return sum(k * totals.get(name, 0) for name, k in coefficients.items())


def evaluate(indicator: Indicator, totals: Mapping[str, float]) -> IndicatorValue:
    """The indicator's numerator, denominator and value (None when the denominator is 0)."""
    num = combine(indicator.numerator, totals)
    den = combine(indicator.denominator, totals)
    value = round(num / den, 6) if den else None
    return IndicatorValue(indicator, num, den, value)


# --- scorecard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreRule:
    """``weight`` points for an indicator: all of them at ``full_at`` or better, none at
    ``zero_at`` or worse, linear in between (``full_at < zero_at`` when lower is better)."""

    indicator: str
    weight: float
    full_at: float
    zero_at: float

    def points(self, value: float) -> float:
        share = (value - self.zero_at) / (self.full_at - self.zero_at)
        return self.weight * min(1.0, max(0.0, share))


@dataclass(frozen=True)
class Scorecard:
    rules: tuple[ScoreRule, ...]
    grades: tuple[tuple[float, str], ...] = ((90.0, "优"), (80.0, "良"), (60.0, "中"), (0.0, "差"))

    def __post_init__(self) -> None:
        total = sum(r.weight for r in self.rules)
        if abs(total - 100.0) > 1e-9:
            raise ValueError(f"scorecard weights add up to {total}, not 100")
        for rule in self.rules:
            if rule.indicator not in INDICATOR_BY_CODE:
                raise ValueError(f"scorecard names an unknown indicator {rule.indicator!r}")
            if rule.full_at == rule.zero_at:
                raise ValueError(f"{rule.indicator}: full_at and zero_at must differ")

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Scorecard:
        rules = tuple(
            ScoreRule(
                indicator=str(r["indicator"]),
                weight=float(r["weight"]),
                full_at=float(r["full_at"]),
                zero_at=float(r["zero_at"]),
            )
            for r in data["rules"]
        )
        grades = (
            tuple((float(g["min"]), str(g["grade"])) for g in data.get("grades", [])) or cls.grades
        )
        return cls(rules=rules, grades=tuple(sorted(grades, reverse=True)))

    def grade(self, score: float) -> str:
        for floor, name in self.grades:
            if score >= floor:
                return name
        return self.grades[-1][1]


@dataclass(frozen=True)
class ScoreLine:
    """How one indicator earned its points; ``applicable`` False when it had no data."""

    rule: ScoreRule
    value: float | None
    points: float | None

    @property
    def applicable(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Score:
    lines: tuple[ScoreLine, ...]
    score: float | None
    grade: str | None
    weights_applied: float = 0.0
    notes: tuple[str, ...] = field(default=())


def score(card: Scorecard, values: Mapping[str, float | None]) -> Score:
    """The 100-point score: points of each applicable indicator, rescaled to 100 when some had
    no data (their weight is left out rather than given or taken away)."""
    lines: list[ScoreLine] = []
    earned = applied = 0.0
    for rule in card.rules:
        value = values.get(rule.indicator)
        if value is None:
            lines.append(ScoreLine(rule, None, None))
            continue
        points = round(rule.points(value), 4)
        lines.append(ScoreLine(rule, value, points))
        earned += points
        applied += rule.weight
    if applied == 0:
        return Score(tuple(lines), None, None, 0.0)
    total = round(earned * 100.0 / applied, 2)
    notes: tuple[str, ...] = ()
    if applied < 100.0:
        notes = (f"rescaled: indicators worth {100.0 - applied:g} points had no data",)
    return Score(tuple(lines), total, card.grade(total), applied, notes)
