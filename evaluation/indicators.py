"""The indicators of a window: counters (the audit log's 立案 and 核查, and the intake counters of
the reports received in the window, among them) summed from sealed counter blocks and day rows,
the verifications overdue now, the map's coverage and staffing, evaluated by the formulas of
``domain.evaluation.indicators``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.days import MAX_BLOCK_LEVEL, cover, day_number, day_of_number
from domain.evaluation.indicators import INDICATORS, IndicatorValue, evaluate
from evaluation.intake import overdue_verifications
from evaluation.mapfigures import map_figures
from evaluation.models import COUNTER_COLUMNS
from evaluation.scope import Scope, no_jit
from grids.service import area_coverage
from kernel.clock import utc_now
from kernel.errors import Invalid, field_error

COUNTER_SUMS = ", ".join(f"sum({c})" for c in COUNTER_COLUMNS)
COUNTER_ZEROS = ", ".join("0" for _ in COUNTER_COLUMNS)


def counter_sums(
    session: Session,
    scope: Scope,
    *,
    per_grid: bool,
    columns: Sequence[str] = COUNTER_COLUMNS,
) -> dict[int, dict[str, float]]:
    """The counters ``columns`` (and patrolled days) of the window per grid (or, key 0, all
    grids in scope), from sealed counter blocks and, for days not sealed, the day rows."""
    unknown = set(columns) - set(COUNTER_COLUMNS)
    if unknown:  # the names are written into the statement
        raise ValueError(f"not counters: {sorted(unknown)}")
    first, last = day_number(scope.since), day_number(scope.until)
    sealed = {
        (int(r[0]), int(r[1]))
        for r in session.execute(
            text("SELECT lvl, start FROM stats_counter_sealed WHERE start BETWEEN :a AND :b"),
            {"a": first - (1 << MAX_BLOCK_LEVEL), "b": last},
        ).all()
    }
    use, leaves = cover(first, last, sealed)
    key = "grid_id" if per_grid else "0"
    rows = session.execute(
        text(f"""
        SELECT {key}, {", ".join(f"sum({c})" for c in columns)}, sum(patrolled_days) FROM (
          SELECT b.grid_id, {", ".join(f"b.{c}" for c in columns)}, b.patrolled_days
            FROM stats_counter_block b
            JOIN unnest(CAST(:lvls AS smallint[]), CAST(:starts AS integer[])) AS u(lvl, start)
              ON b.lvl = u.lvl AND b.start = u.start
          UNION ALL
          SELECT grid_id, {", ".join(columns)}, 0
            FROM stats_daily WHERE day = ANY(:days)
          UNION ALL
          SELECT grid_id, {", ".join("0" for _ in columns)}, count(DISTINCT day)
            FROM stats_patrol_walked WHERE day = ANY(:days) GROUP BY grid_id
        ) x
         WHERE CAST(:grids AS integer[]) IS NULL OR grid_id = ANY(:grids)
         GROUP BY 1
        """),
        {
            "lvls": [u[0] for u in use],
            "starts": [u[1] for u in use],
            "days": [day_of_number(d) for d in leaves],
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
        },
    ).all()
    out: dict[int, dict[str, float]] = {}
    for row in rows:
        values = {c: float(v or 0) for c, v in zip(columns, row[1:-1], strict=True)}
        values["patrolled_grid_days"] = float(row[-1] or 0)
        out[int(row[0])] = values
    return out


def _totals(session: Session, scope: Scope, now: datetime) -> dict[str, float]:
    cov = map_figures(session)
    no_jit(session)
    sums = counter_sums(session, scope, per_grid=False)
    totals = sums.get(0) or dict.fromkeys((*COUNTER_COLUMNS, "patrolled_grid_days"), 0.0)
    totals["verifications_due"] = totals["verifications_done"] + overdue_verifications(
        session, scope, per_grid=False, now=now
    ).get(0, 0.0)
    totals["grid_days"] = float(_grid_count(session, scope) * scope.days)
    if scope.grid_ids is None:
        totals["covered_area_km2"] = cov.covered_area_km2
        totals["jurisdiction_area_km2"] = cov.jurisdiction_area_km2
    else:  # the grids' own area, as every other indicator of a grid or community filter
        covered, own = area_coverage(session=session, grid_ids=scope.grid_ids)
        totals["covered_area_km2"], totals["jurisdiction_area_km2"] = covered, own
    if scope.grid_ids is None:
        totals["staffed_grids"] = float(cov.fully_staffed_grids)
        totals["grids"] = float(cov.grid_count)
    else:
        totals["staffed_grids"] = float(_staffed(session, scope.grid_ids))
        totals["grids"] = float(len(scope.grid_ids))
    return totals


def _grid_count(session: Session, scope: Scope) -> int:
    if scope.grid_ids is not None:
        return len(scope.grid_ids)
    return int(session.execute(text("SELECT count(*) FROM grid")).scalar_one())


STAFFED_SQL = """
SELECT g.id FROM grid g
 WHERE (CAST(:grids AS integer[]) IS NULL OR g.id = ANY(:grids))
   AND (SELECT count(*) FILTER (WHERE s.role = 'head') >= 1
           AND count(*) FILTER (WHERE s.role = 'member') >= 2
          FROM staff s WHERE s.grid_id = g.id)
"""


def _staffed(session: Session, grid_ids: Sequence[int] | None) -> int:
    return len(
        session.execute(
            text(STAFFED_SQL), {"grids": None if grid_ids is None else list(grid_ids)}
        ).all()
    )


@dataclass(frozen=True)
class IndicatorReport:
    scope: Scope
    values: list[IndicatorValue]
    totals: dict[str, float]


def indicator_report(
    *, session: Session, scope: Scope, now: datetime | None = None
) -> IndicatorReport:
    """Every DESIGN §7 indicator for the window (events reported in it, as they stand now;
    ``now`` decides which pending verifications are overdue)."""
    if scope.category_id is not None:
        raise Invalid(field_error("category", "indicators take grid or community"))
    totals = _totals(session, scope, now or utc_now())
    return IndicatorReport(scope, [evaluate(i, totals) for i in INDICATORS], totals)
