"""The window and filters of a statistics request: report days (in the service's time zone)
and an optional grid / community / category, checked and turned into ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import text
from sqlmodel import Session

from kernel.errors import Invalid, field_error
from kernel.settings import get_settings

#: The longest window a request may ask for, and the days a window may cover.
MAX_WINDOW_DAYS = 3 * 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


@dataclass(frozen=True)
class Scope:
    """A window of report days and optional grid / community / category filters."""

    since: date
    until: date
    grid: str | None = None
    community: str | None = None
    category: str | None = None
    grid_ids: tuple[int, ...] | None = None
    category_id: int | None = None

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def filtered_by_place(self) -> bool:
        return self.grid_ids is not None

    def filters(self) -> dict[str, str]:
        out = {"grid": self.grid, "community": self.community, "category": self.category}
        return {k: v for k, v in out.items() if v is not None}


def resolve_scope(
    session: Session,
    *,
    since: date,
    until: date,
    grid: str | None = None,
    community: str | None = None,
    category: str | None = None,
) -> Scope:
    """Check the window and turn codes into ids; 422 naming the parameter at fault."""
    for name, day in (("since", since), ("until", until)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise Invalid(field_error(name, f"{name} must be between {FIRST_DAY} and {LAST_DAY}"))
    if until < since:
        raise Invalid(field_error("until", "until is before since"))
    if (until - since).days + 1 > MAX_WINDOW_DAYS:
        raise Invalid(field_error("until", f"the window is longer than {MAX_WINDOW_DAYS} days"))
    if grid is not None and community is not None:
        raise Invalid(field_error("community", "give grid or community, not both"))
    grid_ids: tuple[int, ...] | None = None
    if grid is not None:
        row = session.execute(text("SELECT id FROM grid WHERE code = :c"), {"c": grid}).first()
        if row is None:
            raise Invalid(field_error("grid", f"no grid with code {grid!r}"))
        grid_ids = (int(row[0]),)
    if community is not None:
        row = session.execute(
            text("SELECT id FROM community WHERE code = :c OR name = :c"), {"c": community}
        ).first()
        if row is None:
            raise Invalid(field_error("community", f"no community with code or name {community!r}"))
        grid_ids = tuple(
            session.execute(
                text("SELECT id FROM grid WHERE community_id = :c ORDER BY id"), {"c": row[0]}
            ).scalars()
        )
    category_id: int | None = None
    if category is not None:
        row = session.execute(
            text("SELECT id FROM category WHERE code = :c"), {"c": category}
        ).first()
        if row is None:
            raise Invalid(field_error("category", f"no category {category!r}"))
        category_id = int(row[0])
    return Scope(since, until, grid, community, category, grid_ids, category_id)


def bounds(scope: Scope) -> tuple[datetime, datetime]:
    """The instants that bound the window's days in the service's time zone (start
    inclusive)."""
    start = datetime.combine(scope.since, time(), tzinfo=get_settings().tz)
    end = datetime.combine(scope.until + timedelta(days=1), time(), tzinfo=get_settings().tz)
    return start, end


def no_jit(session: Session) -> None:
    """These reads are short: PostgreSQL's JIT compiling them costs more than it saves."""
    session.execute(text("SET LOCAL jit = off"))
