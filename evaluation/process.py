"""The case process per grid, community, category or department (issue 13): how often handlers
asked for more time (延期), parked cases (挂账), sent them back as not theirs (回退), and how often
closed cases came back (重开) — the actions counted from the audit log of the events reported in
the window, and the cases with each, beside the cases dispatched. The case counts are the audit
counters the indicators 延期率, 挂账率, 回退率 and 重开率 are made of (the definitions the
statistics keep per day: ``evaluation.auditcounts``), so a grid's, community's or category's
rows sum to the indicators' numerators; they are counted from the process actions' own rows of
the audit log (their index), not from the whole log of the window's events.

**Per department** (docs/decisions/0025) an action belongs to the department that held the
case when it was taken: the event's ``department`` before the action (the last audit row of the
event, at a lower version, that changed ``department``; ``ix_event_audit_department``). A
department's dispatched cases are the window's events it held at some point (an audit row set
``department`` to it). Actions taken while no department held the case (grid, community,
command centre) are in no department's row, and a case handled by two departments is in both:
the department rows do not sum to the indicators.

**Parked time** (挂账时长): each parking period of the window's events runs from its
``approve_parking`` row to the next row that leaves ``parked`` (``unpark``, or a ``void``); a
period not lifted yet counts up to ``now`` (the request's clock: parked time so far, as
``GET /events/{id}``'s ``parked_s``). Per group, the cases parked, the periods, those still open,
and the total, median and 90th percentile of the periods' wall-clock minutes; per department the
period belongs to the department that held the case when the parking was approved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from evaluation.auditcounts import PROCESS_ACTIONS, PROCESS_ACTIONS_JOIN, PROCESS_COUNTER_SQL
from evaluation.scope import Scope, bounds

#: The case counters of the process, by the indicator whose numerator each is.
CASE_COUNTERS: Mapping[str, str] = {
    "extension_rate": "extended_cases",
    "parking_rate": "parked_cases",
    "return_rate": "returned_cases",
    "reopen_rate": "reopened_cases",
}
#: What a group is: its key column on the event and the table naming it (``department``: the
#: holder at the action, from the audit log).
_GROUPS: Mapping[str, tuple[str, str]] = {
    "grid": ("e.grid_id", "grid"),
    "community": ("e.community_id", "community"),
    "subdistrict": ("(SELECT g.subdistrict_id FROM grid g WHERE g.id = e.grid_id)", "subdistrict"),
    "category": ("e.category_id", "category"),
}
DEPARTMENT = "department"
GROUPS: tuple[str, ...] = (*_GROUPS, DEPARTMENT)
#: The window's events (reported in it, as ``indicators``), in the place scope.
_WINDOW_EVENTS = """
  SELECT e.id FROM event e
   WHERE e.created_at >= :start AND e.created_at < :end
     AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))
"""
#: The department that held event ``r.event_id`` just before its audit row ``r.version``.
_HOLDER_AT = """
  (SELECT d.data ->> 'department' FROM event_audit d
    WHERE d.event_id = r.event_id AND d.version < r.version AND d.data ? 'department'
    ORDER BY d.version DESC LIMIT 1)
"""
_ACTION_NAMES = ", ".join(f"'{a}'" for a in PROCESS_ACTIONS)


@dataclass(frozen=True)
class Parking:
    """挂账时长 of a group: cases parked, parking periods (and those not lifted yet), and the
    periods' wall-clock minutes (total, median, 90th percentile; None without periods)."""

    cases: int = 0
    periods: int = 0
    open: int = 0
    minutes_total: float = 0.0
    minutes_p50: float | None = None
    minutes_p90: float | None = None


@dataclass(frozen=True)
class ProcessRow:
    code: str
    name: str
    dispatched_cases: int
    actions: Mapping[str, int]  # PROCESS_ACTIONS: how many rows of each
    cases: Mapping[str, int]  # CASE_COUNTERS' values: events with at least one
    parking: Parking = Parking()

    def rate(self, counter: str) -> float | None:
        if not self.dispatched_cases:
            return None
        return round(self.cases[counter] / self.dispatched_cases, 6)


def _params(scope: Scope) -> dict[str, Any]:
    start, end = bounds(scope)
    grids = None if scope.grid_ids is None else list(scope.grid_ids)
    return {"start": start, "end": end, "grids": grids}


def process_counts(
    session: Session, scope: Scope, group: str, *, now: datetime
) -> list[ProcessRow]:
    """The window's events (reported in it, as ``indicators``) per group that had any, with
    their parked time up to ``now``."""
    if group not in GROUPS:
        raise ValueError(f"the process is counted per {', '.join(GROUPS)}, not {group}")
    counters = ("dispatched_cases", *CASE_COUNTERS.values())
    if group == DEPARTMENT:
        rows = _department_rows(session, scope, counters)
    else:
        rows = _place_rows(session, scope, group, counters)
    parking = parked_time(session, scope, group, now=now)
    out: list[ProcessRow] = []
    for code, name, *values in rows:
        numbers = [int(v or 0) for v in values]
        found = dict(zip(counters, numbers[: len(counters)], strict=True))
        actions = dict(zip(PROCESS_ACTIONS, numbers[len(counters) :], strict=True))
        out.append(
            ProcessRow(
                code=str(code),
                name=str(name),
                dispatched_cases=found["dispatched_cases"],
                actions=actions,
                cases={c: found[c] for c in CASE_COUNTERS.values()},
                parking=parking.get(str(code), Parking()),
            )
        )
    return out


