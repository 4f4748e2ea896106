"""The simulated world: the loaded map, roster and categories (plus synthetic grids for benches).

Times in the simulator are integers, microseconds since the epoch (``to_us`` / ``from_us``): the
random model and the bulk writer's arithmetic need them exact and cheap.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import shapely
from sqlalchemy import text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from dispatch import store
from dispatch.categories.models import Category
from domain.calendar import CONTINUOUS
from domain.lifecycle import SlaPolicy
from domain.roles import LEVELS

EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000  # microseconds per second
SYNTHETIC_SUBDISTRICT_BASE = 500


def to_us(moment: datetime) -> int:
    return (moment - EPOCH_UTC) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH_UTC + timedelta(microseconds=us)


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
    #: the on-site verification allowance of public reports, in microseconds
    verify_us: int
    #: (ack, resolve) allowance per level, in microseconds
    allowances: tuple[tuple[int, int], ...]
    #: the stage clocks' (dispatch, review) allowances, in microseconds
    stage_allowances: tuple[int, int] = (0, 0)

    @property
    def flat_allowances(self) -> tuple[int, ...]:
        """The allowances as ten variables: ack then resolve, level by level, then the
        dispatch and review stage clocks'."""
        return (*(v for pair in self.allowances for v in pair), *self.stage_allowances)


@dataclass(frozen=True)
class World:
    grids: tuple[GridInfo, ...]
    categories: tuple[CategoryInfo, ...]
    dispatchers: tuple[int, ...]


def _allowances(policy: SlaPolicy) -> tuple[tuple[int, int], ...]:
    one = timedelta(microseconds=1)
    return tuple(
        (policy.ack_allowance(level) // one, policy.resolve_allowance(level) // one)
        for level in LEVELS
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
            INSERT INTO community (code, name, subdistrict_id)
            SELECT substr(c.code, 1, 6) || :sub || substr(c.code, 10, 3), c.name || '·模拟' || :j,
                   s.id
              FROM community c
              JOIN subdistrict s ON s.code = substr(c.code, 1, 6) || :sub
             WHERE substr(c.code, 7, 3) = :base
            ON CONFLICT (code) DO NOTHING
            """),
            params,
        )
        result = session.execute(
            text("""
            INSERT INTO grid (code, name, community_id, subdistrict_id, geom, area_m2)
            SELECT substr(g.code, 1, 6) || :sub || substr(g.code, 10, 6), g.name || '·模拟' || :j,
                   nc.id, nc.subdistrict_id, ST_Translate(g.geom, :dx, 0), g.area_m2
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
        # wall time whatever the category's calendars: the templates are affine in time
        policy = store.policy_for(category, dict.fromkeys(category.calendar_codes(), CONTINUOUS))
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
                verify_us=int(category.verify_minutes * 60 * US),
                allowances=_allowances(policy),
                stage_allowances=(
                    policy.dispatch_allowance() // timedelta(microseconds=1),
                    policy.review_allowance() // timedelta(microseconds=1),
                ),
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
