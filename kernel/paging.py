"""Pages, cursors and windows: the checks every list makes, written once.

- A cursor is opaque to clients: the JSON of the last row's sort key, base64url without
  padding. ``decode_cursor`` accepts only what ``encode_cursor`` could have written for the
  given shape; anything else is ``Invalid`` naming ``cursor``.
- A window is a ``since``..``until`` pair (dates or instants): ``check_window`` refuses one
  that runs backwards, leaves the allowed range or is longer than allowed, naming the bound
  at fault.
- Limits are declared where requests are parsed (the routes), from the bounds here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator

from kernel.errors import Invalid, field_error

T = TypeVar("T")
W = TypeVar("W", date, datetime)

#: Items per page: the default, the most a page of objects (events, patrols) may hold, and the
#: most a page of table rows (statistics drill-downs and lists) may hold.
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ROWS_LIMIT = 500
#: The largest signed 64-bit integer: ids and counters in cursors stay within it.
MAX_BIGINT = 2**63 - 1


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


#: A bounding box in WGS-84 longitude and latitude: (min lon, min lat, max lon, max lat).
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class FeaturePage:
    """A page of GeoJSON features (as built by PostGIS) and how many matched in all."""

    features: list[dict[str, Any]]
    matched: int


def encode_cursor(key: Any) -> str:
    """The cursor of a sort key (JSON-serialisable: numbers, strings, None, lists of them)."""
    raw = json.dumps(key, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *parts: Callable[[Any], Any]) -> Any:
    """The sort key a cursor carries, checked part by part: one part for a plain value, several
    for a list of that many values. A part is a function that returns the value (converted) or
    raises ``ValueError`` / ``TypeError``; ``cursor_int``, ``cursor_text``, ``cursor_instant``
    and ``cursor_date`` are the usual ones."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if len(parts) == 1:
            return parts[0](key)
        if not isinstance(key, list) or len(key) != len(parts):
            raise ValueError("wrong shape")
        return [part(value) for part, value in zip(parts, key, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid(
            field_error("cursor", "not a cursor this service issued", "bad_cursor")
        ) from exc


def cursor_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_BIGINT:
        raise ValueError("not an id")
    return value


def cursor_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not a text")
    return value


def cursor_instant(value: Any) -> datetime | None:
    """An aware ISO 8601 instant, or None (rows without the sort value)."""
    if value is None:
        return None
    when = datetime.fromisoformat(cursor_text(value))
    if when.tzinfo is None:
        raise ValueError("naive")
    return when


def cursor_date(value: Any) -> date:
    return date.fromisoformat(cursor_text(value))


def check_window(
    since: W | None,
    until: W | None,
    *,
    names: Sequence[str] = ("since", "until"),
    earliest: W | None = None,
    latest: W | None = None,
    max_days: int | None = None,
) -> None:
    """``Invalid`` naming the bound at fault when the window runs backwards, lies outside
    ``earliest``..``latest`` or spans more than ``max_days`` days (both ends counted)."""
    for name, bound in zip(names, (since, until), strict=True):
        if bound is None:
            continue
        if (earliest is not None and bound < earliest) or (latest is not None and bound > latest):
            raise Invalid(field_error(name, f"{name} must be between {earliest} and {latest}"))
    if since is None or until is None:
        return
    if until < since:
        raise Invalid(field_error(names[1], f"{names[1]} is before {names[0]}"))
    if max_days is not None and _span(since, until) > timedelta(days=max_days):
        raise Invalid(field_error(names[1], f"the window is longer than {max_days} days"))


def _span(since: date | datetime, until: date | datetime) -> timedelta:
    if isinstance(since, datetime) or isinstance(until, datetime):
        assert isinstance(since, datetime) and isinstance(until, datetime)
        return until - since
    return until - since + timedelta(days=1)


def _plausible_day(value: date) -> date:
    if not 1970 <= value.year <= 2999:
        raise ValueError("date must lie between 1970-01-01 and 2999-12-31")
    return value


#: A calendar day a query may name: years 1970–2999 (day arithmetic near 0001 or 9999
#: overflows, and no record of this service lies outside).
Day = Annotated[date, AfterValidator(_plausible_day)]
