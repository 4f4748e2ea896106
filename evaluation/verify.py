"""``wangge audit verify``: check that history was not changed and that every published figure
of a window follows from the raw rows (docs/decisions/0009-audit-evidence.md).

Checks, each counting what it looked at and listing every discrepancy with its event ids:

- **chain**: every audit row of the events reported in the window has the hash its content and
  the previous row's hash give; versions run 1, 2, 3, … and each row starts where the previous
  one ended;
- **replay**: the audit log folded in order (``audit_replay``) gives the event row's state:
  status, level, version, assignee, department, every clock and deadline, the counts;
- **day heads**: each sealed day of the window still has the rows, digest and chained head it
  was sealed with; rows on a day that was skipped while later days were sealed are reported;
- **statistics**: the counters and histograms the triggers keep equal the raw events (per day,
  grid and category), the patrolled grid-days equal the raw patrols, and the served figures
  (indicators, resolution by grid / community / category / level, the scorecard of every
  grid and community) equal the same figures computed from the raw rows;
- **report**: the published report is consistent with itself (``evaluation.sanity``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from itertools import product
from typing import Any

from sqlalchemy import Interval, text
from sqlalchemy.types import DateTime, Integer
from sqlmodel import Session

from dispatch.events.models import Event
from dispatch.ledger import day_digests, day_heads, head_before
from domain.audit import day_head
from domain.evaluation.days import GroupBy
from domain.evaluation.indicators import AUDIT_COUNTERS, INDICATORS, evaluate
from domain.evaluation.resolution import Resolution
from domain.evaluation.scorecard import Scorecard, score
from domain.lifecycle.audit import STATE_FIELDS
from evaluation import sanity
from evaluation.auditcounts import AUDIT_COUNTER_SQL, AUDIT_FACTS_JOIN
from evaluation.checks import Check
from evaluation.indicators import IndicatorReport, indicator_report
from evaluation.intake import FROM_SQL as INTAKE_FROM_SQL
from evaluation.intake import KEPT_INTAKE_SQL, intake_sums
from evaluation.intake import WHERE_SQL as INTAKE_WHERE_SQL
from evaluation.models import COUNTER_COLUMNS, RESOLUTION_TABLES, ResolutionClock
from evaluation.resolution import resolution_table
from evaluation.scope import MAX_WINDOW_DAYS, Scope, bounds, window
from evaluation.scorecard import ScoredUnit, scorecard_units
from kernel.clock import utc_now
from kernel.settings import get_settings

#: Memory a verify step's sorts and hashes may use (PostgreSQL's default 4 MB spills a year's
#: sort of audit rows to disk).
VERIFY_WORK_MEM = "256MB"
#: Chain parts per connection (``--jobs``): small parts even out the connections' finish.
CHAIN_PARTS_PER_JOB = 4


@dataclass
class VerifyReport:
    since: date
    until: date
    checks: list[Check]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        """The report as text: what was checked, counts, every discrepancy with event ids."""
        out = [f"wangge audit verify: {self.since} .. {self.until} ({self.seconds:.1f} s)"]
        for check in self.checks:
            status = "ok" if check.ok else f"{len(check.discrepancies)} DISCREPANCIES"
            counts = ", ".join(f"{k} {v:,}" for k, v in check.counts.items())
            took = f" ({check.seconds:.1f} s)" if check.seconds else ""
            out.append(f"[{status}] {check.name}{took}: {check.description}")
            out.append(f"    checked: {counts}")
            out.extend(f"    note: {n}" for n in check.notes)
            for d in check.discrepancies:
                detail = "; ".join(f"{k}={v}" for k, v in d.detail.items())
                ids = ", ".join(map(str, d.event_ids))
                more = f" (+{d.more_ids} more)" if d.more_ids else ""
                out.append(f"    - {d.what}" + (f" [{detail}]" if detail else ""))
                if ids:
                    out.append(f"      events: {ids}{more}")
        out.append("RESULT: " + ("every check passed" if self.ok else "DISCREPANCIES FOUND"))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "checks": [
                {
                    "name": c.name,
                    "description": c.description,
                    "ok": c.ok,
                    "seconds": round(c.seconds, 3),
                    "counts": c.counts,
                    "notes": c.notes,
                    "discrepancies": [
                        {
                            "what": d.what,
                            "event_ids": d.event_ids,
                            "more_ids": d.more_ids,
                            "detail": d.detail,
                        }
                        for d in c.discrepancies
                    ],
                }
                for c in self.checks
            ],
        }


def verify(session: Session, scope: Scope, *, jobs: int = 1) -> VerifyReport:
    """Run every check on the window (events reported in it, audit days in it). Reads only
    (temporary tables of its own, dropped at the end of the transaction). ``jobs`` > 1 runs the
    checks on that many more connections at once, all reading the session's snapshot."""
    started = time.perf_counter()
    with _Steps(session, jobs) as steps:
        # the chains are most of the work: split in parts of about as many events, several
        # per connection, queued after the long single steps so the connections end together
        ranges = steps.submit(
            partial(chain_ranges, scope=scope, parts=CHAIN_PARTS_PER_JOB * jobs if jobs > 1 else 1)
        )
        statistics_step = steps.submit(partial(statistics, scope=scope))
        heads_step = steps.submit(lambda s: [sealed_days(s, scope)])
        chain_steps = [steps.submit(partial(chain_part, scope=scope, ids=ids))
                       for ids in ranges.result()[0]]  # fmt: skip
        done = [f.result() for f in chain_steps]
        chain, replay = chain_checks([part for part, _ in done])
        chain.seconds = sum(seconds for _, seconds in done) + ranges.result()[1]
        checks = [chain, replay]
        for step in (heads_step, statistics_step):
            found, seconds = step.result()
            found[0].seconds = seconds  # a step's checks share its time
            checks += found
    return VerifyReport(scope.since, scope.until, checks, time.perf_counter() - started)


