"""The published report's own consistency (what the seed's evaluation report would have failed):
every total equals the sum of its parts in every grouping, the window's label names its dates,
and no indicator is blank without saying why."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.days import GroupBy, label_window, window_label
from domain.evaluation.scorecard import Scorecard
from evaluation.checks import Check
from evaluation.indicators import IndicatorReport, indicator_report
from evaluation.models import COUNTER_COLUMNS
from evaluation.resolution import resolution_table
from evaluation.scope import Scope
from evaluation.scorecard import ScoredUnit, scorecard_units

#: Groupings whose parts must add up to the report's totals.
RESOLUTION_GROUPINGS = (
    GroupBy.grid,
    GroupBy.community,
    GroupBy.subdistrict,
    GroupBy.category,
    GroupBy.level,
    GroupBy.month,
)


def check_report(
    session: Session,
    scope: Scope,
    published: tuple[IndicatorReport, list[ScoredUnit], Scorecard] | None = None,
) -> Check:
    """The report of the window (``published``: its indicators and scorecard, if already read)
    checked against itself."""
    check = Check(
        "report",
        "the published report is consistent with itself: totals equal the "
        "sum of their parts, the label names the window, no blank without a reason",
    )
    label = window_label(scope.since, scope.until)
    if label_window(label) != (scope.since, scope.until):
        check.add(
            f"the window's label {label!r} names other days than {scope.since} .. {scope.until}"
        )
    if published is None:
        units, card = scorecard_units(session=session, scope=scope)
        published = (indicator_report(session=session, scope=scope), units, card)
    report, units, card = published
    parts = {
        "grid": [u.totals for u in units if u.kind == "grid"],
        "community": [u.totals for u in units if u.kind == "community"],
        "category": [
            dict(zip(COUNTER_COLUMNS, map(float, row), strict=True))
            for row in session.execute(
                text(f"""SELECT {", ".join(f"sum({c})" for c in COUNTER_COLUMNS)}
                           FROM stats_daily WHERE day BETWEEN :a AND :b GROUP BY category_id"""),
                {"a": scope.since, "b": scope.until},
            )
        ],
    }
    compared = 0
    for grouping, rows in parts.items():
        for name in (*COUNTER_COLUMNS, "patrolled_grid_days"):
            if grouping == "category" and name == "patrolled_grid_days":
                continue
            compared += 1
            total = report.totals.get(name, 0.0)
            summed = sum(r.get(name, 0.0) for r in rows)
            if summed != total:
                check.add(f"{name}: the {grouping}s add up to {summed:g}, the total says {total:g}")
    for group_by in RESOLUTION_GROUPINGS:
        table = resolution_table(session=session, scope=scope, group_by=group_by)
        compared += 1
        summed_n = sum(r.count for r in table.rows)
        summed_on_time = sum(r.on_time for r in table.rows)
        if (summed_n, summed_on_time) != (table.total.count, table.total.on_time):
            check.add(
                f"resolution by {group_by.value}: the groups add up to {summed_n} closed "
                f"({summed_on_time} on time), the total says {table.total.count} "
                f"({table.total.on_time})"
            )
    blanks = 0
    for value in report.values:
        if value.value is None:
            blanks += 1
            if not value.note:
                check.add(f"indicator {value.indicator.code} is blank without a reason")
    for unit in units:
        if unit.result.score is None and not unit.result.notes:
            check.add(f"the scorecard of {unit.kind} {unit.code} is blank without a reason")
    check.counts = {
        "totals compared": compared,
        "indicators": len(report.values),
        "blank indicators (each with its reason)": blanks,
        "scorecard units": len(units),
    }
    check.notes.append(
        f"window label: {label}; grades: " + ", ".join(f"{g} ≥ {m:g}" for m, g in card.grades)
    )
    return check
