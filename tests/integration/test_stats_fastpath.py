"""The statistics fast path equals a recomputation from the raw events.

One simulated history (bulk simulator, about 3,000 events over 24 days on the real map) is
loaded for the module. Then, on seeded random windows, groupings and filters, with sealed
blocks partly dropped and closed events moved (the triggers keep up), every figure of
``evaluation.service.resolution`` must equal plain SQL over the ``event`` table that does
not use the statistics' own SQL functions; the counters must equal ``count(*) FILTER``; each
drill-down must list exactly the numerator's events; and every simulated event must satisfy
the dispatch core's invariants and replay from its audit rows.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from dispatch.categories.models import Category
from dispatch.events.models import Event, EventAudit
from dispatch.store import to_state
from domain.evaluation.days import GroupBy
from domain.evaluation.indicators import INDICATORS, Source
from domain.lifecycle import (
    Action,
    AuditEntry,
    EscalationReason,
    Status,
    invariant_violations,
    replay,
)
from evaluation.drilldown import Part, drilldown, page, stream_rows
from evaluation.indicators import indicator_report
from evaluation.resolution import ResolutionRow, resolution_table
from evaluation.scope import Scope, resolve_scope
from evaluation.sealing import seal
from grids.models import Grid
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from tests.conftest import MUTABLE_TABLES
from tools.simulate import bulk as simulate_bulk

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
LAST = date(2026, 2, 28)
DAYS = 24
FIRST = LAST - timedelta(days=DAYS - 1)


@dataclass(frozen=True)
class History:
    events: int
    grids: list[tuple[int, str, str]]  # id, code, community code
    communities: list[str]
    categories: list[tuple[int, str]]


@pytest.fixture(scope="module")
def history(engine: Engine) -> Iterator[History]:
    summary = simulate_bulk.run(
        engine, days=DAYS, seed=11, per_day=130, until=LAST, now=NOW, template_after=3
    )
    assert summary.events > 2500 and summary.extra["templates"] and summary.extra["direct"]
    with engine.connect() as conn:
        grids = [
            (int(r[0]), str(r[1]), str(r[2]))
            for r in conn.execute(
                text(
                    "SELECT g.id, g.code, c.code FROM grid g"
                    " JOIN community c ON c.id = g.community_id ORDER BY g.code"
                )
            )
        ]
        categories = [
            (int(r[0]), str(r[1])) for r in conn.execute(text("SELECT id, code FROM category"))
        ]
    yield History(
        events=summary.events,
        grids=grids,
        communities=sorted({g[2] for g in grids}),
        categories=categories,
    )
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))


# --- a recomputation that does not use the statistics' SQL -------------------------------------

_KEY = {
    GroupBy.grid: "g.code",
    GroupBy.community: "c.code",
    GroupBy.subdistrict: "s.code",
    GroupBy.category: "cat.code",
    GroupBy.level: "e.level::text",
    GroupBy.day: "to_char((e.created_at AT TIME ZONE 'Asia/Shanghai')::date, 'YYYY-MM-DD')",
    GroupBy.week: "to_char((e.created_at AT TIME ZONE 'Asia/Shanghai')::date, 'IYYY-\"W\"IW')",
    GroupBy.month: "to_char((e.created_at AT TIME ZONE 'Asia/Shanghai')::date, 'YYYY-MM')",
}


def raw_resolution(session: Session, scope: Scope, group_by: GroupBy) -> dict[str, tuple[Any, ...]]:
    start = datetime.combine(scope.since, datetime.min.time(), tzinfo=get_settings().tz)
    end = datetime.combine(
        scope.until + timedelta(days=1), datetime.min.time(), tzinfo=get_settings().tz
    )
    rows = session.execute(
        text(f"""
        WITH x AS (
          SELECT {_KEY[group_by]} AS k,
                 greatest(0, floor(extract(epoch FROM e.closed_at - e.created_at) / 60))::int AS m,
                 extract(epoch FROM e.closed_at - e.created_at) <= cat.resolve_minutes * 60 AS ok
            FROM event e
            JOIN grid g ON g.id = e.grid_id
            JOIN community c ON c.id = g.community_id
            JOIN subdistrict s ON s.id = g.subdistrict_id
            JOIN category cat ON cat.id = e.category_id
           WHERE e.status = 'closed' AND e.created_at >= :start AND e.created_at < :end
             AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))
             AND (CAST(:category AS integer) IS NULL OR e.category_id = :category))
        SELECT k, count(*), avg(m),
               percentile_disc(0.5) WITHIN GROUP (ORDER BY m),
               percentile_disc(0.9) WITHIN GROUP (ORDER BY m),
               percentile_disc(0.95) WITHIN GROUP (ORDER BY m),
               max(m), count(*) FILTER (WHERE ok)
          FROM x GROUP BY ROLLUP (k)
        """),
        {
            "start": start,
            "end": end,
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
            "category": scope.category_id,
        },
    ).all()
    return {("total" if r[0] is None else str(r[0])): tuple(r[1:]) for r in rows}


def raw_flows(session: Session, scope: Scope, group_by: GroupBy) -> dict[str, tuple[int, int]]:
    """Per group (and ``total``): the events reported in the window and those of them neither
    closed nor voided now, from the event table (a report linked as a duplicate counts in
    neither: its original counts once)."""
    start = datetime.combine(scope.since, datetime.min.time(), tzinfo=get_settings().tz)
    end = datetime.combine(
        scope.until + timedelta(days=1), datetime.min.time(), tzinfo=get_settings().tz
    )
    rows = session.execute(
        text(f"""
        SELECT coalesce({_KEY[group_by]}, 'total'), count(*),
               count(*) FILTER (WHERE e.status NOT IN ('closed', 'voided'))
          FROM event e
          JOIN grid g ON g.id = e.grid_id
          JOIN community c ON c.id = g.community_id
          JOIN subdistrict s ON s.id = g.subdistrict_id
          JOIN category cat ON cat.id = e.category_id
         WHERE e.created_at >= :start AND e.created_at < :end AND e.duplicate_of IS NULL
           AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))
           AND (CAST(:category AS integer) IS NULL OR e.category_id = :category)
         GROUP BY ROLLUP ({_KEY[group_by]})
        """),
        {
            "start": start,
            "end": end,
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
            "category": scope.category_id,
        },
    ).all()
    return {str(k): (int(n), int(still_open)) for k, n, still_open in rows}


def _same(row: ResolutionRow, raw: tuple[Any, ...] | None) -> bool:
    if raw is None or raw[0] == 0:
        return row.count == 0 and row.p50 is None and row.small_sample
    count, mean, p50, p90, p95, biggest, on_time = raw
    return (
        (row.count, row.p50, row.p90, row.p95, row.max, row.on_time)
        == (count, p50, p90, p95, biggest, on_time)
        and row.mean == pytest.approx(float(mean), abs=0.006)
        and row.small_sample == (count < 5)
    )


def _random_scope(rng: random.Random, session: Session, h: History) -> Scope:
    since = FIRST + timedelta(days=rng.randint(-3, DAYS - 1))
    until = min(since + timedelta(days=rng.choice([0, 1, 6, 13, 29, 40])), LAST + timedelta(days=2))
    pick = rng.random()
    grid = community = category = None
    if pick < 0.2:
        grid = rng.choice(h.grids)[1]
    elif pick < 0.4:
        community = rng.choice(h.communities)
    if rng.random() < 0.3:
        category = rng.choice(h.categories)[1]
    return resolve_scope(
        session, since=since, until=until, grid=grid, community=community, category=category
    )


_MOVE = "UPDATE event SET closed_at = closed_at + :d * interval '1 minute' WHERE id = :id"


def _disturb(rng: random.Random, session: Session) -> tuple[str, dict[str, int] | None]:
    """Drop some sealed blocks, or move a closed event (its trigger updates the histogram and
    invalidates the blocks of its day); returns what to undo."""
    if rng.random() < 0.5:
        session.execute(text("DELETE FROM stats_block WHERE random() < 0.3"))
        session.execute(text("DELETE FROM stats_counter_sealed WHERE random() < 0.3"))
        session.commit()
        return "some blocks dropped", None
    event_id = session.execute(
        text("SELECT id FROM event WHERE status = 'closed' ORDER BY random() LIMIT 1")
    ).scalar_one()
    move = {"d": rng.randint(1, 300), "id": int(event_id)}
    session.execute(text(_MOVE), move)
    session.commit()
    return f"event {event_id} closed {move['d']} min later", move


def test_resolution_equals_raw_recomputation(engine: Engine, history: History) -> None:
    rng = random.Random(20240607)
    with Session(engine) as session:
        for case in range(22):
            note, undo = _disturb(rng, session) if case % 2 else ("all sealed", None)
            if case % 5 == 4:
                seal(uow=UnitOfWork(session), today=LAST + timedelta(days=1))
            scope = _random_scope(rng, session, history)
            group_by = rng.choice(list(GroupBy))
            table = resolution_table(session=session, scope=scope, group_by=group_by)
            raw = raw_resolution(session, scope, group_by)
            where = (
                f"case {case} ({note}): {group_by} {scope.since}..{scope.until} {scope.filters()}"
            )
            assert {r.group for r in table.rows if r.count} == set(raw) - {"total"}, where
            for row in table.rows:
                assert _same(row, raw.get(row.group)), f"{where}: {row} vs {raw.get(row.group)}"
            assert _same(table.total, raw.get("total")), where
            if group_by is not GroupBy.level:  # a level grouping has no flows (levels move)
                flows = raw_flows(session, scope, group_by)
                for row in [*table.rows, table.total]:
                    got = (row.reported, row.open)
                    assert got == flows.get(row.group, (0, 0)), f"{where}: {row.group} {got}"
            if undo is not None:
                session.execute(text(_MOVE), {"d": -undo["d"], "id": undo["id"]})
                session.commit()


def test_both_read_paths_agree_with_raw(engine: Engine, history: History) -> None:
    """Blocks (grid grouping) and base rows (grid grouping with a category filter)."""
    with Session(engine) as session:
        scope = resolve_scope(session, since=FIRST, until=LAST)
        blocks = resolution_table(session=session, scope=scope, group_by=GroupBy.grid)
        assert blocks.path == "blocks"
        cat_scope = resolve_scope(
            session, since=FIRST, until=LAST, category=history.categories[0][1]
        )
        rows = resolution_table(session=session, scope=cat_scope, group_by=GroupBy.grid)
        assert rows.path == "rows"
        for table, s in ((blocks, scope), (rows, cat_scope)):
            raw = raw_resolution(session, s, GroupBy.grid)
            assert all(_same(r, raw.get(r.group)) for r in table.rows)
        assert blocks.total.count > 2000


# --- counters ----------------------------------------------------------------------------------

RAW_COUNTERS = """
SELECT count(*) AS reported,
       count(*) FILTER (WHERE e.status = 'voided') AS voided,
       count(*) FILTER (WHERE e.status NOT IN ('pending_verification', 'voided')) AS registered,
       count(*) FILTER (WHERE e.source <> 'staff'
                          AND e.status NOT IN ('pending_verification', 'voided'))
         AS public_registered,
       count(*) FILTER (WHERE e.dispatched_at IS NOT NULL) AS dispatched,
       count(*) FILTER (WHERE (SELECT a.at FROM event_audit a WHERE a.event_id = e.id
                                  AND a.action = 'dispatch' AND a.from_status = 'registered'
                                ORDER BY a.version LIMIT 1)
                              -- by its own deadline; before migration 0027: 10 minutes
                              <= coalesce(e.dispatch_due_at, e.created_at + interval '10 minutes'))
         AS dispatched_on_time,
       coalesce(sum(e.redispatch_count), 0) AS redispatches,
       coalesce(sum(e.escalation_count), 0) AS escalations,
       count(*) FILTER (WHERE e.status IN ('resolved', 'closed')) AS handled,
       count(*) FILTER (WHERE e.status IN ('resolved', 'closed') AND e.resolved_at <= e.due_at)
         AS handled_on_time,
       coalesce(sum(e.rework_count), 0) AS reworks,
       count(*) FILTER (WHERE e.status = 'closed') AS closed,
       count(*) FILTER (WHERE e.status = 'closed'
                          AND e.closed_at - e.created_at <= c.resolve_minutes * interval '1 minute')
         AS closed_on_time,
       count(*) FILTER (WHERE e.status = 'closed' AND e.level = 0) AS closed_level0,
       count(*) FILTER (WHERE e.status = 'closed' AND e.level <= 2) AS closed_le2,
       count(*) FILTER (WHERE e.status IN ('resolved', 'closed')
                          AND e.resolved_at <= e.promised_due_at) AS handled_on_promise
  FROM event e JOIN category c ON c.id = e.category_id
 WHERE e.created_at >= :start AND e.created_at < :end
   AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))
   AND e.duplicate_of IS NULL  -- a linked report counts once: as the event it joined