class _Steps:
    """Runs steps (functions of a session) in the session, or on ``jobs`` connections of its
    engine that import the session's snapshot (so every step sees the same rows). A step's
    future gives its result and seconds."""

    def __init__(self, session: Session, jobs: int) -> None:
        self.session = session
        self.jobs = jobs
        self.pool: ThreadPoolExecutor | None = None
        self.snapshot = ""

    def __enter__(self) -> _Steps:
        if self.jobs > 1:
            snapshot = str(self.session.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            if not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):  # it is written into a statement
                raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
            self.snapshot = snapshot
            self.pool = ThreadPoolExecutor(max_workers=self.jobs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, step: Callable[[Session], Any]) -> Future[tuple[Any, float]]:
        if self.pool is None:
            done: Future[tuple[Any, float]] = Future()
            done.set_result(self._timed(step, self.session))
            return done
        return self.pool.submit(self._in_snapshot, step)

    @staticmethod
    def _timed(step: Callable[[Session], Any], on: Session) -> tuple[Any, float]:
        began = time.perf_counter()
        on.execute(text("SET LOCAL jit = off"))
        # sorts and hashes of a year's rows: in memory, not on disk
        on.execute(text(f"SET LOCAL work_mem = '{VERIFY_WORK_MEM}'"))
        return step(on), time.perf_counter() - began

    def _in_snapshot(self, step: Callable[[Session], Any]) -> tuple[Any, float]:
        engine = self.session.get_bind().engine
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{self.snapshot}'")
            with Session(bind=conn) as on:
                try:
                    return self._timed(step, on)
                finally:
                    conn.exec_driver_sql("ROLLBACK")


def verify_window(
    session: Session, since: date | None, until: date | None, *, jobs: int = 1
) -> VerifyReport:
    """``verify`` over report days ``since .. until`` (checked like every statistics window:
    ``Invalid`` naming the bound at fault). By default ``until`` is today and ``since`` the
    first report (or audit row), at most ``MAX_WINDOW_DAYS`` before ``until``."""
    tz = get_settings().tz
    until = until or utc_now().astimezone(tz).date()
    if since is None:
        first = session.execute(
            text(
                "SELECT least((SELECT min(created_at) FROM event),"
                " (SELECT min(at) FROM event_audit))"
            )
        ).scalar()
        since = first.astimezone(tz).date() if first is not None else until
        since = min(max(since, until - timedelta(days=MAX_WINDOW_DAYS - 1)), until)
    return verify(session, window(since, until), jobs=jobs)


# --- the audit log: chains and replay ------------------------------------------------------

_DERIVED = {"event_id", "category", "grid"}
#: Fields added after events were already logged (migrations 0019, 0023): the creating row of an
#: event created before that migration lacks them, and its columns were backfilled from the log
#: (0019) or hold the defaults no earlier action could change (0023), so they are compared where
#: the log carries them (every event created since: its first row
#: holds every field) — docs/decisions/0013.
_LATER_FIELDS = frozenset({
    "promised_ack_at", "promised_due_at", "rejection_note", "rejected_at",  # migration 0019
    "cycle", "request_kind", "requested_at", "request_reason", "request_deadline",  # 0023
    "parked_until", "resolution_working_time",  # 0028 (backfilled on 24x7 calendars)
    "verify_warn50_at", "verify_warn75_at", "verify_due_at",  # 0032 (pending reports backfilled)
})  # fmt: skip


def _state_mismatch_sql() -> str:
    """An array of the names of the event-row fields that differ from the replayed state
    ``s`` (the audit encoding: instants ISO 8601, durations integer microseconds; a field of
    ``_LATER_FIELDS`` only where the log carries it)."""
    table = Event.__table__  # type: ignore[attr-defined]
    terms = [
        "CASE WHEN s->>'event_id' IS DISTINCT FROM e.id::text THEN 'event_id' END",
        "CASE WHEN s->>'category' IS DISTINCT FROM c.code THEN 'category' END",
        "CASE WHEN s->>'grid' IS DISTINCT FROM g.code THEN 'grid' END",
    ]
    for name in STATE_FIELDS:
        if name in _DERIVED:
            continue
        kind = table.c[name].type
        if isinstance(kind, DateTime):
            left, right = f"(s->>'{name}')::timestamptz", f"e.{name}"
        elif isinstance(kind, Interval):
            left, right = f"(s->>'{name}')::bigint", f"(extract(epoch FROM e.{name}) * 1e6)::bigint"
        elif isinstance(kind, Integer):
            left, right = f"(s->>'{name}')::bigint", f"e.{name}::bigint"
        elif name == "warnings_sent":
            left, right = f"coalesce(s->'{name}', '[]')", f"to_jsonb(e.{name})"
        else:
            left, right = f"s->>'{name}'", f"e.{name}::text"
        logged = f"s ? '{name}' AND " if name in _LATER_FIELDS else ""
        terms.append(f"CASE WHEN {logged}{left} IS DISTINCT FROM {right} THEN '{name}' END")
    return f"array_remove(ARRAY[{', '.join(terms)}], NULL)"


