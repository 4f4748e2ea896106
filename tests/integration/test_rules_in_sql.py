"""Rules written once in the domain, and their SQL: for random cases (and every boundary), the
SQL that lists, the board, the sweep and the statistics run agrees with the Python rule.

- SLA state, overdue, due breaches and the first breach (``dispatch.sla``) against
  ``domain.lifecycle`` (``sla_state``, ``current_timer_due``, ``timer_due_at``), for marks
  planned on the 24×7 and the Chinese working calendars;
- jurisdiction (``staff.jurisdiction``) against ``domain.jurisdiction`` (``within``,
  ``can_see``, ``serves``);
- the statistics counters (SQL ``stats_counts``) against ``domain.evaluation.counters``.

Each family is one batch of cases evaluated in one query, inside the test's transaction.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    Connection,
    DateTime,
    Integer,
    Interval,
    MetaData,
    String,
    Table,
    select,
    text,
)
from sqlmodel import Session

from dispatch import sla
from domain.calendar import CONTINUOUS
from domain.evaluation.counters import EventFacts, counts
from domain.evaluation.indicators import AUDIT_COUNTERS
from domain.jurisdiction import Place, Principal, can_see, serves, within
from domain.lifecycle import EventState, SlaState, Status, TimerKind, current_timer_due, sla_state
from domain.lifecycle.model import (
    ACK_TIMERS,
    DISPATCH_TIMERS,
    RESOLVE_TIMERS,
    REVIEW_TIMERS,
    RUNNING_CLOCKS,
    VERIFY_TIMERS,
)
from domain.lifecycle.sla import BREACH_TIMER, plan_marks, timer_due_at
from domain.roles import LEVELS, Role
from evaluation.indicators import indicator_report
from evaluation.intake import KEPT_INTAKE_SQL
from evaluation.models import COUNTER_COLUMNS
from evaluation.scope import Scope
from evaluation.verify import differing_counters, raw_counter_totals
from staff.jurisdiction import serving_sql, visible_sql, within_sql
from tests.conftest import Clock
from tests.kit.data import cn_calendar
from tests.kit.events import MakeEvent

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
CASES = 3000

# --- SLA ---------------------------------------------------------------------------------------

_MARK_COLUMNS = (
    "ack_warn50_at", "ack_warn75_at", "resolve_warn50_at", "resolve_warn75_at",
    "dispatch_warn50_at", "dispatch_warn75_at", "dispatch_due_at",
    "review_warn50_at", "review_warn75_at", "review_due_at",
    "verify_warn50_at", "verify_warn75_at", "verify_due_at",
)  # fmt: skip
#: The seeded Chinese working calendar (调休, lunch breaks, summer hours) and 24×7.
_CALENDARS = (CONTINUOUS, cn_calendar())

_sla_cases = Table(
    "sla_case",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("status", String),
    Column("ack_due_at", DateTime(timezone=True)),
    Column("due_at", DateTime(timezone=True)),
    Column("ack_allowance", Interval),
    Column("resolve_allowance", Interval),
    *(Column(name, DateTime(timezone=True)) for name in _MARK_COLUMNS),
    Column("warnings_sent", ARRAY(String)),
    Column("now", DateTime(timezone=True)),
    prefixes=["TEMPORARY"],
)


def _allowance(rng: random.Random) -> timedelta:
    """Whole seconds mostly (as minutes make them), odd microseconds sometimes."""
    if rng.random() < 0.7:
        return timedelta(seconds=rng.randint(1, 7200))
    return timedelta(microseconds=rng.randint(1, 10**10))


def _sla_case(rng: random.Random) -> tuple[EventState, datetime]:
    """A state whose marks the domain planned on a calendar (24×7 or the Chinese working days,
    dispatched anywhere in 2024–2026), sometimes after a suspension, and an instant near one of
    its marks or anywhere."""
    status = rng.choice(list(Status))
    calendar = rng.choice(_CALENDARS)
    ack_allowance, resolve_allowance = _allowance(rng), _allowance(rng)
    dispatched = T0 + timedelta(seconds=rng.randint(-700 * 86_400, 200 * 86_400))
    base = EventState(event_id="1", status=status, level=rng.randint(0, 3), created_at=T0)
    marks: dict[str, Any] = {}
    for allowance, kinds in ((ack_allowance, ACK_TIMERS), (resolve_allowance, RESOLVE_TIMERS)):
        left = allowance * rng.choice([1.0, 1.0, rng.random()])  # < 1: resumed after a pause
        marks.update(plan_marks(calendar, dispatched, allowance, left, kinds, base).at)
    for kinds in (VERIFY_TIMERS, DISPATCH_TIMERS, REVIEW_TIMERS):  # stage clocks: never paused
        allowance = _allowance(rng)
        marks.update(plan_marks(calendar, dispatched, allowance, allowance, kinds, base).at)
    if rng.random() < 0.1:
        marks = dict.fromkeys(("ack_due_at", "ack_warn50_at", "ack_warn75_at"))
    elif rng.random() < 0.1:
        marks = dict.fromkeys(("due_at", "resolve_warn50_at", "resolve_warn75_at"))
    elif rng.random() < 0.1:  # registered or resolved before the stage clocks existed
        marks |= dict.fromkeys(("dispatch_due_at", "dispatch_warn50_at", "dispatch_warn75_at"))
        marks |= dict.fromkeys(("review_due_at", "review_warn50_at", "review_warn75_at"))
    elif rng.random() < 0.1:  # a staff report, or received before the verification clock
        marks |= dict.fromkeys(("verify_due_at", "verify_warn50_at", "verify_warn75_at"))
    sent = frozenset(k for k in TimerKind if rng.random() < 0.3)
    state = replace(
        base,
        **marks,
        ack_allowance=ack_allowance,
        resolve_allowance=resolve_allowance,
        warnings_sent=sent,
        deadline_version=1,
    )
    # instants around every mark of either clock, and anywhere
    planned = [v for v in (timer_due_at(state, k) for k in TimerKind) if v is not None]
    if not planned or rng.random() < 0.2:
        now = dispatched + timedelta(seconds=rng.randint(-60, 2 * 86_400))
    else:
        mark = rng.choice(planned)
        now = mark + rng.choice([-US, timedelta(0), US, timedelta(seconds=rng.randint(-99, 99))])
    return state, now


def test_sla_sql_agrees_with_the_domain(db: Session) -> None:
    rng = random.Random(20261129)
    cases = [_sla_case(rng) for _ in range(CASES)]
    conn = db.connection()
    _sla_cases.create(conn)
    conn.execute(
        _sla_cases.insert(),
        [
            {
                "id": i,
                "status": s.status.value,
                "ack_due_at": s.ack_due_at,
                "due_at": s.due_at,
                "ack_allowance": s.ack_allowance,
                "resolve_allowance": s.resolve_allowance,
                **{name: getattr(s, name) for name in _MARK_COLUMNS},
                "warnings_sent": sorted(k.value for k in s.warnings_sent),
                "now": now,
            }
            for i, (s, now) in enumerate(cases)
        ],
    )
    t = _sla_cases
    rows = conn.execute(
        select(
            t.c.id,
            sla.sla_state(t, t.c.now),
            sla.overdue(t, t.c.now),
            sla.first_breach_at(t),
            sla.clocked(t),
            *(sla.breach_pending(t, kind, t.c.now) for kind in BREACH_TIMER.values()),
        ).order_by(t.c.id)
    ).all()
    assert len(rows) == CASES
    seen = set()
    late_seen = set()
    for (state, now), (_, sql_state, sql_overdue, first, clocked, *lates) in zip(
        cases, rows, strict=True
    ):
        where = f"{state} at {now}"
        expected = sla_state(state, now)
        seen.add(expected)
        assert sql_state == expected.value, where
        assert bool(sql_overdue) is (expected is SlaState.BREACHED), where
        for kind, late in zip(BREACH_TIMER.values(), lates, strict=True):
            due = current_timer_due(state, kind, state.deadline_version)
            assert bool(late) is (due is not None and due <= now), (kind, where)
            if late:
                late_seen.add(kind)
        marks = [
            timer_due_at(state, BREACH_TIMER[clock])
            for clock in RUNNING_CLOCKS.get(state.status, ())
        ]
        present = [m for m in marks if m is not None]
        assert first == (min(present) if present else None), where
        assert bool(clocked) is (state.status in RUNNING_CLOCKS), where
    assert seen == set(SlaState)  # the batch reached every state
    assert late_seen == set(BREACH_TIMER.values())  # and a pending breach of every clock


# --- jurisdiction ------------------------------------------------------------------------------

_places = Table(
    "place_case",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("grid_id", Integer),
    Column("community_id", Integer),
    Column("department", String),
    Column("assignee_id", Integer),
    Column("reporter_id", Integer),
    prefixes=["TEMPORARY"],
)
_people = Table(
    "person_case",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("role", String),
    Column("grid_id", Integer),
    Column("community_id", Integer),
    Column("department", String),
    prefixes=["TEMPORARY"],
)


def _maybe(rng: random.Random, *values: Any) -> Any:
    return rng.choice([None, *values])


def test_jurisdiction_sql_agrees_with_the_domain(db: Session) -> None:
    rng = random.Random(7)
    conn = db.connection()
    _places.create(conn)
    _people.create(conn)
    places = [
        {
            "id": i,
            "grid_id": _maybe(rng, 1, 2, 3),
            "community_id": _maybe(rng, 1, 2),
            "department": _maybe(rng, "cg", "ga"),
            "assignee_id": _maybe(rng, 1, 2, 3, 4),
            "reporter_id": _maybe(rng, 1, 2, 3, 4),
        }
        for i in range(400)
    ]
    people = [
        {
            "id": i,
            "role": rng.choice(list(Role)).value,
            "grid_id": _maybe(rng, 1, 2, 3),
            "community_id": _maybe(rng, 1, 2),
            "department": _maybe(rng, "cg", "ga"),
        }
        for i in range(60)
    ]
    conn.execute(_places.insert(), places)
    conn.execute(_people.insert(), people)

    def place(row: dict[str, Any]) -> Place:
        return Place(row["grid_id"], row["community_id"], row["department"])

    p = _places
    for person in people:
        principal = Principal(
            user_id=person["id"],
            staff_id=rng.randint(1, 4),
            username="x",
            role=Role(person["role"]),
            grid_id=person["grid_id"],
            community_id=person["community_id"],
            department=person["department"],
        )
        columns = {"grid": p.c.grid_id, "community": p.c.community_id, "department": p.c.department}
        inside = set(conn.execute(select(p.c.id).where(within_sql(principal, **columns))).scalars())
        assert inside == {r["id"] for r in places if within(principal, place(r))}, principal
        involved = (p.c.assignee_id, p.c.reporter_id)
        visible = set(
            conn.execute(
                select(p.c.id).where(visible_sql(principal, **columns, involved=involved))
            ).scalars()
        )
        expected = {
            r["id"]
            for r in places
            if can_see(principal, place(r), (r["assignee_id"], r["reporter_id"]))
        }
        assert visible == expected, principal
    s = _people
    for row in places[:60]:
        where = place(row)
        for level in LEVELS:
            chosen = set(
                conn.execute(
                    select(s.c.id).where(
                        serving_sql(
                            level,
                            where,
                            role=s.c.role,
                            grid=s.c.grid_id,
                            community=s.c.community_id,
                            department=s.c.department,
                        )
                    )
                ).scalars()
            )
            expected = {r["id"] for r in people if serves(Role(r["role"]), place(r), level, where)}
            assert chosen == expected, (level, where)


# --- the statistics counters -------------------------------------------------------------------


def _facts(rng: random.Random) -> EventFacts:
    created = T0 + timedelta(seconds=rng.randint(0, 86_400))

    def after(base: datetime) -> datetime | None:
        return None if rng.random() < 0.2 else base + timedelta(seconds=rng.randint(0, 7200))

    dispatched = after(created)
    resolved = after(dispatched or created)
    return EventFacts(
        status=rng.choice(list(Status)),
        source=rng.choice(["staff", "public", "hotline"]),
        level=rng.randint(0, 3),
        created_at=created,
        dispatched_at=dispatched,
        resolved_at=resolved,
        due_at=after(created),
        promised_due_at=after(created),
        closed_at=after(resolved or created),
        redispatch_count=rng.randint(0, 2),
        escalation_count=rng.randint(0, 2),
        rework_count=rng.randint(0, 2),
        duplicate_of=rng.choice([None, None, None, 1]),
    )


def test_statistics_counters_agree_with_the_domain(db: Session) -> None:
    """``stats_counts(event, resolve_minutes)`` — what the triggers and the rebuild count —
    equals ``domain.evaluation.counters.counts`` on random events."""
    rng = random.Random(11)
    conn = db.connection()
    # a table of the event's own row type, without its constraints and triggers
    conn.execute(text("CREATE TEMPORARY TABLE event_case (LIKE event INCLUDING DEFAULTS)"))
    minutes = 45.0
    facts = [_facts(rng) for _ in range(CASES)]
    conn.execute(
        text("""
        INSERT INTO event_case (id, client_id, request_hash, category_id, grid_id, community_id,
            description, geom, coord, orig_lon, orig_lat, snapped, distance_m, received_at, status,
            level, version, deadline_version, source, created_at, dispatched_at, resolved_at,
            due_at, closed_at, redispatch_count, escalation_count, rework_count, duplicate_of,
            promised_due_at)
        VALUES (:id, gen_random_uuid(), '', 1, 1, 1, '', ST_MakePoint(0, 0), 'wgs84', 0, 0,
            false, 0, :created_at, :status, :level, 1, 1, :source, :created_at, :dispatched_at,
            :resolved_at, :due_at, :closed_at, :redispatch_count, :escalation_count,
            :rework_count, :duplicate_of, :promised_due_at)
        """),
        [{**f.__dict__, "status": f.status.value, "id": i} for i, f in enumerate(facts)],
    )
    kept_elsewhere = {"dispatched_on_time", *AUDIT_COUNTERS, *KEPT_INTAKE_SQL}
    names = [c for c in COUNTER_COLUMNS if c not in kept_elsewhere]
    rows = conn.execute(
        text(
            f"SELECT {', '.join(f'(c).{n}' for n in names)} FROM ("
            " SELECT id, stats_counts(CAST(ROW(v.*) AS event), :minutes) AS c FROM event_case v"
            ") x ORDER BY id"
        ),
        {"minutes": minutes},
    ).all()
    for f, row in zip(facts, rows, strict=True):
        assert dict(zip(names, row, strict=True)) == counts(f, minutes), f


# --- the intake counters (the public door's indicators) ----------------------------------------


def test_intake_counters_agree_with_the_domain(db: Session) -> None:
    """``evaluation.intake.INTAKE_SQL`` equals ``domain.evaluation.intake.intake_counts`` on
    random reports (sources, links, deadlines, verification times and outcomes)."""
    from domain.evaluation.intake import INTAKE_COUNTERS, ReportFacts, intake_counts
    from domain.intake import Outcome
    from evaluation.intake import INTAKE_SQL

    rng = random.Random(12)
    now = T0 + timedelta(hours=12)
    conn = db.connection()
    conn.execute(text("CREATE TEMPORARY TABLE e (id bigint, source text, duplicate_of bigint)"))
    conn.execute(
        text(
            "CREATE TEMPORARY TABLE p (event_id bigint, verify_due_at timestamptz,"
            " verified_at timestamptz, outcome text)"
        )
    )
    facts: list[ReportFacts] = []
    for i in range(CASES):
        source = rng.choice(["staff", "public", "hotline"])
        public = source != "staff"
        due = T0 + timedelta(minutes=rng.randint(0, 24 * 60)) if public else None
        verified = (
            None
            if not public or rng.random() < 0.3
            else T0 + timedelta(minutes=rng.randint(0, 24 * 60))
        )
        outcome = None if verified is None else rng.choice(list(Outcome))
        f = ReportFacts(source, rng.choice([None, None, 1]), due, verified, outcome)
        facts.append(f)
        conn.execute(
            text("INSERT INTO e VALUES (:i, :s, :d)"), {"i": i, "s": source, "d": f.duplicate_of}
        )
        if public:
            conn.execute(
                text("INSERT INTO p VALUES (:i, :due, :v, :o)"),
                {"i": i, "due": due, "v": verified, "o": outcome.value if outcome else None},
            )
    sums = ", ".join(INTAKE_SQL[c] for c in INTAKE_COUNTERS)
    rows = conn.execute(
        text(f"SELECT {sums} FROM e LEFT JOIN p ON p.event_id = e.id ORDER BY e.id"),
        {"now": now},
    ).all()
    for f, row in zip(facts, rows, strict=True):
        assert dict(zip(INTAKE_COUNTERS, row, strict=True)) == intake_counts(f, now), f


# --- the audit counters (立案, 核查) kept per audit row -----------------------------------------


#: What a decision on a holder's request logs beside its delta (who asked, why).
_DECIDED = {"asked_by": "2", "asked_reason": "test"}


def _log(
    conn: Connection,
    event_id: int,
    rows: list[tuple[str, str, str, datetime]],
    data: Mapping[int, Mapping[str, str]] | None = None,
) -> None:
    """Append audit rows (action, from_status, to_status, at) after the event's last one, and
    leave the event row at the last status (as the store does: the row, then its audit).
    ``data``: the logged delta of some rows, by their index in ``rows``."""
    version = int(
        conn.execute(
            text("SELECT max(version) FROM event_audit WHERE event_id = :e"), {"e": event_id}
        ).scalar_one()
    )
    for i, (action, before, after, at) in enumerate(rows):
        version += 1
        logged = dict((data or {}).get(i, {}))
        if action.startswith("approve_"):
            logged |= _DECIDED
        conn.execute(
            text("UPDATE event SET status = :s, version = :v WHERE id = :e"),
            {"s": after, "v": version, "e": event_id},
        )
        conn.execute(
            text("""
            INSERT INTO event_audit (event_id, version, action, from_status, to_status,
                                     from_level, to_level, actor, at, note, reason, data)
            VALUES (:e, :v, :a, :f, :t, 0, 0, '1', :at, 'test', NULL, CAST(:d AS jsonb))
            """),
            {
                "e": event_id,
                "v": version,
                "a": action,
                "f": before,
                "t": after,
                "at": at,
                "d": json.dumps(logged),
            },  # fmt: skip
        )


def test_the_audit_counters_kept_per_row_equal_the_audit_log(
    db: Session, make_event: MakeEvent, clock: Clock
) -> None:
    """The trigger ``stats_audit`` keeps 立案, 核查 and the process counters per report day as
    the audit log defines them (``evaluation.auditcounts``): a review within the limit of the
    fix and one after it, two approved extensions (one case), a return, a reopening, a
    registered event voided, and the event moved to the day before (its counters move with it,
    and its registration is no longer within the limit of the report)."""
    conn = db.connection()
    clock.now = datetime(2026, 5, 12, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    event_id = make_event()
    grid_id = int(
        conn.execute(text("SELECT grid_id FROM event WHERE id = :e"), {"e": event_id}).scalar_one()
    )
    t = clock.now
    conn.execute(
        text("UPDATE event SET dispatched_at = :t WHERE id = :e"),
        {"t": t + timedelta(minutes=5), "e": event_id},
    )
    _log(conn, event_id, [
        ("dispatch", "registered", "dispatched", t + timedelta(minutes=5)),
        ("approve_extension", "dispatched", "dispatched", t + timedelta(minutes=20)),
        ("approve_extension", "dispatched", "dispatched", t + timedelta(minutes=40)),
        ("return", "dispatched", "dispatched", t + timedelta(minutes=50)),
        ("resolve", "dispatched", "resolved", t + timedelta(hours=2)),
        ("review", "resolved", "dispatched", t + timedelta(hours=2, minutes=30)),  # on time
        ("resolve", "dispatched", "resolved", t + timedelta(hours=4)),
        ("review", "resolved", "closed", t + timedelta(hours=6)),  # late
        ("reopen", "closed", "dispatched", t + timedelta(hours=6, minutes=30)),
        ("void", "dispatched", "voided", t + timedelta(hours=7)),
    ])  # fmt: skip

    def served_and_raw(day: date) -> tuple[dict[str, float], dict[int, dict[str, float]]]:
        scope = Scope(day, day, grid_ids=(grid_id,))
        served = indicator_report(session=db, scope=scope, now=t).totals
        return served, raw_counter_totals(db, scope, now=t, per_grid=False)

    served, raw = served_and_raw(date(2026, 5, 12))
    assert differing_counters(served, raw) == {}
    assert {k: served[k] for k in AUDIT_COUNTERS} == {
        "ever_registered": 1, "registered_on_time": 1, "voided_after_registration": 1,
        "reviews": 2, "reviews_on_time": 1, "dispatched_cases": 1, "extended_cases": 1,
        "parked_cases": 0, "returned_cases": 1, "reopened_cases": 1,
    }  # fmt: skip
    conn.execute(
        text("UPDATE event SET created_at = created_at - interval '1 day' WHERE id = :e"),
        {"e": event_id},
    )
    served, raw = served_and_raw(date(2026, 5, 12))
    assert {k: served[k] for k in AUDIT_COUNTERS} == dict.fromkeys(AUDIT_COUNTERS, 0.0)
    served, raw = served_and_raw(date(2026, 5, 11))
    assert differing_counters(served, raw) == {}
    assert served["ever_registered"] == 1 and served["registered_on_time"] == 0
    assert served["extended_cases"] == served["dispatched_cases"] == 1


def test_on_time_dispatch_and_review_are_measured_against_the_stored_stage_deadlines(
    db: Session, make_event: MakeEvent, clock: Clock
) -> None:
    """按时派遣 compares the first dispatch with the event's ``dispatch_due_at`` and 按时核查 a
    review with the ``review_due_at`` logged with its fix (migration 0028); an event or fix
    without one (from before migration 0027) falls back to the global limits of
    ``stats_setting`` (10 and 60 minutes here). Dispatched 7 minutes and reviewed 45 minutes
    after: late against stored deadlines of 5 and 30 minutes, on time by the global limits.
    The triggers, the rebuild and the raw recount agree."""
    conn = db.connection()
    clock.now = datetime(2026, 5, 12, 2, 0, tzinfo=UTC)
    t = clock.now
    stored, legacy = make_event(), make_event()
    due = conn.execute(
        text("SELECT dispatch_due_at FROM event WHERE id = :e"), {"e": stored}
    ).scalar_one()
    assert due == t + timedelta(minutes=5)  # the category's dispatch_minutes on 24x7
    conn.execute(text("UPDATE event SET dispatch_due_at = NULL WHERE id = :e"), {"e": legacy})
    fixed = t + timedelta(hours=1)
    for event_id in (stored, legacy):
        conn.execute(
            text("UPDATE event SET dispatched_at = :t WHERE id = :e"),
            {"t": t + timedelta(minutes=7), "e": event_id},
        )
        review_due = (fixed + timedelta(minutes=30)).isoformat() if event_id == stored else None
        _log(
            conn,
            event_id,
            [
                ("dispatch", "registered", "dispatched", t + timedelta(minutes=7)),
                ("resolve", "dispatched", "resolved", fixed),
                ("review", "resolved", "closed", fixed + timedelta(minutes=45)),
            ],
            data={1: {"review_due_at": review_due}} if review_due else None,
        )
    grid_id = int(
        conn.execute(text("SELECT grid_id FROM event WHERE id = :e"), {"e": stored}).scalar_one()
    )
    scope = Scope(date(2026, 5, 12), date(2026, 5, 12), grid_ids=(grid_id,))
    expected = {"dispatched": 2, "dispatched_on_time": 1, "reviews": 2, "reviews_on_time": 1}
    for rebuilt in (False, True):
        if rebuilt:
            conn.execute(text("SELECT stats_rebuild()"))
        served = indicator_report(session=db, scope=scope, now=t).totals
        assert {k: served[k] for k in expected} == expected, rebuilt
        raw = raw_counter_totals(db, scope, now=t, per_grid=False)
        assert differing_counters(served, raw) == {}
    on_time = {v.indicator.code: v.value for v in indicator_report(
        session=db, scope=scope, now=t).values}  # fmt: skip
    assert on_time["on_time_dispatch"] == on_time["on_time_review"] == 0.5


def test_the_intake_counters_kept_per_received_day_equal_the_reports(
    db: Session, make_event: MakeEvent, clock: Clock
) -> None:
    """The triggers keep the public door's counters on the day a report was received: its public
    row written, its verification, its move to another day; a verification that is due because
    its deadline passed is counted at the moment asked (``verifications_due``)."""
    conn = db.connection()
    clock.now = t = datetime(2026, 5, 12, 15, 50, tzinfo=UTC)  # 23:50 in Shanghai
    event_id = make_event()
    grid_id = int(
        conn.execute(
            text("UPDATE event SET source = 'public' WHERE id = :e RETURNING grid_id"),
            {"e": event_id},
        ).scalar_one()
    )
    conn.execute(
        text("""
        INSERT INTO public_report (event_id, channel, token, verify_due_at)
        VALUES (:e, 'public', gen_random_uuid(), :due)
        """),
        {"e": event_id, "due": t + timedelta(hours=1)},
    )

    def check(day: date, now: datetime, **expected: float) -> None:
        scope = Scope(day, day, grid_ids=(grid_id,))
        served = indicator_report(session=db, scope=scope, now=now).totals
        assert (
            differing_counters(served, raw_counter_totals(db, scope, now=now, per_grid=False)) == {}
        )
        assert {k: served[k] for k in expected} == expected

    check(date(2026, 5, 12), t, all_reports=1, public_reports=1, verifications_due=0)
    check(date(2026, 5, 12), t + timedelta(hours=2), verifications_due=1, verified_on_time=0)
    conn.execute(
        text(
            "UPDATE public_report SET verified_at = :v, outcome = 'confirmed' WHERE event_id = :e"
        ),
        {"e": event_id, "v": t + timedelta(minutes=30)},
    )
    check(date(2026, 5, 12), t, verifications_due=1, verified_on_time=1, public_valid=1)
    conn.execute(
        text("UPDATE event SET received_at = received_at + interval '1 hour' WHERE id = :e"),
        {"e": event_id},
    )
    check(date(2026, 5, 12), t, all_reports=0, public_reports=0, verifications_due=0)
    check(date(2026, 5, 13), t, all_reports=1, public_decided=1, verifications_due=1)