"""


def test_counters_equal_raw_sql(engine: Engine, history: History) -> None:
    rng = random.Random(7)
    with Session(engine) as session:
        seal(uow=UnitOfWork(session), today=LAST + timedelta(days=1))
        for case in range(8):
            if case % 2:
                session.execute(text("DELETE FROM stats_counter_sealed WHERE random() < 0.4"))
                session.commit()
            scope = _random_scope(rng, session, history)
            scope = resolve_scope(
                session, since=scope.since, until=scope.until, grid=scope.grid,
                community=scope.community,
            )  # fmt: skip
            start = datetime.combine(scope.since, datetime.min.time(), tzinfo=get_settings().tz)
            end = datetime.combine(
                scope.until + timedelta(days=1), datetime.min.time(), tzinfo=get_settings().tz
            )
            raw = session.execute(
                text(RAW_COUNTERS),
                {
                    "start": start,
                    "end": end,
                    "grids": None if scope.grid_ids is None else list(scope.grid_ids),
                },
            ).one()
            report = indicator_report(session=session, scope=scope)
            for name, value in raw._mapping.items():
                assert report.totals[name] == float(value), (name, scope)


#: Indicators whose every event (or grid-day) counts at most once in numerator and denominator.
MISSES = Part.misses
ONE_PER_EVENT = (
    "valid_report", "on_time_dispatch", "on_time_handling", "closure_rate", "on_time_closure",
    "kept_in_grid", "kept_in_subdistrict", "on_time_closure_of_closed", "missed_report",
    "on_time_registration", "accurate_registration", "patrol_coverage",
)  # fmt: skip


def test_drilldowns_list_the_numerators(engine: Engine, history: History) -> None:
    with Session(engine) as session:
        scope = resolve_scope(
            session, since=FIRST + timedelta(days=5), until=FIRST + timedelta(days=9)
        )
        report = indicator_report(session=session, scope=scope)
        for value in report.values:
            code = value.indicator.code
            items: list[dict[str, Any]] = []
            cursor: str | None = None
            while True:
                table = page(session, drilldown(code=code, scope=scope, cursor=cursor), 97)
                items += table.items
                if table.next_cursor is None:
                    break
                cursor = table.next_cursor
            # what an export streams is what the pages list
            assert list(stream_rows(session, drilldown(code=code, scope=scope))) == items, code
            if value.indicator.source in (Source.events, Source.audit):
                ids = [i["id"] for i in items]
                assert ids == sorted(set(ids)), code
                weights = {
                    "rework_rate": sum(i["rework_count"] for i in items),
                    "dispatch_count": sum(1 + i["redispatch_count"] for i in items),
                    "escalation_rate": sum(i["escalation_count"] for i in items),
                }
                if code == "on_time_review":  # an event reviewed twice on time counts twice
                    assert len(items) <= value.numerator, code
                else:
                    assert weights.get(code, len(items)) == value.numerator, code
            elif code == "patrol_coverage":
                assert len(items) == value.numerator
            elif code == "staffing":
                assert len(items) == value.numerator == 44
            if code in ONE_PER_EVENT:  # each event counts 0 or 1 in both: misses = den − num
                misses = list(stream_rows(session, drilldown(code=code, scope=scope, part=MISSES)))
                assert len(misses) == value.denominator - value.numerator, code

                def keys(rows: list[dict[str, Any]]) -> set[object]:
                    return {r.get("id", (r.get("day"), r.get("grid_code"))) for r in rows}

                assert not keys(misses) & keys(items), code
        assert {v.indicator.code for v in report.values} == {i.code for i in INDICATORS}


def test_patrol_coverage_equals_the_patrol_service(engine: Engine, history: History) -> None:
    from patrols.service import patrol_coverage

    with Session(engine) as session:
        since, until = FIRST + timedelta(days=2), FIRST + timedelta(days=4)
        days = patrol_coverage(session, since, until)
        scope = resolve_scope(session, since=since, until=until)
        value = next(
            v for v in indicator_report(session=session, scope=scope).values
            if v.indicator.code == "patrol_coverage"
        )  # fmt: skip
        assert (value.numerator, value.denominator) == (
            sum(d.patrolled for d in days),
            len(days),
        )
        assert value.numerator > 0


# --- the simulated rows ------------------------------------------------------------------------


def test_every_simulated_event_is_sound_and_replays_from_its_audit(
    engine: Engine, history: History
) -> None:
    with Session(engine) as session:
        categories = {c.id: c.code for c in session.exec(select(Category))}
        grids = {g.id: g.code for g in session.exec(select(Grid))}
        audits: dict[int, list[EventAudit]] = {}
        for row in session.exec(
            select(EventAudit).order_by(col(EventAudit.event_id), col(EventAudit.version))
        ):
            audits.setdefault(row.event_id, []).append(row)
        events = list(session.exec(select(Event)))
        assert len(events) == history.events
        statuses = set()
        for event in events:
            state = to_state(event, category_code=categories[event.category_id],
                             grid_code=grids[event.grid_id])  # fmt: skip
            assert invariant_violations(state) == [], event.id
            entries = [
                AuditEntry(
                    event_id=str(a.event_id),
                    action=Action(a.action),
                    from_status=Status(a.from_status) if a.from_status else None,
                    to_status=Status(a.to_status),
                    from_level=a.from_level,
                    to_level=a.to_level,
                    actor=a.actor,
                    at=a.at,
                    version=a.version,
                    note=a.note,
                    reason=EscalationReason(a.reason) if a.reason else None,
                    data=a.data,
                )
                for a in audits[event.id or 0]
            ]
            assert replay(entries) == state, event.id
            assert entries[-1].at == max(e.at for e in entries)
            statuses.add(state.status)
    assert {Status.CLOSED, Status.VOIDED} <= statuses