def _chain_sql() -> str:
    """One pass over the audit rows of the events with ids in ``[:lo, :hi)`` in (event_id,
    version) order (an index's order: no sort of the rows), computing per row its chain link
    and the replay fold so far. Out come the rows that break the chain and, per event reported
    in the window, its last row's replayed state compared with the event row: a row per event
    at fault (several for one event possibly), and first a row of totals."""
    return f"""
    WITH x AS (
      SELECT a.event_id, a.version, a.to_status, a.to_level, a.hash IS NULL AS unhashed,
             a.hash IS DISTINCT FROM sha256(coalesce(lag(a.hash) OVER w, ''::bytea)
                                            || convert_to(audit_canonical_of(
                                              a.id, a.event_id, a.version, a.action,
                                              a.from_status, a.to_status, a.from_level,
                                              a.to_level, a.actor, a.at, a.note, a.reason,
                                              a.data), 'UTF8')) AS broken,
             a.version <> row_number() OVER w
               OR (row_number() OVER w > 1
                   AND (a.from_status IS DISTINCT FROM lag(a.to_status) OVER w
                        OR a.from_level IS DISTINCT FROM lag(a.to_level) OVER w)) AS disorder,
             row_number() OVER w AS n,
             lead(a.version) OVER w IS NULL AS last,
             -- the first row holds every field: the later (small) deltas are folded on their
             -- own and applied to it once (jsonb || keeps the right side's keys: the same fold)
             first_value(a.data) OVER w AS first,
             audit_replay(a.data) FILTER (WHERE a.version > 1) OVER w AS later
        FROM event_audit a
       WHERE a.event_id >= :lo AND a.event_id < :hi
      WINDOW w AS (PARTITION BY a.event_id ORDER BY a.version ROWS UNBOUNDED PRECEDING)
    ), y AS MATERIALIZED (  -- each event's last row, and every row breaking the chain
      SELECT event_id, version, to_status, to_level, n, last,
             broken AND NOT unhashed AS broken, unhashed, disorder,
             CASE WHEN last THEN first || coalesce(later, '{{}}') END AS s
        FROM x WHERE last OR broken OR disorder
    ), res AS MATERIALIZED (
      SELECT e.id, y.n,
             CASE WHEN y.s IS NULL THEN NULL ELSE {_state_mismatch_sql()}
               || array_remove(ARRAY[
                    CASE WHEN y.version IS DISTINCT FROM e.version THEN 'version' END,
                    CASE WHEN y.to_status IS DISTINCT FROM e.status THEN 'status' END,
                    CASE WHEN y.to_level IS DISTINCT FROM e.level THEN 'level' END],
                  NULL) END AS fields
        FROM event e
        JOIN category c ON c.id = e.category_id JOIN grid g ON g.id = e.grid_id
        LEFT JOIN y ON y.event_id = e.id AND y.last
       WHERE e.created_at >= :start AND e.created_at < :end AND e.id >= :lo AND e.id < :hi
    )
    SELECT NULL::bigint, coalesce(sum(n), 0)::bigint, count(*)::bigint, NULL::bool, NULL::bool,
           NULL::bool, NULL::text[]
      FROM res
    UNION ALL
    SELECT id, n, NULL, false, false, false, fields
      FROM res WHERE n IS NULL OR cardinality(fields) > 0
    UNION ALL
    SELECT y.event_id, y.n, NULL, y.broken, y.unhashed, y.disorder, NULL
      FROM y JOIN res ON res.id = y.event_id
     WHERE y.broken OR y.unhashed OR y.disorder
    """


def chain_ranges(session: Session, scope: Scope, parts: int) -> list[tuple[int, int]]:
    """Up to ``parts`` ranges ``[lo, hi)`` of event ids, each holding about as many of the
    window's events, together holding all of them (none when the window has no event)."""
    start, end = bounds(scope)
    first, last, cuts = session.execute(
        text("""
        SELECT min(id), max(id),
               percentile_disc(CAST(:at AS float8[])) WITHIN GROUP (ORDER BY id)
          FROM event WHERE created_at >= :start AND created_at < :end
        """),
        {"at": [i / parts for i in range(1, parts)], "start": start, "end": end},
    ).one()
    if first is None:
        return []
    edges = sorted({int(first), *(int(c) for c in cuts or ()), int(last) + 1})
    return list(zip(edges[:-1], edges[1:], strict=True))


@dataclass
class ChainPart:
    """What the chain and replay query found in one part of the window's events."""

    events: int = 0
    rows: int = 0
    broken: dict[str, list[int]] = field(default_factory=dict)
    fields: dict[str, list[int]] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)


def chain_part(session: Session, scope: Scope, ids: tuple[int, int]) -> ChainPart:
    """Chains and replay of the window's events whose id is in ``[ids[0], ids[1])``."""
    start, end = bounds(scope)
    found = ChainPart()
    params = {"start": start, "end": end, "lo": ids[0], "hi": ids[1]}
    for eid, n, events, bad, unhashed, order, differ in session.execute(text(_chain_sql()), params):
        if eid is None:
            found.events, found.rows = int(events), int(n)
        elif n is None:
            found.missing.append(eid)
        for label, flagged in (
            ("hash does not match the row and its predecessor (edited, deleted or moved row)", bad),
            ("row without a hash (inserted with the trigger off)", unhashed),
            ("versions out of sequence or a row not starting where the previous ended", order),
        ):
            if flagged and eid not in found.broken.get(label, ()):
                found.broken.setdefault(label, []).append(eid)
        for name in set(differ or ()):
            found.fields.setdefault(name, []).append(eid)
    return found


def chain_checks(parts: Sequence[ChainPart]) -> list[Check]:
    chain = Check("chain", "each audit row's hash chains to the event's previous row")
    replay = Check("replay", "each event's audit log, replayed, gives the event row")
    events = sum(p.events for p in parts)
    chain.counts = {"events": events, "audit rows": sum(p.rows for p in parts)}
    replay.counts = {"events": events}
    broken: dict[str, list[int]] = {}
    fields: dict[str, list[int]] = {}
    for p in parts:
        for label, ids in p.broken.items():
            broken.setdefault(label, []).extend(ids)
        for name, ids in p.fields.items():
            fields.setdefault(name, []).extend(ids)
    for label, ids in broken.items():
        chain.add(label, ids, events=len(ids))
    missing = [i for p in parts for i in p.missing]
    if missing:
        chain.add("event without any audit row", missing, events=len(missing))
    for name, ids in sorted(fields.items()):
        replay.add(f"event row's {name} differs from its audit log", ids, events=len(ids))
    return [chain, replay]


