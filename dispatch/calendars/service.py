"""All SQL of the working calendars: loading a file (validated, merged by year), reading one for
the dispatch core, checking that a calendar knows the years a category will need.

Processes keep each parsed calendar by code and revision, so a load is seen by the next
transaction that reads the calendar (one small query) and parsing happens once per revision.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import text
from sqlmodel import Session, col, select

from dispatch.calendars.models import WorkCalendarRow
from domain.calendar import CalendarError, WorkCalendar, calendar_json, merge_years, parse_calendar
from kernel.errors import Invalid, NotFound, field_error
from kernel.settings import get_settings

_parsed: dict[tuple[str, int], WorkCalendar] = {}
_lock = threading.Lock()


def _invalid(exc: CalendarError, prefix: tuple[str | int, ...] = ()) -> Invalid:
    return Invalid(
        [{"loc": [*prefix, *loc], "msg": msg, "type": "value_error"} for loc, msg in exc.problems]
    )


def _parse(code: str, revision: int, spec: dict[str, Any]) -> WorkCalendar:
    key = (code, revision)
    with _lock:
        found = _parsed.get(key)
    if found is None:
        found = parse_calendar(spec)
        with _lock:
            _parsed[key] = found
    return found


def calendars(session: Session, codes: Iterable[str]) -> dict[str, WorkCalendar]:
    """The named calendars as they are now (one query)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = session.exec(
        select(WorkCalendarRow.code, WorkCalendarRow.revision, WorkCalendarRow.spec).where(
            col(WorkCalendarRow.code).in_(wanted)
        )
    ).all()
    return {code: _parse(code, revision, dict(spec)) for code, revision, spec in rows}


async def read_calendars(
    conn: AsyncConnection[Any], codes: Iterable[str]
) -> dict[str, WorkCalendar]:
    """``calendars`` on the async pool (the API's in-memory catalogue of categories)."""
    cursor = await conn.execute(
        "SELECT code, revision, spec FROM work_calendar WHERE code = ANY(%(codes)s)",
        {"codes": sorted(set(codes))},
    )
    return {code: _parse(code, rev, dict(spec)) for code, rev, spec in await cursor.fetchall()}


def get_calendar(session: Session, code: str) -> WorkCalendar:
    found = calendars(session, [code]).get(code)
    if found is None:
        raise NotFound(field_error("code", f"no calendar {code!r}"))
    return found


def list_calendars(session: Session) -> list[dict[str, Any]]:
    """Every calendar: code, name, zone, the years it knows, revision, when loaded, and which
    categories use it."""
    rows = session.execute(
        text("""
        SELECT c.code, c.name, c.revision, c.loaded_at, c.spec,
               coalesce(array_agg(k.code ORDER BY k.code) FILTER (WHERE k.code IS NOT NULL), '{}')
        FROM work_calendar c LEFT JOIN category k
          ON k.calendar = c.code
          OR c.code IN (SELECT value FROM jsonb_each_text(k.level_calendars))
        GROUP BY c.code ORDER BY c.code
        """)
    ).all()
    out: list[dict[str, Any]] = []
    for code, name, revision, loaded_at, spec, used_by in rows:
        calendar = _parse(code, revision, spec)
        out.append(
            {
                "code": code,
                "name": name,
                "time_zone": calendar.time_zone,
                "continuous": calendar.continuous,
                "years": sorted(calendar.years),
                "revision": revision,
                "loaded_at": loaded_at,
                "categories": list(used_by),
            }
        )
    return out


def check_covers(
    calendar: WorkCalendar, now: datetime, *, field: str | tuple[str | int, ...] = "calendar"
) -> None:
    """Refuse (422) a calendar that does not know the current year in its zone: categories can
    only choose a calendar their deadlines can be computed on today (no guessing)."""
    year = calendar.local_day(now).year
    if not calendar.knows(year):
        raise Invalid(
            field_error(
                field,
                f"calendar {calendar.code!r} has no days loaded for {year} "
                f"(loaded: {', '.join(map(str, sorted(calendar.years))) or 'none'}); "
                "load the year first (wangge calendar load FILE)",
            )
        )


def load_calendar(session: Session, data: Any, *, now: datetime) -> dict[str, Any]:
    """Validate a calendar's JSON form and store it: a new code is created, a known one gets the
    file's zone, week and hours and the file's years (other loaded years are kept). Refused
    (422, every problem listed) when the file is invalid. Does not commit."""
    try:
        new = parse_calendar(data)
    except CalendarError as exc:
        raise _invalid(exc) from exc
    name = data.get("name") if isinstance(data, dict) else None
    row = session.exec(
        select(WorkCalendarRow).where(col(WorkCalendarRow.code) == new.code).with_for_update()
    ).one_or_none()
    if row is None:
        merged = new
        row = WorkCalendarRow(
            code=new.code,
            name=str(name or new.code)[:64],
            spec=calendar_json(merged),
            loaded_at=now,
        )
        created = True
    else:
        old = parse_calendar(row.spec)
        if old.continuous != new.continuous:
            raise Invalid(
                field_error("continuous", f"calendar {new.code!r} cannot change its kind")
            )
        merged = merge_years(old, new)  # never drops a year: categories keep theirs
        spec = calendar_json(merged)
        if spec != row.spec or (name and name != row.name):  # reloading the same file: no-op
            row.spec = spec
            row.revision += 1
            row.name = str(name or row.name)[:64]
            row.loaded_at = now
        created = False
    session.add(row)
    session.flush()
    return {
        "code": merged.code,
        "created": created,
        "years": sorted(merged.years),
        "revision": row.revision,
    }


def load_calendar_file(session: Session, path: Path, *, now: datetime) -> dict[str, Any]:
    """``load_calendar`` for a JSON file (a bad file is a 422 naming the problem)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(field_error("file", f"cannot read {path}: {exc}")) from exc
    return load_calendar(session, data, now=now)


def load_seed_calendars(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """The seeded calendars (``data/calendars/*.json``), for ``wangge load-data``."""
    folder = get_settings().data_dir / "calendars"
    return [load_calendar_file(session, p, now=now) for p in sorted(folder.glob("*.json"))]
