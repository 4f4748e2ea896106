"""The 100-point score of every grid, community and subdistrict for a window (weights and bands:
``data/scorecard.json``; rules: ``domain.evaluation.scorecard``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.indicators import (
    INDICATOR_BY_CODE,
    INDICATORS,
    Source,
    evaluate,
)
from domain.evaluation.scorecard import Score, Scorecard, score
from evaluation.indicators import STAFFED_SQL, counter_sums
from evaluation.intake import overdue_verifications
from evaluation.models import COUNTER_COLUMNS
from evaluation.scope import Scope, no_jit
from kernel.clock import utc_now
from kernel.settings import get_settings


def load_scorecard(path: Path | None = None) -> tuple[Scorecard, dict[str, Any]]:
    path = path or get_settings().data_dir / "scorecard.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return Scorecard.from_data(data), data


#: What a scored unit is, in Chinese (the exports show it beside the code).
UNIT_LABELS: dict[str, str] = {"grid": "网格", "community": "社区", "subdistrict": "街道"}


@dataclass(frozen=True)
class ScoredUnit:
    kind: str  # grid | community | subdistrict
    code: str
    name: str
    community: str | None
    totals: dict[str, float]
    values: dict[str, float | None]
    result: Score


def scorecard_units(
    *, session: Session, scope: Scope, now: datetime | None = None
) -> tuple[list[ScoredUnit], Scorecard]:
    """The 100-point score of every grid and community, and of each subdistrict as a whole (the
    seed grades the subdistrict itself: its grids' counters summed), for the window."""
    card, _ = load_scorecard()
    grids = session.execute(
        text("""
        SELECT g.id, g.code, g.name, c.id, c.code, c.name, s.code, s.name
          FROM grid g JOIN community c ON c.id = g.community_id
          JOIN subdistrict s ON s.id = g.subdistrict_id
         ORDER BY g.code
        """)
    ).all()
    no_jit(session)
    per_grid = counter_sums(session, scope, per_grid=True)
    overdue = overdue_verifications(session, scope, per_grid=True, now=now or utc_now())
    empty = dict.fromkeys((*COUNTER_COLUMNS, "patrolled_grid_days"), 0.0)
    staffed = set(session.execute(text(STAFFED_SQL), {"grids": None}).scalars())
    units: list[ScoredUnit] = []
    by_community: dict[int, tuple[str, str, dict[str, float]]] = {}
    by_subdistrict: dict[str, tuple[str, str, dict[str, float]]] = {}
    for gid, gcode, gname, cid, ccode, cname, scode, sname in grids:
        totals = empty | per_grid.get(gid, {})
        totals["verifications_due"] = totals["verifications_done"] + overdue.get(gid, 0.0)
        totals["grid_days"] = float(scope.days)
        totals["grids"] = 1.0
        totals["staffed_grids"] = 1.0 if gid in staffed else 0.0
        units.append(_scored(card, "grid", gcode, gname, cname, totals))
        for agg in (
            by_community.setdefault(cid, (ccode, cname, {}))[2],
            by_subdistrict.setdefault(scode, (scode, sname, {}))[2],
        ):
            for k, v in totals.items():
                agg[k] = agg.get(k, 0.0) + v
    for ccode, cname, totals in sorted(by_community.values()):
        units.append(_scored(card, "community", ccode, cname, None, totals))
    for scode, sname, totals in sorted(by_subdistrict.values()):
        units.append(_scored(card, "subdistrict", scode, sname, None, totals))
    return units, card


def _scored(
    card: Scorecard, kind: str, code: str, name: str, community: str | None,
    totals: dict[str, float],
) -> ScoredUnit:  # fmt: skip
    values = {i.code: evaluate(i, totals).value for i in INDICATORS if i.source is not Source.map}
    values["staffing"] = evaluate(INDICATOR_BY_CODE["staffing"], totals).value
    return ScoredUnit(kind, code, name, community, totals, values, score(card, values))