def sealed_days(session: Session, scope: Scope) -> Check:
    check = Check("day heads", "each sealed day's rows still give its digest and chained head")
    heads = {h.day: h for h in day_heads(session, scope.since, scope.until)}
    digests = day_digests(session, scope.since, scope.until)
    before = head_before(session, scope.since)
    previous = None if before is None else before.head
    last_sealed = max(heads) if heads else (None if before is None else before.day)
    check.counts = {
        "days sealed": len(heads),
        "days with rows": len(digests),
        "audit rows": sum(d.rows for d in digests.values()),
    }
    for day in sorted(set(heads) | set(digests)):
        head, now = heads.get(day), digests.get(day)
        if head is None:
            assert now is not None
            if last_sealed is not None and day < last_sealed:
                check.add(
                    f"{day}: {now.rows} audit rows on a day that was never sealed, "
                    f"before the sealed {last_sealed} (rows added afterwards)",
                    _event_ids_on(session, day),
                )
            else:
                check.notes.append(f"{day}: not sealed yet ({now.rows} rows)")
            continue
        rows = 0 if now is None else now.rows
        if now is None or (now.rows, now.digest) != (head.rows, head.digest):
            check.add(
                f"{day}: the rows give another digest than sealed (rows now {rows}, "
                f"sealed {head.rows})",
                _event_ids_on(session, day),
                sealed=head.digest.hex(),
                now="" if now is None else now.digest.hex(),
            )
        if day_head(previous, day, head.rows, head.digest) != head.head:
            check.add(
                f"{day}: the stored head does not follow from its digest and the "
                "previous head (the head table was edited)"
            )
        previous = head.head
    return check


def _event_ids_on(session: Session, day: date) -> list[int]:
    tz = get_settings().tz
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return [
        int(i)
        for i in session.execute(
            text("SELECT DISTINCT event_id FROM event_audit WHERE at >= :a AND at < :b"),
            {"a": start, "b": start + timedelta(days=1)},
        ).scalars()
    ]


# --- statistics: the fast path against the raw rows ---------------------------------------

_DROP_TEMP = "DROP TABLE IF EXISTS verify_counts, verify_closed"
#: Every counter of ``evaluation.models.COUNTER_COLUMNS`` recomputed from the raw events
#: reported in the window (``:start`` .. ``:end``) and their audit rows, grouped by ``{keys}``
#: (``{extra}``: more output columns) — the definitions the statistics triggers keep
#: (``stats_counts``; the audit counters: ``evaluation.auditcounts``), written out over the
#: event and audit tables: verify's recomputation and ``bench.stats``' raw side. A report linked
#: as another's duplicate counts nothing in the event counters (the original counts once); the
#: audit counters count what its log shows.
RAW_EVENT_COUNTERS = (
    """
WITH ev AS (
  SELECT e.*, c.resolve_minutes, e.duplicate_of IS NULL AS counted,
         (SELECT a.at FROM event_audit a
           WHERE a.event_id = e.id AND a.action = 'dispatch' AND a.from_status = 'registered'
           ORDER BY a.version LIMIT 1) AS first_dispatch,
         """
    + ",\n         ".join(f"{AUDIT_COUNTER_SQL[c]} AS audit_{c}" for c in AUDIT_COUNTERS)
    + f"""
    FROM event e JOIN category c ON c.id = e.category_id {AUDIT_FACTS_JOIN}
   WHERE e.created_at >= :start AND e.created_at < :end
     AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids)))
SELECT {{keys}},
       count(*) FILTER (WHERE counted) AS reported,
       count(*) FILTER (WHERE counted AND status = 'voided') AS voided,
       count(*) FILTER (WHERE counted AND status NOT IN ('pending_verification', 'voided'))
         AS registered,
       count(*) FILTER (WHERE counted AND source <> 'staff'
                        AND status NOT IN ('pending_verification', 'voided')) AS public_registered,
       count(*) FILTER (WHERE counted AND dispatched_at IS NOT NULL) AS dispatched,
       count(*) FILTER (WHERE counted AND dispatched_at IS NOT NULL
                        AND coalesce(first_dispatch <= dispatch_due_at,
                                     first_dispatch - created_at
                                     <= :limit * interval '1 minute'))
         AS dispatched_on_time,
       coalesce(sum(redispatch_count) FILTER (WHERE counted), 0) AS redispatches,
       coalesce(sum(escalation_count) FILTER (WHERE counted), 0) AS escalations,
       count(*) FILTER (WHERE counted AND status IN ('resolved', 'closed')) AS handled,
       count(*) FILTER (WHERE counted AND status IN ('resolved', 'closed')
                        AND resolved_at <= due_at) AS handled_on_time,
       coalesce(sum(rework_count) FILTER (WHERE counted), 0) AS reworks,
       count(*) FILTER (WHERE counted AND status = 'closed') AS closed,
       count(*) FILTER (WHERE counted AND status = 'closed'
                        AND closed_at - created_at <= resolve_minutes * interval '1 minute')
         AS closed_on_time,
       count(*) FILTER (WHERE counted AND status = 'closed' AND level = 0) AS closed_level0,
       count(*) FILTER (WHERE counted AND status = 'closed' AND level <= 2) AS closed_le2,
       count(*) FILTER (WHERE counted AND status IN ('resolved', 'closed')
                        AND resolved_at <= promised_due_at) AS handled_on_promise,
       """
    + ",\n       ".join(f"sum(audit_{c}) AS {c}" for c in AUDIT_COUNTERS)
    + """{extra}
  FROM ev GROUP BY {group}
"""
)
#: The counters of ``COUNTER_COLUMNS`` kept per received day, the others per report day.
KEPT_INTAKE: tuple[str, ...] = tuple(KEPT_INTAKE_SQL)
assert COUNTER_COLUMNS[-len(KEPT_INTAKE) :] == KEPT_INTAKE
_BY_REPORT_DAY = COUNTER_COLUMNS[: -len(KEPT_INTAKE)]
assert _BY_REPORT_DAY[-len(AUDIT_COUNTERS) :] == AUDIT_COUNTERS  # the SQL's order
#: The intake counters the statistics keep (``evaluation.intake.KEPT_INTAKE_SQL``) recomputed
#: from the raw reports received in the window, grouped like ``RAW_EVENT_COUNTERS``.
RAW_INTAKE_COUNTERS = (
    "SELECT {keys}, "
    + ", ".join(f"sum({KEPT_INTAKE_SQL[c]}) AS {c}" for c in KEPT_INTAKE)
    + "{extra} "
    + INTAKE_FROM_SQL
    + " WHERE "
    + INTAKE_WHERE_SQL
    + " GROUP BY {group}"
)

