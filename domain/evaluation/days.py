"""Report days and the aligned blocks of days the sealed statistics cover.

A day is a calendar day in the service's time zone (``WANGGE_TIMEZONE``), numbered from
1970-01-01. Blocks are aligned runs of 2^k days; any window is a union of at most two blocks per
level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

#: Sealed blocks go up to 2^MAX_BLOCK_LEVEL days (the trigger invalidates levels 0..10).
MAX_BLOCK_LEVEL = 10
EPOCH = date(1970, 1, 1)


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
    subdistrict = "subdistrict"
    category = "category"
    level = "level"
    day = "day"
    week = "week"
    month = "month"

    @property
    def is_time(self) -> bool:
        return self in (GroupBy.day, GroupBy.week, GroupBy.month)

    @property
    def is_place(self) -> bool:
        """A grouping of grids (each grid belongs to one group)."""
        return self in (GroupBy.grid, GroupBy.community, GroupBy.subdistrict)


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


def window_label(since: date, until: date) -> str:
    """The name a published report gives its window: ``2026年`` (a calendar year),
    ``2026年10月`` (a month), ``2026年第4季度`` (a quarter), else ``2026-10-01至2026-10-15``."""
    following = until + timedelta(days=1)
    if since.day == 1 and following.day == 1:
        months = (following.year - since.year) * 12 + following.month - since.month
        if months == 12 and since.month == 1:
            return f"{since.year}年"
        if months == 3 and since.month % 3 == 1:
            return f"{since.year}年第{since.month // 3 + 1}季度"
        if months == 1:
            return f"{since.year}年{since.month}月"
    return f"{since.isoformat()}至{until.isoformat()}"


_LABEL = re.compile(
    r"(?P<y>\d{4})年(?:(?P<m>\d{1,2})月|第(?P<q>[1-4])季度)?"
    r"|(?P<a>\d{4}-\d{2}-\d{2})至(?P<b>\d{4}-\d{2}-\d{2})"
)


def label_window(label: str) -> tuple[date, date]:
    """The days a window label names (the inverse of ``window_label``); ValueError if none."""
    m = _LABEL.fullmatch(label.strip())
    if m is None:
        raise ValueError(f"not a window label: {label!r}")
    if m["a"]:
        return date.fromisoformat(m["a"]), date.fromisoformat(m["b"])
    year = int(m["y"])
    if m["m"]:
        first, months = date(year, int(m["m"]), 1), 1
    elif m["q"]:
        first, months = date(year, 3 * int(m["q"]) - 2, 1), 3
    else:
        first, months = date(year, 1, 1), 12
    end_month = first.month - 1 + months
    following = date(first.year + end_month // 12, end_month % 12 + 1, 1)
    return first, following - timedelta(days=1)