def _place_rows(session: Session, scope: Scope, group: str, counters: tuple[str, ...]) -> list[Any]:
    key, table = _GROUPS[group]
    sums = [f"sum({PROCESS_COUNTER_SQL[c]})" for c in counters]
    sums += [f"sum(coalesce(pa.n_{a}, 0))" for a in PROCESS_ACTIONS]
    return list(
        session.execute(
            text(f"""
            SELECT t.code, t.name, {", ".join(sums)}
              FROM event e {PROCESS_ACTIONS_JOIN}
              JOIN {table} t ON t.id = {key}
             WHERE e.created_at >= :start AND e.created_at < :end
               AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))
             GROUP BY t.code, t.name
             ORDER BY t.code
            """),
            _params(scope),
        ).all()
    )


def _department_rows(session: Session, scope: Scope, counters: tuple[str, ...]) -> list[Any]:
    """Per department: the window's events it held (``dispatched_cases``), and each process
    action attributed to the department holding the case at it (``_HOLDER_AT``)."""
    case_of = {
        "extended_cases": "approve_extension",
        "parked_cases": "approve_parking",
        "returned_cases": "return",
        "reopened_cases": "reopen",
    }
    assert set(case_of) == set(counters[1:])
    per_event = ", ".join(
        f"count(*) FILTER (WHERE a.action = '{a}') AS n_{a}" for a in PROCESS_ACTIONS
    )
    sums = ["count(*) FILTER (WHERE x.held)"]
    sums += [f"count(*) FILTER (WHERE coalesce(x.n_{case_of[c]}, 0) > 0)" for c in counters[1:]]
    sums += [f"sum(coalesce(x.n_{a}, 0))" for a in PROCESS_ACTIONS]
    return list(
        session.execute(
            text(f"""
            WITH w AS MATERIALIZED ({_WINDOW_EVENTS}),
            held AS (
              SELECT DISTINCT w.id AS event_id, h.dept, true AS held
                FROM w CROSS JOIN LATERAL (
                  SELECT r.data ->> 'department' AS dept FROM event_audit r
                   WHERE r.event_id = w.id AND r.data ? 'department'
                  OFFSET 0) h
               WHERE h.dept IS NOT NULL),
            acts AS MATERIALIZED (
              SELECT r.event_id, r.action, {_HOLDER_AT} AS dept
                FROM w JOIN event_audit r ON r.event_id = w.id
               WHERE r.action IN ({_ACTION_NAMES})),
            per AS (
              SELECT a.dept, a.event_id, {per_event}
                FROM acts a WHERE a.dept IS NOT NULL GROUP BY a.dept, a.event_id)
            SELECT x.dept, x.dept, {", ".join(sums)}
              FROM (SELECT * FROM held h FULL JOIN per p USING (dept, event_id)) x
             GROUP BY x.dept
             ORDER BY x.dept
            """),
            _params(scope),
        ).all()
    )


def parked_time(session: Session, scope: Scope, group: str, *, now: datetime) -> dict[str, Parking]:
    """挂账时长 per group code (see the module's note)."""
    if group == DEPARTMENT:
        key, join = "p.dept", ""
    else:
        column, table = _GROUPS[group]
        key, join = "t.code", f"JOIN event e ON e.id = p.event_id JOIN {table} t ON t.id = {column}"
    rows = session.execute(
        text(f"""
        WITH w AS ({_WINDOW_EVENTS}),
        p AS (
          SELECT r.event_id, r.at AS start, {_HOLDER_AT} AS dept,
                 (SELECT min(x.at) FROM event_audit x
                   WHERE x.event_id = r.event_id AND x.version > r.version
                     AND x.from_status = 'parked' AND x.to_status <> 'parked') AS lifted
            FROM w JOIN event_audit r ON r.event_id = w.id
           WHERE r.action = 'approve_parking'),
        m AS (
          SELECT {key} AS code, p.event_id, p.lifted IS NULL AS open,
                 greatest(extract(epoch FROM coalesce(p.lifted, :now) - p.start), 0) / 60.0
                   AS minutes
            FROM p {join})
        SELECT code, count(DISTINCT event_id), count(*), count(*) FILTER (WHERE open),
               sum(minutes), percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes)
          FROM m WHERE code IS NOT NULL
         GROUP BY code
        """),
        {**_params(scope), "now": now},
    ).all()
    return {
        str(code): Parking(
            cases=int(cases),
            periods=int(periods),
            open=int(still),
            minutes_total=round(float(total), 2),
            minutes_p50=None if p50 is None else round(float(p50), 2),
            minutes_p90=None if p90 is None else round(float(p90), 2),
        )
        for code, cases, periods, still, total, p50, p90 in rows
    }