_RAW_COUNTERS = f"""
CREATE TEMP TABLE verify_counts ON COMMIT DROP AS
SELECT day, grid_id, category_id, {", ".join(f"sum({c}) AS {c}" for c in COUNTER_COLUMNS)}
  FROM (
    SELECT day, grid_id, category_id, {", ".join(_BY_REPORT_DAY)},
           {", ".join(f"0 AS {c}" for c in KEPT_INTAKE)}
      FROM ({RAW_EVENT_COUNTERS.format(
                keys="(created_at AT TIME ZONE :tz)::date AS day, grid_id, category_id",
                extra="", group="1, 2, 3")}) r
    UNION ALL
    SELECT day, grid_id, category_id, {", ".join(f"0 AS {c}" for c in _BY_REPORT_DAY)},
           {", ".join(KEPT_INTAKE)}
      FROM ({RAW_INTAKE_COUNTERS.format(
                keys="(e.received_at AT TIME ZONE :tz)::date AS day, e.grid_id, e.category_id",
                extra="", group="1, 2, 3")}) i
  ) x
 GROUP BY 1, 2, 3
"""  # fmt: skip
#: The events behind some counter cells (``:days``, ``:grids``, ``:categories``: the cells'
#: keys, element by element): those reported on the cell's day and those received on it, as the
#: recount above counts them — looked up only for the cells that differ.
_CELL_EVENTS = f"""
SELECT x.day, x.grid_id, x.category_id, array_agg(DISTINCT x.id ORDER BY x.id)
  FROM (
    SELECT (e.created_at AT TIME ZONE :tz)::date AS day, e.grid_id, e.category_id, e.id
      FROM event e WHERE e.created_at >= :start AND e.created_at < :end
    UNION ALL
    SELECT (e.received_at AT TIME ZONE :tz)::date, e.grid_id, e.category_id, e.id
      {INTAKE_FROM_SQL} WHERE {INTAKE_WHERE_SQL}
  ) x
  JOIN unnest(CAST(:days AS date[]), CAST(:cell_grids AS integer[]),
              CAST(:categories AS integer[])) AS u(day, grid_id, category_id)
    USING (day, grid_id, category_id)
 GROUP BY 1, 2, 3
"""

_RAW_CLOSED = """
CREATE TEMP TABLE verify_closed ON COMMIT DROP AS
SELECT e.id, (e.created_at AT TIME ZONE :tz)::date AS day, e.grid_id, e.category_id,
       g.community_id, g.subdistrict_id, e.level,
       greatest(0, floor(extract(epoch FROM e.closed_at - e.created_at) / 60))::int AS minutes,
       floor(extract(epoch FROM e.resolution_working_time) / 60)::int AS working_minutes,
       (e.closed_at - e.created_at <= c.resolve_minutes * interval '1 minute') AS on_time
  FROM event e JOIN category c ON c.id = e.category_id JOIN grid g ON g.id = e.grid_id
 WHERE e.status = 'closed' AND e.created_at >= :start AND e.created_at < :end
"""

_GROUP_KEYS = {
    GroupBy.grid: ("JOIN grid k ON k.id = v.grid_id", "k.code"),
    GroupBy.community: ("JOIN community k ON k.id = v.community_id", "k.code"),
    GroupBy.subdistrict: ("JOIN subdistrict k ON k.id = v.subdistrict_id", "k.code"),
    GroupBy.category: ("JOIN category k ON k.id = v.category_id", "k.code"),
    GroupBy.level: ("", "v.level::text"),
}


def statistics(session: Session, scope: Scope) -> list[Check]:
    start, end = bounds(scope)
    tz = get_settings().timezone
    limit = session.execute(
        text("SELECT value FROM stats_setting WHERE key = 'dispatch_limit_minutes'")
    ).scalar_one()
    params = {"start": start, "end": end, "tz": tz, "limit": limit, "grids": None}
    session.execute(text(_DROP_TEMP))  # a second run in the same transaction
    _index_lookups_cost_what_they_do(session)
    session.execute(text(_RAW_COUNTERS), params)
    session.execute(text(_RAW_CLOSED), params)
    base = Check(
        "statistics tables",
        "the counters and histograms kept by the triggers equal "
        "the raw events, per report day, grid and category",
    )
    _compare_counters(session, scope, base, params)
    _compare_histograms(session, scope, base)
    _compare_patrols(session, scope, base, params)
    _compare_verify_deadlines(session, params, base)
    served = Check(
        "served figures",
        "indicators, resolution tables and the scorecard as served "
        "(sealed blocks) equal the same figures from the raw rows",
    )
    now = utc_now()  # which pending verifications are overdue: the same instant for both
    raw = _raw_grid_totals(session, scope, params, now)
    report = indicator_report(session=session, scope=scope, now=now)
    units, card = scorecard_units(session=session, scope=scope, now=now)
    _compare_indicators(served, report, raw)
    _compare_resolution(session, scope, served)
    _compare_scorecard(session, served, units, card, raw)
    session.execute(text(_DROP_TEMP))
    return [base, served, sanity.check_report(session, scope, (report, units, card))]


