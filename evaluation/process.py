"""The case process per grid, community or category (issue 13): how often handlers asked for
more time (延期), parked cases (挂账), sent them back as not theirs (回退), and how often closed
cases came back (重开) — the actions counted from the audit log of the events reported in the
window, and the cases with each, beside the cases dispatched. The case counts are the audit
counters the indicators 延期率, 挂账率, 回退率 and 重开率 are made of (the definitions the
statistics keep per day: ``evaluation.auditcounts``), so a group's rows sum to the indicators'
numerators; they are counted from the process actions' own rows of the audit log (their
index), not from the whole log of the window's events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.days import GroupBy
from evaluation.auditcounts import PROCESS_ACTIONS, PROCESS_ACTIONS_JOIN, PROCESS_COUNTER_SQL
from evaluation.scope import Scope, bounds

#: The case counters of the process, by the indicator whose numerator each is.
CASE_COUNTERS: Mapping[str, str] = {
    "extension_rate": "extended_cases",
    "parking_rate": "parked_cases",
    "return_rate": "returned_cases",
    "reopen_rate": "reopened_cases",
}
#: What a group is: its key column on the event and the table naming it.
_GROUPS: Mapping[GroupBy, tuple[str, str]] = {
    GroupBy.grid: ("e.grid_id", "grid"),
    GroupBy.community: ("e.community_id", "community"),
    GroupBy.category: ("e.category_id", "category"),
}
GROUPS: tuple[GroupBy, ...] = tuple(_GROUPS)


@dataclass(frozen=True)
class ProcessRow:
    code: str
    name: str
    dispatched_cases: int
    actions: Mapping[str, int]  # PROCESS_ACTIONS: how many rows of each
    cases: Mapping[str, int]  # CASE_COUNTERS' values: events with at least one

    def rate(self, counter: str) -> float | None:
        if not self.dispatched_cases:
            return None
        return round(self.cases[counter] / self.dispatched_cases, 6)


def process_counts(session: Session, scope: Scope, group: GroupBy) -> list[ProcessRow]:
    """The window's events (reported in it, as ``indicators``) per group that had any."""
    if group not in _GROUPS:
        raise ValueError(f"the process is counted per grid, community or category, not {group}")
    key, table = _GROUPS[group]
    start, end = bounds(scope)
    counters = ("dispatched_cases", *CASE_COUNTERS.values())
    sums = [f"sum({PROCESS_COUNTER_SQL[c]})" for c in counters]
    sums += [f"sum(coalesce(pa.n_{a}, 0))" for a in PROCESS_ACTIONS]
    rows = session.execute(
        text(f"""
        SELECT t.code, t.name, {", ".join(sums)}
          FROM event e {PROCESS_ACTIONS_JOIN}
          JOIN {table} t ON t.id = {key}
         WHERE e.created_at >= :start AND e.created_at < :end
           AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))
         GROUP BY t.code, t.name
         ORDER BY t.code
        """),
        {
            "start": start,
            "end": end,
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
        },
    ).all()
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
            )
        )
    return out
