"""Working calendars and working-time arithmetic (工作日历与工作时间).

A calendar says, for each local day, which periods of the day are working time:

- ``weekly``: the ISO weekdays (1 = Monday … 7 = Sunday) that work by default;
- ``holidays`` / ``workdays``: the exceptions of the loaded ``years`` (法定节假日 on a weekday,
  调休 Saturdays and Sundays that work);
- ``hours``: the working periods of a working day, replaced between two month-days by a
  ``Season`` (summer / winter hours);
- ``time_zone``: where the days and hours are read.

``continuous`` calendars (``24x7``) count every instant and know every year.

**No guessing.** A calendar knows only the years it was loaded for. Arithmetic that reaches a day
of another year does not invent holidays for it: it counts that whole day (00:00–24:00) as working
time — the documented fallback, which can only bring a deadline earlier, never later — and
``gap_years`` names the years that were reached, so the caller can raise the alarm.

Instants are aware datetimes (returned in UTC); amounts are ``timedelta``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_MINUTES = 24 * 60
#: The code of the always-on calendar every installation has (migration 0015).
CONTINUOUS_CODE = "24x7"
#: How far the arithmetic walks before deciding that a calendar has no working time at all.
_MAX_DAYS = 3 * 366
_ZERO = timedelta(0)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_MMDD = re.compile(r"^(\d\d)-(\d\d)$")
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]{0,30}(/[A-Za-z0-9_+-]{1,30}){0,2}\Z")

#: A working period of a day, as minutes after local midnight: ``[start, end)``.
Period = tuple[int, int]


def ensure_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


class CalendarError(ValueError):
    """A calendar file or value is not valid; ``problems`` lists each problem with its path."""

    def __init__(self, problems: Sequence[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))


@dataclass(frozen=True)
class Season:
    """Hours that replace the default ones from ``start`` to ``end`` (month, day; inclusive;
    a season may wrap the new year, e.g. 11-01 … 02-28)."""

    start: tuple[int, int]
    end: tuple[int, int]
    periods: tuple[Period, ...]

    def contains(self, day: date) -> bool:
        md = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end


@dataclass(frozen=True)
class WorkCalendar:
    code: str
    time_zone: str = "Asia/Shanghai"
    continuous: bool = False
    weekly: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    hours: tuple[Period, ...] = ()
    seasons: tuple[Season, ...] = ()
    years: frozenset[int] = frozenset()
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.time_zone))

    def knows(self, year: int) -> bool:
        """Whether the calendar's days of ``year`` are loaded (always, for a continuous one)."""
        return self.continuous or year in self.years

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` works (holidays and 调休 applied). Days of a year the calendar does not
        know are not answered here: ``periods`` applies the fallback."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.isoweekday() in self.weekly

    def periods(self, day: date) -> tuple[Period, ...]:
        """The working periods of a local day; a whole day when continuous or unknown."""
        if not self.knows(day.year):
            return ((0, DAY_MINUTES),)
        if not self.is_working_day(day):
            return ()
        for season in self.seasons:
            if season.contains(day):
                return season.periods
        return self.hours

    def intervals(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The day's working periods as UTC instants ``[start, end)``."""
        for start, end in self.periods(day):
            yield self._instant(day, start), self._instant(day, end)

    def _instant(self, day: date, minute: int) -> datetime:
        base = datetime.combine(day, time(0), tzinfo=self.zone)
        # wall-clock minutes of the local day; zoneinfo resolves the offset of that wall time
        local = (base.replace(tzinfo=None) + timedelta(minutes=minute)).replace(tzinfo=self.zone)
        return local.astimezone(UTC)

    def local_day(self, instant: datetime) -> date:
        return ensure_utc(instant, "instant").astimezone(self.zone).date()


CONTINUOUS = WorkCalendar(code=CONTINUOUS_CODE, continuous=True)


def add_working(calendar: WorkCalendar, start: datetime, amount: timedelta) -> datetime:
    """The instant ``amount`` of working time after ``start``. A zero amount is ``start``; the
    result of a positive amount is the end of the working minute that completes it (never in a
    pause: a deadline that is reached at 12:00 is 12:00, not 13:30)."""
    start = ensure_utc(start, "start")
    if amount < _ZERO:
        raise ValueError("amount must not be negative")
    if calendar.continuous or amount == _ZERO:
        return start + amount
    left = amount
    for lo, hi in _intervals_from(calendar, start):
        lo = max(lo, start)
        if hi <= lo:
            continue
        if hi - lo >= left:
            return lo + left
        left -= hi - lo
    raise ValueError(f"calendar {calendar.code!r} has no working time within {_MAX_DAYS} days")


def working_between(calendar: WorkCalendar, a: datetime, b: datetime) -> timedelta:
    """The working time in ``[a, b)`` (zero when ``b`` is not after ``a``)."""
    a, b = ensure_utc(a, "a"), ensure_utc(b, "b")
    if b <= a:
        return _ZERO
    if calendar.continuous:
        return b - a
    total = _ZERO
    for lo, hi in _intervals_from(calendar, a):
        if lo >= b:
            break
        lo, hi = max(lo, a), min(hi, b)
        if hi > lo:
            total += hi - lo
    return total


def gap_years(calendar: WorkCalendar, a: datetime, b: datetime) -> frozenset[int]:
    """The years between the local days of ``a`` and ``b`` (inclusive) that the calendar does
    not know: arithmetic over them used the fallback."""
    if calendar.continuous:
        return frozenset()
    first, last = sorted((calendar.local_day(a), calendar.local_day(b)))
    return frozenset(y for y in range(first.year, last.year + 1) if not calendar.knows(y))


def _intervals_from(calendar: WorkCalendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    # from the day before: a period of the previous local day may still run at ``start``
    day = calendar.local_day(start) - timedelta(days=1)
    for offset in range(_MAX_DAYS):
        yield from calendar.intervals(day + timedelta(days=offset))


# --- the calendar file ---------------------------------------------------------------------


def _problem(problems: list[tuple[tuple[str | int, ...], str]], *loc: str | int) -> Any:
    def add(msg: str) -> None:
        problems.append((tuple(loc), msg))

    return add


def _minutes(value: Any) -> int | None:
    if not isinstance(value, str) or not _HHMM.match(value):
        return None
    hh, mm = value.split(":")
    return int(hh) * 60 + int(mm)


def _periods(
    value: Any, loc: tuple[str | int, ...], problems: list[tuple[tuple[str | int, ...], str]]
) -> tuple[Period, ...]:
    if not isinstance(value, list) or not value:
        problems.append((loc, 'a non-empty list of ["HH:MM", "HH:MM"] periods is required'))
        return ()
    found: list[Period] = []
    for i, item in enumerate(value):
        pair = item if isinstance(item, list) and len(item) == 2 else [None, None]
        start, end = _minutes(pair[0]), _minutes(pair[1])
        if start is None or end is None:
            problems.append(((*loc, i), 'a period is ["HH:MM", "HH:MM"] (00:00–24:00)'))
        elif end <= start:
            problems.append(((*loc, i), f"period ends ({pair[1]}) before it starts ({pair[0]})"))
        elif found and start < found[-1][1]:
            problems.append(((*loc, i), "periods must be in order and must not overlap"))
        else:
            found.append((start, end))
    return tuple(found)


def _month_day(value: Any) -> tuple[int, int] | None:
    match = _MMDD.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    month, day = int(match[1]), int(match[2])
    try:
        date(2024, month, day)  # a leap year: 02-29 is a valid season bound
    except ValueError:
        return None
    return month, day


def parse_calendar(data: Any) -> WorkCalendar:
    """A calendar from its JSON form; every problem is reported at once (``CalendarError``).

    Form: ``{"code", "time_zone", "weekly": [1..7], "hours": [["08:30","12:00"], …],
    "seasons": [{"from": "MM-DD", "to": "MM-DD", "hours": […]}], "years": [2025, …],
    "holidays": ["YYYY-MM-DD", …], "workdays": ["YYYY-MM-DD", …]}`` or
    ``{"code", "time_zone", "continuous": true}``. Every holiday and workday must lie in one of
    ``years``; a date cannot be both; a workday must be a day ``weekly`` rests on.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if not isinstance(data, dict):
        raise CalendarError([((), "a calendar is a JSON object")])
    known = {"code", "name", "time_zone", "continuous", "weekly", "hours", "seasons", "years"}
    known |= {"holidays", "workdays"}
    for key in sorted(set(data) - known):
        problems.append(((key,), "unknown field"))
    code = data.get("code")
    if not isinstance(code, str) or not re.match(r"^[A-Za-z0-9_-]{1,32}$", code):
        problems.append((("code",), "1–32 letters, digits, '_' or '-'"))
        code = ""
    zone_name = data.get("time_zone", "Asia/Shanghai")
    try:
        if not isinstance(zone_name, str) or not _ZONE.match(zone_name):
            raise ValueError(zone_name)
        ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        problems.append((("time_zone",), f"unknown time zone {str(zone_name)[:64]!r}"))
        zone_name = "UTC"
    continuous = data.get("continuous", False)
    if not isinstance(continuous, bool):
        problems.append((("continuous",), "true or false"))
        continuous = False
    if continuous:
        extra = sorted(set(data) & {"weekly", "hours", "seasons", "years", "holidays", "workdays"})
        for key in extra:
            problems.append(((key,), "a continuous calendar has no days or hours"))
        if problems:
            raise CalendarError(problems)
        return WorkCalendar(code=code, time_zone=zone_name, continuous=True)

    weekly_raw = data.get("weekly", [1, 2, 3, 4, 5])
    if (
        not isinstance(weekly_raw, list)
        or not weekly_raw
        or not all(type(d) is int and 1 <= d <= 7 for d in weekly_raw)
    ):
        problems.append((("weekly",), "a non-empty list of ISO weekdays (1 = Monday … 7)"))
        weekly_raw = []
    weekly = frozenset(weekly_raw)
    hours = _periods(data.get("hours"), ("hours",), problems)
    seasons: list[Season] = []
    seasons_raw = data.get("seasons", [])
    if not isinstance(seasons_raw, list):
        problems.append((("seasons",), "a list"))
        seasons_raw = []
    for i, item in enumerate(seasons_raw):
        if not isinstance(item, dict):
            problems.append((("seasons", i), 'an object {"from", "to", "hours"}'))
            continue
        start, end = _month_day(item.get("from")), _month_day(item.get("to"))
        if start is None:
            problems.append((("seasons", i, "from"), "a month-day MM-DD"))
        if end is None:
            problems.append((("seasons", i, "to"), "a month-day MM-DD"))
        periods = _periods(item.get("hours"), ("seasons", i, "hours"), problems)
        if start is not None and end is not None and periods:
            seasons.append(Season(start, end, periods))

    years_raw = data.get("years")
    if (
        not isinstance(years_raw, list)
        or not years_raw
        or not all(type(y) is int and 1900 < y < 2200 for y in years_raw)
    ):
        problems.append((("years",), "a non-empty list of the years whose days this file gives"))
        years_raw = []
    years = frozenset(years_raw)
    days: dict[str, frozenset[date]] = {}
    for key in ("holidays", "workdays"):
        found: set[date] = set()
        raw = data.get(key, [])
        if not isinstance(raw, list):
            problems.append(((key,), "a list of YYYY-MM-DD dates"))
            raw = []
        for i, value in enumerate(raw):
            try:
                day = date.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                day = None
            if day is None or len(value) != 10:
                problems.append(((key, i), f"not a YYYY-MM-DD date: {value!r}"))
                continue
            if day.year not in years:
                problems.append(((key, i), f"{value} is not in the file's years"))
            elif key == "workdays" and day.isoweekday() in weekly:
                problems.append(((key, i), f"{value} works anyway (weekly); not a 调休 day"))
            elif day in found:
                problems.append(((key, i), f"{value} is listed twice"))
            found.add(day)
        days[key] = frozenset(found)
    for day in sorted(days["holidays"] & days["workdays"]):
        problems.append((("workdays",), f"{day.isoformat()} is both a holiday and a workday"))
    if problems:
        raise CalendarError(problems)
    return WorkCalendar(
        code=code,
        time_zone=zone_name,
        weekly=weekly,
        hours=hours,
        seasons=tuple(seasons),
        years=years,
        # a holiday on a day that rests anyway changes nothing: keep only the effective ones
        holidays=frozenset(d for d in days["holidays"] if d.isoweekday() in weekly),
        workdays=days["workdays"],
    )


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def calendar_json(calendar: WorkCalendar) -> dict[str, Any]:
    """The JSON form of a calendar (``parse_calendar`` reads it back unchanged)."""
    data: dict[str, Any] = {"code": calendar.code, "time_zone": calendar.time_zone}
    if calendar.continuous:
        return {**data, "continuous": True}
    return {
        **data,
        "weekly": sorted(calendar.weekly),
        "hours": [[_hhmm(a), _hhmm(b)] for a, b in calendar.hours],
        "seasons": [
            {
                "from": f"{s.start[0]:02d}-{s.start[1]:02d}",
                "to": f"{s.end[0]:02d}-{s.end[1]:02d}",
                "hours": [[_hhmm(a), _hhmm(b)] for a, b in s.periods],
            }
            for s in calendar.seasons
        ],
        "years": sorted(calendar.years),
        "holidays": sorted(d.isoformat() for d in calendar.holidays),
        "workdays": sorted(d.isoformat() for d in calendar.workdays),
    }


def merge_years(old: WorkCalendar, new: WorkCalendar) -> WorkCalendar:
    """``new`` (its zone, week and hours) with the days of ``old``'s other years kept: loading
    next year's file adds that year and leaves the years loaded before as they were."""
    if old.continuous or new.continuous:
        return new
    keep = old.years - new.years
    return WorkCalendar(
        code=new.code,
        time_zone=new.time_zone,
        weekly=new.weekly,
        hours=new.hours,
        seasons=new.seasons,
        years=keep | new.years,
        holidays=new.holidays | frozenset(d for d in old.holidays if d.year in keep),
        workdays=new.workdays | frozenset(d for d in old.workdays if d.year in keep),
    )