_VERIFY_DEADLINES = """
SELECT coalesce(array_agg(e.id ORDER BY e.id), '{}')
  FROM public_report p JOIN event e ON e.id = p.event_id
 WHERE e.received_at >= :start AND e.received_at < :end
   AND e.verify_due_at IS NOT NULL AND e.verify_due_at <> p.verify_due_at
"""


def _compare_verify_deadlines(session: Session, params: Mapping[str, Any], check: Check) -> None:
    """按时核实 counts against ``public_report.verify_due_at``; the verification clock's
    deadline is ``event.verify_due_at`` (the audit log's, replayed by the chain check). They
    are one deadline (docs/decisions/0026): a report whose two differ is a discrepancy (reports
    from before migration 0032 have no clock mark and are not compared)."""
    ids = session.execute(text(_VERIFY_DEADLINES), params).scalar_one()
    if ids:
        check.add(
            "public reports whose 按时核实 deadline (public_report.verify_due_at) is not their "
            "verification clock's (event.verify_due_at)",
            [int(i) for i in ids],
        )


def _compare_counters(
    session: Session, scope: Scope, check: Check, params: Mapping[str, Any]
) -> None:
    cols = COUNTER_COLUMNS
    differ = " OR ".join(f"coalesce(r.{c}, 0) <> coalesce(f.{c}, 0)" for c in cols)
    rows = session.execute(
        text(f"""
        SELECT coalesce(r.day, f.day), coalesce(r.grid_id, f.grid_id),
               coalesce(r.category_id, f.category_id),
               {", ".join(f"coalesce(r.{c}, 0), coalesce(f.{c}, 0)" for c in cols)}
          FROM verify_counts r
          FULL JOIN (SELECT * FROM stats_daily WHERE day BETWEEN :a AND :b) f
            USING (day, grid_id, category_id)
         WHERE {differ}
        """),
        {"a": scope.since, "b": scope.until},
    ).all()
    check.counts["day × grid × category cells"] = int(
        session.execute(text("SELECT count(*) FROM verify_counts")).scalar_one()
    )
    check.counts["events"] = int(
        session.execute(text("SELECT coalesce(sum(reported), 0) FROM verify_counts")).scalar_one()
    )
    cells = [tuple(row[:3]) for row in rows]
    ids = _cell_events(session, cells, params) if cells else {}
    for row in rows:
        day, grid_id, category_id = row[:3]
        values = row[3:]
        diffs = {
            c: f"raw {values[2 * i]} vs stored {values[2 * i + 1]}"
            for i, c in enumerate(cols)
            if values[2 * i] != values[2 * i + 1]
        }
        check.add(
            f"counters of {day}, grid id {grid_id}, category id {category_id}",
            ids.get((day, grid_id, category_id), ()),
            **diffs,
        )


def _cell_events(
    session: Session, cells: Sequence[tuple[Any, ...]], params: Mapping[str, Any]
) -> dict[tuple[Any, ...], list[int]]:
    """The events behind each (day, grid id, category id) cell (``_CELL_EVENTS``)."""
    found = session.execute(
        text(_CELL_EVENTS),
        {
            **params,
            "days": [c[0] for c in cells],
            "cell_grids": [c[1] for c in cells],
            "categories": [c[2] for c in cells],
        },
    ).all()
    return {(day, grid, category): list(ids) for day, grid, category, ids in found}


def _compare_histograms(session: Session, scope: Scope, check: Check) -> None:
    for clock, table in RESOLUTION_TABLES.items():
        minutes = "minutes" if clock is ResolutionClock.wall else "working_minutes"
        rows = session.execute(
            text(f"""
            WITH r AS (
              SELECT day, grid_id, category_id, level, {minutes} AS minutes, count(*) AS n,
                     count(*) FILTER (WHERE on_time) AS ontime
                FROM verify_closed WHERE {minutes} IS NOT NULL GROUP BY 1, 2, 3, 4, 5)
            SELECT day, grid_id, category_id, level, minutes,
                   coalesce(r.n, 0), coalesce(f.n, 0), coalesce(r.ontime, 0),
                   coalesce(f.ontime, 0)
              FROM r FULL JOIN (SELECT * FROM {table} WHERE day BETWEEN :a AND :b) f
                USING (day, grid_id, category_id, level, minutes)
             WHERE coalesce(r.n, 0) <> coalesce(f.n, 0)
                OR coalesce(r.ontime, 0) <> coalesce(f.ontime, 0)
            """),
            {"a": scope.since, "b": scope.until},
        ).all()
        label = "" if clock is ResolutionClock.wall else " (working time)"
        ids = _closed_events(session, minutes, [tuple(r[:5]) for r in rows]) if rows else {}
        for day, grid_id, category_id, level, m, rn, fn, ro, fo in rows:
            check.add(
                f"resolution histogram{label} of {day}, grid id {grid_id}",
                ids.get((day, grid_id, category_id, level, m), ()),
                closed=f"raw {rn} vs stored {fn}",
                on_time=f"raw {ro} vs stored {fo}",
            )
    check.counts["closed events (histograms)"] = int(
        session.execute(text("SELECT count(*) FROM verify_closed")).scalar_one()
    )


