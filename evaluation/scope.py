"""The window and filters of a statistics request: report days (in the service's time zone)
and an optional subdistrict / grid / community / category, checked and turned into ids."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import text
from sqlmodel import Session

from kernel.errors import Invalid, field_error
from kernel.paging import check_window
from kernel.settings import get_settings

#: The longest window a request may ask for, and the days a window may cover.
MAX_WINDOW_DAYS = 3 * 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


@dataclass(frozen=True)
class Scope:
    """A window of report days and optional subdistrict / grid / community / category filters."""

    since: date
    until: date
    subdistrict: str | None = None
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
        out = {
            "subdistrict": self.subdistrict,
            "grid": self.grid,
            "community": self.community,
            "category": self.category,
        }
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
    """Check the window and turn codes into ids; ``Invalid`` naming the parameter at fault."""
    scope = with_place(session, window(since, until), grid=grid, community=community)
    return with_category(session, scope, category)


def window(since: date, until: date) -> Scope:
    """A window of report days over the whole map, checked."""
    check_window(since, until, earliest=FIRST_DAY, latest=LAST_DAY, max_days=MAX_WINDOW_DAYS)
    return Scope(since, until)


def with_place(
    session: Session,
    scope: Scope,
    *,
    grid: str | None,
    community: str | None,
    subdistrict: str | None = None,
) -> Scope:
    """``scope`` narrowed to one grid, one community (code or name) or one subdistrict (code)."""
    given = [name for name, v in (("grid", grid), ("community", community)) if v is not None]
    if subdistrict is not None and given:
        raise Invalid(field_error("subdistrict", f"give subdistrict or {given[0]}, not both"))
    if grid is not None and community is not None:
        raise Invalid(field_error("community", "give grid or community, not both"))
    if subdistrict is not None:
        grid_ids = tuple(
            session.execute(
                text(
                    "SELECT g.id FROM grid g JOIN subdistrict s ON s.id = g.subdistrict_id"
                    " WHERE s.code = :c ORDER BY g.id"
                ),
                {"c": subdistrict},
            ).scalars()
        )
        if not grid_ids:
            raise Invalid(field_error("subdistrict", f"no subdistrict with code {subdistrict!r}"))
        return replace(scope, subdistrict=subdistrict, grid_ids=grid_ids)
    if grid is not None:
        row = session.execute(text("SELECT id FROM grid WHERE code = :c"), {"c": grid}).first()
        if row is None:
            raise Invalid(field_error("grid", f"no grid with code {grid!r}"))
        return replace(scope, grid=grid, grid_ids=(int(row[0]),))
    if community is not None:
        rows = session.execute(
            text("SELECT id FROM community WHERE code = :c OR name = :c ORDER BY code = :c DESC"),
            {"c": community},
        ).all()
        if not rows:
            raise Invalid(field_error("community", f"no community with code or name {community!r}"))
        if len(rows) > 1 and not community.isdigit():
            raise Invalid(
                field_error(
                    "community",
                    f"{community!r} names a community in several subdistricts: give its code",
                )
            )
        row = rows[0]
        grid_ids = tuple(
            session.execute(
                text("SELECT id FROM grid WHERE community_id = :c ORDER BY id"), {"c": row[0]}
            ).scalars()
        )
        return replace(scope, community=community, grid_ids=grid_ids)
    return scope


def with_category(session: Session, scope: Scope, category: str | None) -> Scope:
    """``scope`` narrowed to one category (by code)."""
    if category is None:
        return scope
    row = session.execute(text("SELECT id FROM category WHERE code = :c"), {"c": category}).first()
    if row is None:
        raise Invalid(field_error("category", f"no category {category!r}"))
    return replace(scope, category=category, category_id=int(row[0]))


def bounds(scope: Scope) -> tuple[datetime, datetime]:
    """The instants that bound the window's days in the service's time zone (start
    inclusive)."""
    start = datetime.combine(scope.since, time(), tzinfo=get_settings().tz)
    end = datetime.combine(scope.until + timedelta(days=1), time(), tzinfo=get_settings().tz)
    return start, end


def no_jit(session: Session) -> None:
    """These reads are short: PostgreSQL's JIT compiling them costs more than it saves."""
    session.execute(text("SET LOCAL jit = off"))
