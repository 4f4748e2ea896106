"""Working-time arithmetic (``domain.calendar``): a hand-checked table over 2024–2026 on the
seeded Chinese calendar (every 调休 day, every holiday eve, lunch breaks, summer hours), the
fallback for years not loaded, the file's validation, and properties (adding then measuring
gives back the amount; monotonic; suspension never counts)."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import (
    CONTINUOUS,
    CalendarError,
    WorkCalendar,
    add_working,
    calendar_json,
    gap_years,
    merge_years,
    parse_calendar,
    working_between,
)
from domain.lifecycle import Action, Assignment, Category, Command, SlaPolicy, apply, open_event
from domain.roles import Role
from kernel.settings import ROOT
from tests.kit.data import cn_calendar

SH = ZoneInfo("Asia/Shanghai")
CN = cn_calendar()
MIN = timedelta(minutes=1)

# The hand-checked table: "start | working minutes | end", local (Asia/Shanghai) times on the
# seeded calendar: winter hours (Oct–Apr) 08:30–12:00 and 13:30–17:30, summer hours (May–Sep)
# 08:30–12:00 and 14:00–18:00: 450 minutes a day either way. Each line was worked out by hand
# from the State Council's schedule; the test checks add_working and working_between on it.
#
# 调休 working days (Saturdays and Sundays that work): the evening before, the lunch break, the
# end of the day into the next working day, the whole day.
TIAOXIU = """
2024-02-03 20:00 |  30 | 2024-02-04 09:00
2024-02-04 11:50 |  20 | 2024-02-04 13:40
2024-02-04 17:00 |  60 | 2024-02-05 09:00
2024-02-04 08:30 | 450 | 2024-02-04 17:30
2024-02-17 20:00 |  30 | 2024-02-18 09:00
2024-02-18 11:50 |  20 | 2024-02-18 13:40
2024-02-18 17:00 |  60 | 2024-02-19 09:00
2024-02-18 08:30 | 450 | 2024-02-18 17:30
2024-04-06 20:00 |  30 | 2024-04-07 09:00
2024-04-07 11:50 |  20 | 2024-04-07 13:40
2024-04-07 17:00 |  60 | 2024-04-08 09:00
2024-04-07 08:30 | 450 | 2024-04-07 17:30
2024-04-27 20:00 |  30 | 2024-04-28 09:00
2024-04-28 11:50 |  20 | 2024-04-28 13:40
2024-04-28 17:00 |  60 | 2024-04-29 09:00
2024-04-28 08:30 | 450 | 2024-04-28 17:30
2024-05-10 20:00 |  30 | 2024-05-11 09:00
2024-05-11 11:50 |  20 | 2024-05-11 14:10
2024-05-11 17:30 |  60 | 2024-05-13 09:00
2024-05-11 08:30 | 450 | 2024-05-11 18:00
2024-09-13 20:00 |  30 | 2024-09-14 09:00
2024-09-14 11:50 |  20 | 2024-09-14 14:10
2024-09-14 17:30 |  60 | 2024-09-18 09:00
2024-09-14 08:30 | 450 | 2024-09-14 18:00
2024-09-28 20:00 |  30 | 2024-09-29 09:00
2024-09-29 11:50 |  20 | 2024-09-29 14:10
2024-09-29 17:30 |  60 | 2024-09-30 09:00
2024-09-29 08:30 | 450 | 2024-09-29 18:00
2024-10-11 20:00 |  30 | 2024-10-12 09:00
2024-10-12 11:50 |  20 | 2024-10-12 13:40
2024-10-12 17:00 |  60 | 2024-10-14 09:00
2024-10-12 08:30 | 450 | 2024-10-12 17:30
2025-01-25 20:00 |  30 | 2025-01-26 09:00
2025-01-26 11:50 |  20 | 2025-01-26 13:40
2025-01-26 17:00 |  60 | 2025-01-27 09:00
2025-01-26 08:30 | 450 | 2025-01-26 17:30
2025-02-07 20:00 |  30 | 2025-02-08 09:00
2025-02-08 11:50 |  20 | 2025-02-08 13:40
2025-02-08 17:00 |  60 | 2025-02-10 09:00
2025-02-08 08:30 | 450 | 2025-02-08 17:30
2025-04-26 20:00 |  30 | 2025-04-27 09:00
2025-04-27 11:50 |  20 | 2025-04-27 13:40
2025-04-27 17:00 |  60 | 2025-04-28 09:00
2025-04-27 08:30 | 450 | 2025-04-27 17:30
2025-09-27 20:00 |  30 | 2025-09-28 09:00
2025-09-28 11:50 |  20 | 2025-09-28 14:10
2025-09-28 17:30 |  60 | 2025-09-29 09:00
2025-09-28 08:30 | 450 | 2025-09-28 18:00
2025-10-10 20:00 |  30 | 2025-10-11 09:00
2025-10-11 11:50 |  20 | 2025-10-11 13:40
2025-10-11 17:00 |  60 | 2025-10-13 09:00
2025-10-11 08:30 | 450 | 2025-10-11 17:30
2026-01-03 20:00 |  30 | 2026-01-04 09:00
2026-01-04 11:50 |  20 | 2026-01-04 13:40
2026-01-04 17:00 |  60 | 2026-01-05 09:00
2026-01-04 08:30 | 450 | 2026-01-04 17:30
2026-02-13 20:00 |  30 | 2026-02-14 09:00
2026-02-14 11:50 |  20 | 2026-02-14 13:40
2026-02-14 17:00 |  60 | 2026-02-24 09:00
2026-02-14 08:30 | 450 | 2026-02-14 17:30
2026-02-27 20:00 |  30 | 2026-02-28 09:00
2026-02-28 11:50 |  20 | 2026-02-28 13:40
2026-02-28 17:00 |  60 | 2026-03-02 09:00
2026-02-28 08:30 | 450 | 2026-02-28 17:30
2026-05-08 20:00 |  30 | 2026-05-09 09:00
2026-05-09 11:50 |  20 | 2026-05-09 14:10
2026-05-09 17:30 |  60 | 2026-05-11 09:00
2026-05-09 08:30 | 450 | 2026-05-09 18:00
2026-09-19 20:00 |  30 | 2026-09-20 09:00
2026-09-20 11:50 |  20 | 2026-09-20 14:10
2026-09-20 17:30 |  60 | 2026-09-21 09:00
2026-09-20 08:30 | 450 | 2026-09-20 18:00
2026-10-09 20:00 |  30 | 2026-10-10 09:00
2026-10-10 11:50 |  20 | 2026-10-10 13:40
2026-10-10 17:00 |  60 | 2026-10-12 09:00
2026-10-10 08:30 | 450 | 2026-10-10 17:30
"""

# Holiday eves (the last working day before each holiday): the last half hour into the first
# working day after, the afternoon plus the next morning, a minute past the whole day, and a
# minute asked for on the holiday itself.
EVES = """
2023-12-29 17:00 |  60 | 2024-01-02 09:00
2023-12-29 12:00 | 450 | 2024-01-02 12:00
2023-12-29 08:30 | 451 | 2024-01-02 08:31
2024-01-01 10:00 |   1 | 2024-01-02 08:31
2024-02-09 17:00 |  60 | 2024-02-18 09:00
2024-02-09 12:00 | 450 | 2024-02-18 12:00
2024-02-09 08:30 | 451 | 2024-02-18 08:31
2024-02-12 10:00 |   1 | 2024-02-18 08:31
2024-04-03 17:00 |  60 | 2024-04-07 09:00
2024-04-03 12:00 | 450 | 2024-04-07 12:00
2024-04-03 08:30 | 451 | 2024-04-07 08:31
2024-04-04 10:00 |   1 | 2024-04-07 08:31
2024-04-30 17:00 |  60 | 2024-05-06 09:00
2024-04-30 12:00 | 450 | 2024-05-06 12:00
2024-04-30 08:30 | 451 | 2024-05-06 08:31
2024-05-01 10:00 |   1 | 2024-05-06 08:31
2024-06-07 17:30 |  60 | 2024-06-11 09:00
2024-06-07 12:00 | 450 | 2024-06-11 12:00
2024-06-07 08:30 | 451 | 2024-06-11 08:31
2024-06-10 10:00 |   1 | 2024-06-11 08:31
2024-09-14 17:30 |  60 | 2024-09-18 09:00
2024-09-14 12:00 | 450 | 2024-09-18 12:00
2024-09-14 08:30 | 451 | 2024-09-18 08:31
2024-09-16 10:00 |   1 | 2024-09-18 08:31
2024-09-30 17:30 |  60 | 2024-10-08 09:00
2024-09-30 12:00 | 450 | 2024-10-08 12:00
2024-09-30 08:30 | 451 | 2024-10-08 08:31
2024-10-01 10:00 |   1 | 2024-10-08 08:31
2024-12-31 17:00 |  60 | 2025-01-02 09:00
2024-12-31 12:00 | 450 | 2025-01-02 12:00
2024-12-31 08:30 | 451 | 2025-01-02 08:31
2025-01-01 10:00 |   1 | 2025-01-02 08:31
2025-01-27 17:00 |  60 | 2025-02-05 09:00
2025-01-27 12:00 | 450 | 2025-02-05 12:00
2025-01-27 08:30 | 451 | 2025-02-05 08:31
2025-01-28 10:00 |   1 | 2025-02-05 08:31
2025-04-03 17:00 |  60 | 2025-04-07 09:00
2025-04-03 12:00 | 450 | 2025-04-07 12:00
2025-04-03 08:30 | 451 | 2025-04-07 08:31
2025-04-04 10:00 |   1 | 2025-04-07 08:31
2025-04-30 17:00 |  60 | 2025-05-06 09:00
2025-04-30 12:00 | 450 | 2025-05-06 12:00
2025-04-30 08:30 | 451 | 2025-05-06 08:31
2025-05-01 10:00 |   1 | 2025-05-06 08:31
2025-05-30 17:30 |  60 | 2025-06-03 09:00
2025-05-30 12:00 | 450 | 2025-06-03 12:00
2025-05-30 08:30 | 451 | 2025-06-03 08:31
2025-06-02 10:00 |   1 | 2025-06-03 08:31
2025-09-30 17:30 |  60 | 2025-10-09 09:00
2025-09-30 12:00 | 450 | 2025-10-09 12:00
2025-09-30 08:30 | 451 | 2025-10-09 08:31
2025-10-01 10:00 |   1 | 2025-10-09 08:31
2025-12-31 17:00 |  60 | 2026-01-04 09:00
2025-12-31 12:00 | 450 | 2026-01-04 12:00
2025-12-31 08:30 | 451 | 2026-01-04 08:31
2026-01-01 10:00 |   1 | 2026-01-04 08:31
2026-02-14 17:00 |  60 | 2026-02-24 09:00
2026-02-14 12:00 | 450 | 2026-02-24 12:00
2026-02-14 08:30 | 451 | 2026-02-24 08:31
2026-02-16 10:00 |   1 | 2026-02-24 08:31
2026-04-03 17:00 |  60 | 2026-04-07 09:00
2026-04-03 12:00 | 450 | 2026-04-07 12:00
2026-04-03 08:30 | 451 | 2026-04-07 08:31
2026-04-06 10:00 |   1 | 2026-04-07 08:31
2026-04-30 17:00 |  60 | 2026-05-06 09:00
2026-04-30 12:00 | 450 | 2026-05-06 12:00
2026-04-30 08:30 | 451 | 2026-05-06 08:31
2026-05-01 10:00 |   1 | 2026-05-06 08:31
2026-06-18 17:30 |  60 | 2026-06-22 09:00
2026-06-18 12:00 | 450 | 2026-06-22 12:00
2026-06-18 08:30 | 451 | 2026-06-22 08:31
2026-06-19 10:00 |   1 | 2026-06-22 08:31
2026-09-24 17:30 |  60 | 2026-09-28 09:00
2026-09-24 12:00 | 450 | 2026-09-28 12:00
2026-09-24 08:30 | 451 | 2026-09-28 08:31
2026-09-25 10:00 |   1 | 2026-09-28 08:31
2026-09-30 17:30 |  60 | 2026-10-08 09:00
2026-09-30 12:00 | 450 | 2026-10-08 12:00
2026-09-30 08:30 | 451 | 2026-10-08 08:31
2026-10-01 10:00 |   1 | 2026-10-08 08:31
"""

# Lunch breaks and the ends of the day, winter (2025-03-12, a Wednesday) and summer
# (2025-07-16, a Wednesday); weekends; several days over a holiday.
BOUNDARIES = """
2025-03-12 11:59 |   1 | 2025-03-12 12:00
2025-03-12 12:00 |   1 | 2025-03-12 13:31
2025-03-12 11:59 |   2 | 2025-03-12 13:31
2025-03-12 12:30 |   0 | 2025-03-12 12:30
2025-03-12 12:30 |   1 | 2025-03-12 13:31
2025-03-12 13:29 |   1 | 2025-03-12 13:31
2025-03-12 13:30 |   1 | 2025-03-12 13:31
2025-03-12 13:29 |  30 | 2025-03-12 14:00
2025-03-12 08:00 |   1 | 2025-03-12 08:31
2025-03-12 08:29 |   1 | 2025-03-12 08:31
2025-03-12 08:30 | 210 | 2025-03-12 12:00
2025-03-12 08:30 | 211 | 2025-03-12 13:31
2025-03-12 17:29 |   1 | 2025-03-12 17:30
2025-03-12 17:30 |   1 | 2025-03-13 08:31
2025-03-12 08:30 | 450 | 2025-03-12 17:30
2025-03-12 08:30 | 451 | 2025-03-13 08:31
2025-03-12 12:00 | 240 | 2025-03-12 17:30
2025-03-12 11:00 | 120 | 2025-03-12 14:30
2025-03-12 23:59 |   1 | 2025-03-13 08:31
2025-03-12 00:00 | 450 | 2025-03-12 17:30
2025-07-16 11:59 |   1 | 2025-07-16 12:00
2025-07-16 12:00 |   1 | 2025-07-16 14:01
2025-07-16 13:30 |   1 | 2025-07-16 14:01
2025-07-16 13:59 |   1 | 2025-07-16 14:01
2025-07-16 14:00 |   1 | 2025-07-16 14:01
2025-07-16 17:29 |   1 | 2025-07-16 17:30
2025-07-16 17:59 |   1 | 2025-07-16 18:00
2025-07-16 18:00 |   1 | 2025-07-17 08:31
2025-07-16 08:30 | 450 | 2025-07-16 18:00
2025-07-16 12:00 | 240 | 2025-07-16 18:00
2025-07-16 11:00 | 120 | 2025-07-16 15:00
2025-03-14 17:00 |  60 | 2025-03-17 09:00
2025-03-15 10:00 |   1 | 2025-03-17 08:31
2025-07-18 17:30 |  60 | 2025-07-21 09:00
2025-09-30 08:30 | 1350 | 2025-10-10 17:30
2025-01-27 08:30 | 900 | 2025-02-05 17:30
2024-02-09 13:30 | 690 | 2024-02-18 17:30
2025-03-12 08:30 | 2250 | 2025-03-18 17:30
"""

# working_between only: whole holidays measure nothing; a fortnight around 国庆 2025.
MEASURED = """
2025-10-01 00:00 | 0 | 2025-10-09 00:00
2024-02-10 00:00 | 0 | 2024-02-18 00:00
2025-09-28 00:00 | 2700 | 2025-10-12 00:00
2025-03-15 00:00 | 0 | 2025-03-17 08:30
2026-02-13 12:00 | 900 | 2026-02-24 12:00
2024-10-01 00:00 | 0 | 2024-10-08 00:00
2025-01-26 00:00 | 450 | 2025-01-27 00:00
2026-02-14 12:00 | 270 | 2026-02-24 09:00
2025-05-06 11:00 | 120 | 2025-05-06 15:00
2025-04-30 17:00 | 60 | 2025-05-06 09:00
2024-09-14 17:59 | 2 | 2024-09-18 08:31
"""


def _local(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=SH)


def _rows(table: str) -> list[tuple[datetime, int, datetime]]:
    rows = []
    for line in table.strip().splitlines():
        start, minutes, end = line.split("|")
        rows.append((_local(start), int(minutes), _local(end)))
    return rows


ADDED = _rows(TIAOXIU) + _rows(EVES) + _rows(BOUNDARIES)


def test_the_table_is_large_and_reaches_every_special_day() -> None:
    assert len(ADDED) + len(_rows(MEASURED)) >= 200
    tiaoxiu = {d for d in CN.workdays if 2024 <= d.year <= 2026}
    touched = {start.date() for start, _, _ in ADDED} | {end.date() for _, _, end in ADDED}
    assert tiaoxiu <= touched  # every 调休 day of 2024–2026


@pytest.mark.parametrize(("start", "minutes", "end"), ADDED, ids=lambda v: str(v))
def test_hand_checked_additions(start: datetime, minutes: int, end: datetime) -> None:
    assert add_working(CN, start, minutes * MIN).astimezone(SH) == end
    assert working_between(CN, start, end) == minutes * MIN


@pytest.mark.parametrize(("start", "minutes", "end"), _rows(MEASURED), ids=lambda v: str(v))
def test_hand_checked_measures(start: datetime, minutes: int, end: datetime) -> None:
    assert working_between(CN, start, end) == minutes * MIN


def test_continuous_is_wall_clock() -> None:
    start = datetime(2025, 10, 1, 3, 7, tzinfo=UTC)
    assert add_working(CONTINUOUS, start, timedelta(hours=50)) == start + timedelta(hours=50)
    assert working_between(CONTINUOUS, start, start + timedelta(days=3)) == timedelta(days=3)
    assert gap_years(CONTINUOUS, start, start + timedelta(days=3000)) == frozenset()


def test_a_year_not_loaded_uses_the_documented_fallback() -> None:
    """No guessing: 2027 is not loaded, so its days count whole (00:00–24:00), which can only
    bring a deadline earlier; gap_years names the year so the caller raises the alarm."""
    assert not CN.knows(2027)
    start = _local("2026-12-31 17:00")
    end = add_working(CN, start, 60 * MIN)
    assert end.astimezone(SH) == _local("2027-01-01 00:30")
    assert gap_years(CN, start, end) == frozenset({2027})
    assert gap_years(CN, start, start + MIN) == frozenset()
    assert add_working(CN, _local("2027-01-01 23:00"), 120 * MIN) == _local("2027-01-02 01:00")


# --- the file -----------------------------------------------------------------------------


def test_the_seed_is_what_chinesecalendar_says() -> None:
    spec = importlib.util.spec_from_file_location(
        "seed", ROOT / "scripts" / "calendar_from_chinesecalendar.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seeded = json.loads((ROOT / "data" / "calendars" / "cn.json").read_text(encoding="utf-8"))
    assert seeded == module.seed()
    assert {2024, 2025, 2026} <= CN.years


def test_json_round_trip() -> None:
    assert parse_calendar(calendar_json(CN)) == CN
    assert parse_calendar(calendar_json(CONTINUOUS)) == CONTINUOUS


def _problems(data: object) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(CalendarError) as caught:
        parse_calendar(data)
    return list(caught.value.problems)


def test_invalid_files_name_every_problem() -> None:
    base = {"code": "x", "hours": [["08:30", "12:00"]], "years": [2027]}
    assert parse_calendar(base).years == frozenset({2027})
    found = _problems(
        {
            **base,
            "code": "bad code!",
            "time_zone": "Mars/Olympus",
            "hours": [["09:00", "08:00"], ["25:00", "26:00"]],
            "holidays": ["2026-10-01", "2027-02-30", "2027-02-11", "2027-02-11"],
            "workdays": ["2027-02-11", "2027-02-08"],
            "seasons": [{"from": "13-01", "to": "09-30", "hours": []}],
            "colour": "red",
        }
    )
    locs = [loc for loc, _ in found]
    assert ("colour",) in locs and ("code",) in locs and ("time_zone",) in locs
    assert ("hours", 0) in locs and ("hours", 1) in locs
    assert ("holidays", 0) in locs  # not in the file's years
    assert ("holidays", 1) in locs  # no such date
    assert ("holidays", 3) in locs  # twice
    assert ("workdays", 1) in locs  # a Monday works anyway
    assert ("workdays",) in locs  # both a holiday and a workday
    assert ("seasons", 0, "from") in locs and ("seasons", 0, "hours") in locs
    assert ("years",) in [loc for loc, _ in _problems({"code": "x", "hours": base["hours"]})]
    overlapping = {**base, "hours": [["08:00", "12:00"], ["11:00", "13:00"]]}
    assert _problems(overlapping)[0][0] == ("hours", 1)
    assert _problems({"code": "x", "continuous": True, "years": [2027]})[0][0] == ("years",)
    assert _problems([1, 2])[0][0] == ()
    for zone in ("", "a" * 1000, "../x", "Asia/Shanghai/", 5):
        assert _problems({**base, "time_zone": zone})[0][0] == ("time_zone",)
    assert _problems({**base, "weekly": []})[0][0] == ("weekly",)


def test_loading_next_year_keeps_the_years_before() -> None:
    next_year = parse_calendar(
        {
            "code": "cn",
            "hours": [["09:00", "17:00"]],
            "years": [2027],
            "holidays": ["2027-01-01"],
            "workdays": ["2027-01-02"],
        }
    )
    merged = merge_years(CN, next_year)
    assert merged.years == CN.years | {2027}
    assert merged.hours == ((540, 1020),)
    assert not merged.is_working_day(_local("2027-01-01 00:00").date())
    assert merged.is_working_day(_local("2027-01-02 00:00").date())
    assert not merged.is_working_day(_local("2025-10-08 00:00").date())  # 2025 kept
    assert merged.is_working_day(_local("2025-10-11 00:00").date())


def test_daylight_saving_zones_count_real_minutes() -> None:
    """In a zone with summer time the short night still has working hours of wall time."""
    berlin = parse_calendar(
        {
            "code": "de",
            "time_zone": "Europe/Berlin",
            "weekly": [1, 2, 3, 4, 5, 6, 7],
            "hours": [["01:00", "04:00"]],
            "years": [2025],
        }
    )
    start = datetime(2025, 3, 30, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # 02:00 → 03:00
    # 01:00–04:00 wall on the switch day is two real hours
    assert working_between(berlin, start, start + timedelta(days=1)) == timedelta(hours=2)


# --- properties ---------------------------------------------------------------------------

SUMMER = parse_calendar(
    {
        "code": "odd",
        "time_zone": "Asia/Urumqi",
        "weekly": [2, 4, 6],
        "hours": [["00:00", "00:05"], ["07:15", "11:45"], ["23:00", "24:00"]],
        "seasons": [{"from": "11-15", "to": "02-10", "hours": [["10:00", "15:00"]]}],
        "years": [2024, 2025, 2026],
        "holidays": ["2025-01-02"],
        "workdays": ["2025-01-05"],
    }
)
CALENDARS = st.sampled_from([CN, CONTINUOUS, SUMMER])
INSTANTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)
)
AMOUNTS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=12))


@settings(max_examples=300, deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, amount=AMOUNTS)
def test_adding_then_measuring_gives_back_the_amount(
    calendar: WorkCalendar, start: datetime, amount: timedelta
) -> None:
    end = add_working(calendar, start, amount)
    assert end >= start
    assert working_between(calendar, start, end) == amount
    if amount > timedelta(0):  # the deadline is the end of working time, never inside a pause
        tick = timedelta(microseconds=1)
        assert working_between(calendar, end - tick, end) == tick


@settings(max_examples=300, deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, a=AMOUNTS, b=AMOUNTS)
def test_monotonic_and_additive(
    calendar: WorkCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    small, large = sorted((a, b))
    assert add_working(calendar, start, small) <= add_working(calendar, start, large)
    middle = add_working(calendar, start, a)
    assert add_working(calendar, middle, b) == add_working(calendar, start, a + b)
    first, second = sorted((start + a, start + a + b))
    assert working_between(calendar, start, second) == working_between(
        calendar, start, first
    ) + working_between(calendar, first, second)


@settings(max_examples=200, deadline=None)
@given(
    calendar=CALENDARS,
    start=INSTANTS,
    allowance=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=5)),
    run=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4)),
    pause=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)),
)
def test_suspension_never_counts(
    calendar: WorkCalendar,
    start: datetime,
    allowance: timedelta,
    run: timedelta,
    pause: timedelta,
) -> None:
    """Dispatch, suspend, resume: the working time from dispatch to the new deadline, less the
    working time suspended, is the allowance (or the deadline had already passed)."""
    minutes = allowance / MIN
    policy = SlaPolicy(
        category=Category("c", ack_minutes=minutes, resolve_minutes=minutes), calendar=calendar
    )
    state = open_event(event_id="1", policy=policy, now=start, reporter_id="9").state
    state = apply(
        state,
        Command(Action.DISPATCH, "9", assignment=Assignment(0, "7", Role.MEMBER)),
        now=start,
        policy=policy,
    ).state
    suspended_at, resumed_at = start + run, start + run + pause
    state = apply(state, Command(Action.SUSPEND, "9"), now=suspended_at, policy=policy).state
    state = apply(state, Command(Action.RESUME, "9"), now=resumed_at, policy=policy).state
    assert state.due_at is not None
    counted = working_between(calendar, start, state.due_at) - working_between(
        calendar, suspended_at, resumed_at
    )
    if working_between(calendar, start, suspended_at) < allowance:
        assert counted == allowance
    else:  # overdue when suspended: nothing left, the deadline is the resume
        assert state.due_at == resumed_at
    # the marks stay in order
    marks = [state.resolve_warn50_at, state.resolve_warn75_at, state.due_at]
    assert all(m is not None for m in marks)
    assert marks == sorted(m for m in marks if m is not None)


def test_dispatch_on_a_working_calendar_sets_marks_in_working_time() -> None:
    policy = SlaPolicy(category=Category("c", ack_minutes=60, resolve_minutes=450), calendar=CN)
    now = _local("2025-09-30 17:30").astimezone(UTC)  # summer hours: half an hour left
    state = open_event(event_id="1", policy=policy, now=now, reporter_id="9").state
    decision = apply(
        state,
        Command(Action.DISPATCH, "9", assignment=Assignment(0, "7", Role.MEMBER)),
        now=now,
        policy=policy,
    )
    s = decision.state
    local = {
        name: getattr(s, name).astimezone(SH).strftime("%m-%d %H:%M")
        for name in ("ack_warn50_at", "ack_warn75_at", "ack_due_at", "resolve_warn50_at", "due_at")
    }
    assert local == {
        "ack_warn50_at": "09-30 18:00",
        "ack_warn75_at": "10-09 08:45",
        "ack_due_at": "10-09 09:00",
        "resolve_warn50_at": "10-09 11:45",  # 60 of 30 + 195: 08:30 + 195 min
        "due_at": "10-09 17:00",
    }
    assert not s.clock_fallback
    fired = {t.kind.value: t.fire_at for t in decision.timers if t.fire_at is not None}
    assert fired["resolve_breach"] == s.due_at
    # deadlines reaching 2027 (not loaded) raise the flag
    end_of_year = _local("2026-12-31 17:00").astimezone(UTC)
    opened = open_event(event_id="2", policy=policy, now=end_of_year, reporter_id="9")
    flagged = apply(
        opened.state,
        Command(Action.DISPATCH, "9", assignment=Assignment(0, "7", Role.MEMBER)),
        now=end_of_year,
        policy=policy,
    ).state
    assert flagged.clock_fallback
    assert flagged.due_at == _local("2027-01-01 07:00")