def _closed_events(
    session: Session, minutes: str, cells: Sequence[tuple[Any, ...]]
) -> dict[tuple[Any, ...], list[int]]:
    """The closed events behind each (day, grid id, category id, level, minutes) histogram
    cell, from ``verify_closed`` (``minutes``: its wall or working minutes column)."""
    found = session.execute(
        text(f"""
        SELECT v.day, v.grid_id, v.category_id, v.level, v.{minutes},
               array_agg(v.id ORDER BY v.id)
          FROM verify_closed v
          JOIN unnest(CAST(:days AS date[]), CAST(:grids AS integer[]),
                      CAST(:categories AS integer[]), CAST(:levels AS integer[]),
                      CAST(:minutes AS integer[])) AS u(day, grid_id, category_id, level, m)
            ON (v.day, v.grid_id, v.category_id, v.level, v.{minutes})
             = (u.day, u.grid_id, u.category_id, u.level, u.m)
         GROUP BY 1, 2, 3, 4, 5
        """),
        {
            name: [c[i] for c in cells]
            for i, name in enumerate(("days", "grids", "categories", "levels", "minutes"))
        },
    ).all()
    return {tuple(row[:5]): list(row[5]) for row in found}


_RAW_PATROL_DAYS = """
SELECT DISTINCT p.grid_id, (p.started_at AT TIME ZONE :tz)::date AS day
  FROM patrol p
 WHERE p.started_at >= :start AND p.started_at < :end
   AND (p.track IS NOT NULL OR EXISTS (SELECT 1 FROM patrol_point pp WHERE pp.patrol_id = p.id))
"""


def _compare_patrols(
    session: Session, scope: Scope, check: Check, params: Mapping[str, Any]
) -> None:
    raw = set(session.execute(text(_RAW_PATROL_DAYS), dict(params)).all())
    stored = set(
        session.execute(
            text(
                "SELECT DISTINCT grid_id, day FROM stats_patrol_walked WHERE day BETWEEN :a AND :b"
            ),
            {"a": scope.since, "b": scope.until},
        ).all()
    )
    check.counts["patrolled grid-days"] = len(raw)
    for grid_id, day in sorted(raw ^ stored):
        where = "raw patrols only" if (grid_id, day) in raw else "statistics only"
        check.add(f"patrolled grid-day {day}, grid id {grid_id}: {where}")


def _index_lookups_cost_what_they_do(session: Session) -> None:
    """Index lookups per event cost what PostgreSQL's default random_page_cost (4, for spinning
    disks) makes them look: a month's audit rows are then read by a scan of the whole table (3 s
    instead of 0.8 s on the 1 M-event year). For the rest of the transaction."""
    session.execute(text("SET LOCAL random_page_cost = 1.1"))


def _raw_grid_totals(
    session: Session, scope: Scope, params: Mapping[str, Any], now: datetime
) -> dict[int, dict[str, float]]:
    """Every counter per grid from the raw rows: the event counters from ``verify_counts``,
    the others as ``raw_counter_totals`` computes them."""
    sums = ", ".join(f"sum({c})" for c in COUNTER_COLUMNS)
    out: dict[int, dict[str, float]] = {}
    for row in session.execute(text(f"SELECT grid_id, {sums} FROM verify_counts GROUP BY 1")):
        out[int(row[0])] = {c: float(v or 0) for c, v in zip(COUNTER_COLUMNS, row[1:], strict=True)}
    _add_raw_other_counters(session, scope, params, now, out, per_grid=True)
    return out


#: The counters the indicators read, each recomputed from raw rows by ``raw_counter_totals``.
RAW_COUNTERS: tuple[str, ...] = (
    *COUNTER_COLUMNS, "patrolled_grid_days", "verifications_due",
)  # fmt: skip


def raw_counter_totals(
    session: Session, scope: Scope, *, now: datetime, per_grid: bool
) -> dict[int, dict[str, float]]:
    """Every counter the indicators and the scorecard read (``RAW_COUNTERS``) per grid (or,
    key 0, over the scope's grids), recomputed from the raw event, audit, public-report and
    patrol rows — the definitions ``verify`` holds the fast path to; ``now`` decides which
    pending verifications are overdue."""
    start, end = bounds(scope)
    limit = session.execute(
        text("SELECT value FROM stats_setting WHERE key = 'dispatch_limit_minutes'")
    ).scalar_one()
    grids = None if scope.grid_ids is None else list(scope.grid_ids)
    params = {"start": start, "end": end, "tz": get_settings().timezone, "limit": limit,
              "grids": grids}  # fmt: skip
    key = "grid_id" if per_grid else "0"
    sql = RAW_EVENT_COUNTERS.format(keys=key, extra="", group="1")
    _index_lookups_cost_what_they_do(session)
    out: dict[int, dict[str, float]] = {}
    for row in session.execute(text(sql), params):
        out[int(row[0])] = {c: float(v or 0) for c, v in zip(_BY_REPORT_DAY, row[1:], strict=True)}
    intake = RAW_INTAKE_COUNTERS.format(keys=f"e.{key}" if per_grid else key, extra="", group="1")
    for row in session.execute(text(intake), {**params, "now": now}):
        out.setdefault(int(row[0]), {}).update(
            {c: float(v or 0) for c, v in zip(KEPT_INTAKE, row[1:], strict=True)}
        )
    _add_raw_other_counters(session, scope, params, now, out, per_grid=per_grid)
    return out


def _add_raw_other_counters(
    session: Session,
    scope: Scope,
    params: Mapping[str, Any],
    now: datetime,
    out: dict[int, dict[str, float]],
    *,
    per_grid: bool,
) -> None:
    """Patrolled grid-days and the intake counters from the raw rows,
    merged into ``out`` (every counter present in every entry, 0 when missing)."""
    patrols = f"SELECT {'grid_id' if per_grid else '0'}, count(*) FROM ({_RAW_PATROL_DAYS}) d"
    if scope.grid_ids is not None:
        patrols += " WHERE grid_id = ANY(:grids)"
    found: list[dict[int, dict[str, float]]] = [
        {int(g): {"patrolled_grid_days": float(n)}
         for g, n in session.execute(text(patrols + " GROUP BY 1"), dict(params))},
        intake_sums(session, scope, per_grid=per_grid, now=now),
    ]  # fmt: skip
    for part in found:
        for key, values in part.items():
            out.setdefault(key, {}).update(values)
    for values in out.values():
        for name in RAW_COUNTERS:
            values.setdefault(name, 0.0)


def differing_counters(
    served: Mapping[str, float], raw: Mapping[int, Mapping[str, float]]
) -> dict[str, tuple[float, float]]:
    """The counters whose served total differs from the raw rows' (summed over ``raw``'s
    keys): name -> (served, raw)."""
    out: dict[str, tuple[float, float]] = {}
    for name in RAW_COUNTERS:
        mine = sum(v.get(name, 0.0) for v in raw.values())
        if served.get(name, 0.0) != mine:
            out[name] = (served.get(name, 0.0), mine)
    return out


def _compare_indicators(
    check: Check, served: IndicatorReport, per_grid: Mapping[int, Mapping[str, float]]
) -> None:
    totals = dict(served.totals)  # the map's figures (coverage, staffing) describe the map now
    for name in RAW_COUNTERS:
        totals[name] = sum(v.get(name, 0.0) for v in per_grid.values())
    check.counts["indicators"] = len(served.values)
    for value in served.values:
        raw = evaluate(value.indicator, totals)
        if (raw.numerator, raw.denominator, raw.value) != (
            value.numerator,
            value.denominator,
            value.value,
        ):
            check.add(
                f"indicator {value.indicator.code} ({value.indicator.name})",
                served=f"{value.numerator}/{value.denominator} = {value.value}",
                raw=f"{raw.numerator}/{raw.denominator} = {raw.value}",
            )


def _compare_resolution(session: Session, scope: Scope, check: Check) -> None:
    compared = 0
    for (group_by, (join, key)), clock in product(_GROUP_KEYS.items(), ResolutionClock):
        minutes = "minutes" if clock is ResolutionClock.wall else "working_minutes"
        table = resolution_table(session=session, scope=scope, group_by=group_by, clock=clock)
        served: dict[str, Resolution] = {r.group: r for r in table.rows if r.count}
        served["(total)"] = table.total
        raw: dict[str, tuple[Any, ...]] = {}
        for row in session.execute(
            text(f"""
            SELECT {key}, count(*), avg({minutes}),
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY {minutes}),
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY {minutes}),
                   percentile_disc(0.95) WITHIN GROUP (ORDER BY {minutes}),
                   max({minutes}), count(*) FILTER (WHERE on_time)
              FROM verify_closed v {join} WHERE {minutes} IS NOT NULL GROUP BY ROLLUP ({key})
            """)
        ):
            raw["(total)" if row[0] is None else str(row[0])] = tuple(row[1:])
        raw.setdefault("(total)", (0, None, None, None, None, None, 0))
        for group in sorted(set(served) | set(raw)):
            compared += 1
            s = served.get(group)
            mine = (s.count, s.p50, s.p90, s.p95, s.max, s.on_time) if s else None
            r = raw.get(group)
            theirs = (int(r[0]), r[2], r[3], r[4], r[5], int(r[6])) if r else None
            if r is not None and not r[0]:
                theirs = (0, None, None, None, None, 0)
            mean_ok = (
                s is None
                or r is None
                or s.mean is None
                or r[1] is None
                or abs(float(s.mean) - float(r[1])) < 0.01
            )
            if mine != theirs or not mean_ok:
                label = "" if clock is ResolutionClock.wall else " (working time)"
                check.add(f"resolution{label} by {group_by.value} {group}", served=mine, raw=theirs)
    check.counts["resolution groups"] = compared


def _compare_scorecard(
    session: Session,
    check: Check,
    units: Sequence[ScoredUnit],
    card: Scorecard,
    raw: Mapping[int, Mapping[str, float]],
) -> None:
    # by code: a community's name is unique only within its subdistrict
    grid_of = {
        code: (gid, community, subdistrict)
        for code, gid, community, subdistrict in session.execute(
            text("""
            SELECT g.code, g.id, c.code, s.code FROM grid g
              JOIN community c ON c.id = g.community_id
              JOIN subdistrict s ON s.id = g.subdistrict_id
            """)
        ).all()
    }
    # each grid's raw totals, and their sums per community and per subdistrict (graded whole)
    sums: dict[tuple[str, str], dict[str, float]] = {}
    for unit in units:
        if unit.kind != "grid":
            continue
        gid, community, subdistrict = grid_of[unit.code]
        totals = dict(unit.totals)
        for name in RAW_COUNTERS:
            totals[name] = raw.get(gid, {}).get(name, 0.0)
        sums[("grid", unit.code)] = totals
        for key in (("community", community), ("subdistrict", subdistrict)):
            agg = sums.setdefault(key, {})
            for k, v in totals.items():
                agg[k] = agg.get(k, 0.0) + v
    for unit in units:
        totals = sums.get((unit.kind, unit.code), {})
        values = {i.code: evaluate(i, totals).value for i in INDICATORS if i.code in unit.values}
        mine = score(card, values)
        if (mine.score, mine.grade) != (unit.result.score, unit.result.grade):
            check.add(
                f"scorecard of {unit.kind} {unit.code}",
                served=(unit.result.score, unit.result.grade),
                raw=(mine.score, mine.grade),
            )
    check.counts["scorecard units"] = len(units)
