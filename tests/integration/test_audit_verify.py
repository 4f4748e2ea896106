"""Tamper evidence on a simulated month: the chain and day heads the database keeps, what
``wangge audit verify`` finds on untouched history (nothing), and what it reports after each
way of changing history behind the application's back (the trigger switched off as a
superuser can: ``session_replication_role = replica``)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from dispatch.ledger import day_heads, seal_days
from domain.audit import AuditRow, day_digest, day_head, row_hash
from evaluation.bundle import write_bundle
from evaluation.checks import MAX_IDS, Check
from evaluation.indicators import indicator_report
from evaluation.scope import Scope
from evaluation.scorecard import scorecard_units
from evaluation.sealing import seal, today_local
from evaluation.verify import (
    RAW_COUNTERS,
    VerifyReport,
    differing_counters,
    raw_counter_totals,
    verify,
)
from grids.loading import load_map
from kernel.uow import UnitOfWork
from tests.conftest import MUTABLE_TABLES
from tests.kit.data import neighbour_subdistrict
from tools.simulate.small import simulate

pytestmark = pytest.mark.heavy  # scheduled first (tests/conftest.py)

NOW = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 April in Shanghai
SINCE, UNTIL = date(2026, 3, 1), date(2026, 3, 31)
SCOPE = Scope(SINCE, UNTIL)


def _truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="module")
def month(engine: Engine) -> Iterator[Engine]:
    """March 2026 simulated through the services, statistics and audit days sealed."""
    _truncate(engine)
    with Session(engine) as session:
        uow = UnitOfWork(session)
        simulate(uow, days=31, seed=7, per_day=12, until=UNTIL, now=NOW)
        seal(uow=uow, today=today_local(NOW))
        uow.commit()
        assert seal_days(uow, now=NOW + timedelta(hours=1)) >= 28
    yield engine
    _truncate(engine)


@pytest.fixture
def conn(month: Engine) -> Iterator[Connection]:
    """A transaction on the month that is rolled back: tamper freely."""
    with month.connect() as c:
        trans = c.begin()
        yield c
        trans.rollback()


def _verify(conn: Connection) -> VerifyReport:
    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        return verify(session, SCOPE)


def _check(report: VerifyReport, name: str) -> Check:
    return next(c for c in report.checks if c.name == name)


def _as_superuser_without_triggers(conn: Connection) -> None:
    conn.execute(text("SET LOCAL session_replication_role = replica"))


def _closed_event(conn: Connection) -> int:
    return int(
        conn.execute(
            text("SELECT id FROM event WHERE status = 'closed' ORDER BY id LIMIT 1 OFFSET 7")
        ).scalar_one()
    )


def _ids(check: Check) -> set[int]:
    return {i for d in check.discrepancies for i in d.event_ids}


def test_untouched_history_passes_every_check(conn: Connection) -> None:
    report = _verify(conn)
    assert report.ok, "\n".join(report.lines())
    chain = _check(report, "chain")
    assert chain.counts["events"] > 250 and chain.counts["audit rows"] > chain.counts["events"]
    assert _check(report, "day heads").counts["days sealed"] == 31
    assert _check(report, "served figures").counts["indicators"] > 10
    text_report = "\n".join(report.lines())
    assert "RESULT: every check passed" in text_report


def test_checks_on_several_connections_see_one_snapshot_and_agree(conn: Connection) -> None:
    with Session(bind=conn, join_transaction_mode="rollback_only") as session:
        together = verify(session, SCOPE, jobs=3)
    alone = _verify(conn)
    assert together.ok and [(c.name, c.counts) for c in together.checks] == [
        (c.name, c.counts) for c in alone.checks
    ]


def test_the_database_hashes_rows_as_the_python_rules_do(conn: Connection) -> None:
    rows = conn.execute(
        text(
            "SELECT id, event_id, version, action, from_status, to_status, from_level, to_level,"
            " actor, at, note, reason, data::text, hash FROM event_audit"
            " ORDER BY event_id, version"
        )
    ).all()
    previous: dict[int, bytes] = {}
    for r in rows:
        row = AuditRow(*r[:13])
        assert row_hash(previous.get(row.event_id), row) == bytes(r.hash), r.id
        previous[row.event_id] = bytes(r.hash)
    # the day heads follow from the rows by domain.audit's rules
    heads = day_heads(Session(bind=conn), SINCE, UNTIL)
    head: bytes | None = None
    for sealed in heads:
        start = datetime(sealed.day.year, sealed.day.month, sealed.day.day) - timedelta(hours=8)
        hashes = [
            bytes(h)
            for h in conn.execute(
                text(
                    "SELECT hash FROM event_audit WHERE at >= :a AND at < :b"
                    " ORDER BY event_id, version"
                ),
                {
                    "a": start.replace(tzinfo=UTC),
                    "b": (start + timedelta(days=1)).replace(tzinfo=UTC),
                },
            ).scalars()
        ]
        assert (len(hashes), day_digest(hashes)) == (sealed.rows, sealed.digest)
        head = day_head(head, sealed.day, sealed.rows, sealed.digest)
        assert head == sealed.head


def test_audit_rows_cannot_be_updated_or_deleted(conn: Connection) -> None:
    for statement in (
        "UPDATE event_audit SET note = 'edited' WHERE id = 5",
        "DELETE FROM event_audit WHERE id = 5",
    ):
        savepoint = conn.begin_nested()
        with pytest.raises(DBAPIError) as refused:
            conn.execute(text(statement))
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
        assert "append-only" in str(refused.value.orig)
        savepoint.rollback()


def test_a_closed_at_changed_by_sql_is_reported(conn: Connection) -> None:
    event_id = _closed_event(conn)
    conn.execute(
        text("UPDATE event SET closed_at = closed_at - interval '3 hours' WHERE id = :id"),
        {"id": event_id},
    )  # with the triggers on: the statistics follow the edit, the audit log does not
    report = _verify(conn)
    replay = _check(report, "replay")
    assert [d.what for d in replay.discrepancies] == [
        "event row's closed_at differs from its audit log"
    ]
    assert replay.discrepancies[0].event_ids == [event_id]
    assert _check(report, "chain").ok and _check(report, "day heads").ok


def test_a_promise_moved_by_sql_is_reported(conn: Connection) -> None:
    """The original promise is replayed from the log like every state field: moving it to
    make a late fix count on time (按期处置率) shows."""
    event_id = int(
        conn.execute(
            text("SELECT id FROM event WHERE status = 'closed' AND resolved_at > promised_due_at"
                 " ORDER BY id LIMIT 1")
        ).scalar_one()
    )  # fmt: skip
    conn.execute(
        text("UPDATE event SET promised_due_at = resolved_at WHERE id = :id"), {"id": event_id}
    )
    report = _verify(conn)
    replay = _check(report, "replay")
    assert [d.what for d in replay.discrepancies] == [
        "event row's promised_due_at differs from its audit log"
    ]
    assert replay.discrepancies[0].event_ids == [event_id]


def test_a_verification_deadline_moved_away_from_its_clock_is_reported(conn: Connection) -> None:
    """按时核实 counts against ``public_report.verify_due_at``, which is the verification
    clock's deadline (``event.verify_due_at``, replayed from the log): moving the report's copy
    to make a late verification count on time shows, and so does moving the clock's."""
    report_id, event_id = (
        int(i)
        for i in conn.execute(
            text("SELECT min(p.event_id), max(p.event_id) FROM public_report p"
                 " JOIN event e ON e.id = p.event_id WHERE e.verify_due_at = p.verify_due_at")
        ).one()
    )  # fmt: skip
    assert report_id != event_id
    assert _verify(conn).ok
    conn.execute(
        text("UPDATE public_report SET verify_due_at = verify_due_at + interval '1 day'"
             " WHERE event_id = :id"),
        {"id": report_id},
    )  # fmt: skip
    conn.execute(
        text("UPDATE event SET verify_due_at = verify_due_at + interval '1 day' WHERE id = :id"),
        {"id": event_id},
    )
    report = _verify(conn)
    (moved,) = [
        d for d in _check(report, "statistics tables").discrepancies if "按时核实" in d.what
    ]
    assert moved.event_ids == sorted([report_id, event_id])
    replay = _check(report, "replay")
    assert [(d.what, d.event_ids) for d in replay.discrepancies] == [
        ("event row's verify_due_at differs from its audit log", [event_id])
    ]


def test_communities_of_two_subdistricts_with_one_name_are_scored_apart(conn: Connection) -> None:
    """A community's name is unique only within its subdistrict: verify recomputes each
    community's score over its own grids (by code), so a second subdistrict whose communities
    carry the same names as the first's is no discrepancy."""
    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        load_map(session=session, fc=neighbour_subdistrict("002", dx=0.2, rename=False))
        session.commit()  # the savepoint: the map stays in the test's transaction
    names = conn.execute(text("SELECT name, count(*) FROM community GROUP BY name")).all()
    assert names and all(n == 2 for _, n in names)  # every name twice, once per subdistrict
    report = _verify(conn)
    assert _check(report, "served figures").ok, report.lines()
    assert report.ok


def test_a_closed_at_changed_behind_the_triggers_is_reported_twice(conn: Connection) -> None:
    event_id = _closed_event(conn)
    _as_superuser_without_triggers(conn)
    conn.execute(
        text("UPDATE event SET closed_at = created_at + interval '9 days' WHERE id = :id"),
        {"id": event_id},
    )
    report = _verify(conn)
    assert _ids(_check(report, "replay")) == {event_id}
    stats = _check(report, "statistics tables")
    assert event_id in _ids(stats)
    assert any("resolution histogram" in d.what for d in stats.discrepancies)
    assert not _check(report, "served figures").ok  # the served figures still say otherwise


def test_a_deleted_audit_row_is_reported(conn: Connection) -> None:
    event_id = _closed_event(conn)
    _as_superuser_without_triggers(conn)
    conn.execute(
        text("DELETE FROM event_audit WHERE event_id = :id AND version = 2"), {"id": event_id}
    )
    report = _verify(conn)
    chain = _check(report, "chain")
    assert _ids(chain) == {event_id}
    assert any("out of sequence" in d.what for d in chain.discrepancies)
    assert any("hash does not match" in d.what for d in chain.discrepancies)
    heads = _check(report, "day heads")
    assert event_id in _ids(heads) and "another digest" in heads.discrepancies[0].what


def test_a_deleted_last_audit_row_is_reported(conn: Connection) -> None:
    """The chain of what is left is intact: the replay and the day head notice."""
    event_id = _closed_event(conn)
    _as_superuser_without_triggers(conn)
    conn.execute(
        text(
            "DELETE FROM event_audit WHERE event_id = :id"
            " AND version = (SELECT max(version) FROM event_audit WHERE event_id = :id)"
        ),
        {"id": event_id},
    )
    report = _verify(conn)
    assert _check(report, "chain").ok
    replay = _check(report, "replay")
    assert _ids(replay) == {event_id}
    assert "event row's status differs from its audit log" in {d.what for d in replay.discrepancies}
    assert event_id in _ids(_check(report, "day heads"))


def test_a_reordered_audit_row_is_reported(conn: Connection) -> None:
    event_id = _closed_event(conn)
    _as_superuser_without_triggers(conn)
    for old, new in ((2, -1), (3, 2), (-1, 3)):  # versions 2 and 3 swap places
        conn.execute(
            text("UPDATE event_audit SET version = :new WHERE event_id = :id AND version = :old"),
            {"id": event_id, "old": old, "new": new},
        )
    report = _verify(conn)
    chain = _check(report, "chain")
    assert _ids(chain) == {event_id}
    assert {d.what for d in chain.discrepancies} >= {
        "hash does not match the row and its predecessor (edited, deleted or moved row)"
    }


def test_a_rewritten_chain_is_caught_by_the_sealed_day_heads(conn: Connection) -> None:
    """Whoever edits a row and recomputes the event's whole chain leaves no broken link; the
    day heads sealed (and published) before the edit still disagree."""
    event_id = _closed_event(conn)
    _as_superuser_without_triggers(conn)
    conn.execute(
        text("UPDATE event_audit SET note = '已整改', hash = NULL WHERE event_id = :id"),
        {"id": event_id},
    )
    conn.execute(text("SELECT audit_chain_fill()"))
    report = _verify(conn)
    assert _check(report, "chain").ok
    heads = _check(report, "day heads")
    assert not heads.ok and event_id in _ids(heads)


def test_a_row_slipped_into_a_sealed_day_is_reported(conn: Connection) -> None:
    event_id = _closed_event(conn)
    conn.execute(  # a new row through the trigger: well chained, but on a sealed day
        text("""
        INSERT INTO event_audit (event_id, version, action, from_status, to_status, from_level,
                                 to_level, actor, at, note, data)
        SELECT event_id, version + 1, 'review', 'closed', 'closed', to_level, to_level, '1',
               at + interval '1 minute', 'backdated', '{}'
          FROM event_audit WHERE event_id = :id ORDER BY version DESC LIMIT 1
        """),
        {"id": event_id},
    )
    report = _verify(conn)
    assert event_id in _ids(_check(report, "day heads"))
    assert event_id in _ids(_check(report, "replay"))  # version and status of the row disagree


def test_an_edited_day_head_is_reported(conn: Connection) -> None:
    conn.execute(
        text("UPDATE audit_day_head SET head = sha256(head) WHERE day = :d"),
        {"d": date(2026, 3, 10)},
    )
    heads = _check(_verify(conn), "day heads")
    assert any("2026-03-10: the stored head does not follow" in d.what for d in heads.discrepancies)


def test_a_skipped_counter_is_reported(conn: Connection) -> None:
    """The statistics tables edited by hand: the served figures no longer follow the rows."""
    conn.execute(text("UPDATE stats_daily SET closed = closed + 1 WHERE day = '2026-03-05'"))
    conn.execute(text("DELETE FROM stats_counter_sealed"))
    report = _verify(conn)
    assert not _check(report, "statistics tables").ok
    served = _check(report, "served figures")
    assert any(d.what.startswith("indicator closure_rate") for d in served.discrepancies)


@pytest.mark.parametrize(
    ("counter", "indicator"),
    [("extended_cases", "extension_rate"), ("reopened_cases", "reopen_rate"),
     ("dispatched_cases", "return_rate")],
)  # fmt: skip
def test_a_bumped_process_counter_is_reported(
    conn: Connection, counter: str, indicator: str
) -> None:
    """The process counters are kept like the others (migration 0028): one bumped by hand is
    reported per day, grid and category, and in the served indicator over it."""
    cell = conn.execute(
        text("SELECT grid_id, category_id FROM stats_daily WHERE day = '2026-03-05' LIMIT 1")
    ).one()
    conn.execute(
        text(f"""
        UPDATE stats_daily SET {counter} = {counter} + 1
         WHERE day = '2026-03-05' AND grid_id = :g AND category_id = :c
        """),
        {"g": cell[0], "c": cell[1]},
    )
    conn.execute(text("DELETE FROM stats_counter_sealed"))
    report = _verify(conn)
    (found,) = _check(report, "statistics tables").discrepancies
    assert found.what == f"counters of 2026-03-05, grid id {cell[0]}, category id {cell[1]}"
    assert set(found.detail) == {counter}
    behind = conn.execute(  # the cell's events: reported or received that day
        text("""
        SELECT id FROM event WHERE grid_id = :g AND category_id = :c
           AND '2026-03-05' IN ((created_at AT TIME ZONE 'Asia/Shanghai')::date,
                                (received_at AT TIME ZONE 'Asia/Shanghai')::date)
         ORDER BY id
        """),
        {"g": cell[0], "c": cell[1]},
    ).scalars()
    assert found.event_ids == list(behind)[:MAX_IDS] and found.event_ids
    served = _check(report, "served figures")
    assert any(d.what.startswith(f"indicator {indicator}") for d in served.discrepancies)


def test_a_tampered_working_time_histogram_is_reported(conn: Connection) -> None:
    """The working-time histogram (every category here is 24x7: the wall minutes) is checked
    like the wall one: a bucket bumped by hand shows in the table and in the served figures."""
    kept = conn.execute(text("SELECT sum(n) FROM stats_resolution_working")).scalar_one()
    assert kept == conn.execute(text("SELECT sum(n) FROM stats_resolution")).scalar_one() > 0
    day = conn.execute(
        text("""
        UPDATE stats_resolution_working SET n = n + 1
         WHERE (day, grid_id, category_id, level, minutes) =
               (SELECT day, grid_id, category_id, level, minutes FROM stats_resolution_working
                 ORDER BY 1, 2, 3, 4, 5 LIMIT 1)
        RETURNING day
        """)
    ).scalar_one()
    conn.execute(text("DELETE FROM stats_block"))
    report = _verify(conn)
    base = _check(report, "statistics tables")
    assert [d.what.split(", grid")[0] for d in base.discrepancies] == [
        f"resolution histogram (working time) of {day}"
    ]
    served = _check(report, "served figures")
    assert served.discrepancies
    assert all("(working time)" in d.what for d in served.discrepancies)


# --- the evaluation bundle ---------------------------------------------------------------


def _bundle(conn: Connection, folder: Path) -> Path:
    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        buffer = io.BytesIO()
        manifest = write_bundle(session, SCOPE, buffer)
    with zipfile.ZipFile(buffer) as archive:
        archive.extractall(folder)
    (unpacked,) = folder.iterdir()
    assert set(manifest["files"]) == {p.name for p in unpacked.iterdir()} - {"manifest.json"}
    return unpacked


def _run_checker(folder: Path) -> tuple[int, dict[str, Any]]:
    """check.py in a fresh interpreter without site-packages (-S) or the project (-I): the
    standard library is all it has."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "check.py", "--json"],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_the_bundle_checks_out_and_agrees_with_the_api(conn: Connection, tmp_path: Path) -> None:
    folder = _bundle(conn, tmp_path)
    code, checked = _run_checker(folder)
    assert (code, checked["problems"]) == (0, []), "\n".join(checked["problems"][:15])
    assert checked["checked"]["events"] > 250 and checked["checked"]["day heads"] == 31
    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        served = indicator_report(session=session, scope=SCOPE)
        units, _ = scorecard_units(session=session, scope=SCOPE)
    assert {v.indicator.code: v.value for v in served.values} == {
        code: v["value"] for code, v in checked["indicators"].items()
    }
    by_key = {("" if u.kind == "grid" else u.kind + ":") + u.code: u for u in units}
    assert any(k.startswith("subdistrict:") for k in by_key)  # graded whole, recomputed too
    assert {k: (u.result.score, u.result.grade) for k, u in by_key.items()} == {
        k: (s["score"], s["grade"]) for k, s in checked["scores"].items()
    }


def test_an_edited_bundle_fails_its_check(conn: Connection, tmp_path: Path) -> None:
    folder = _bundle(conn, tmp_path)
    events = (folder / "events.csv").read_text(encoding="utf-8")
    closed = next(line for line in events.splitlines() if ",closed," in line)
    edited = events.replace(closed, closed.replace(",closed,", ",resolved,"))
    (folder / "events.csv").write_text(edited, encoding="utf-8")
    code, checked = _run_checker(folder)
    assert code == 1
    assert "manifest: events.csv is not the file the manifest lists" in checked["problems"]
    assert any(p.startswith("replay: event") for p in checked["problems"])
    assert any(p.startswith("indicator closure_rate") for p in checked["problems"])


def test_a_verification_deadline_edited_in_the_bundle_fails_the_replay(
    conn: Connection, tmp_path: Path
) -> None:
    """events.csv's verify_due_at (the 按时核实 deadline) is the verification clock's, which
    the audit log carries: the checker replays it."""
    folder = _bundle(conn, tmp_path)
    path = folder / "events.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    edited = next(r for r in rows if r["verify_due_at"] and r["source"] != "staff")
    edited["verify_due_at"] = "2026-03-31T00:00:00+00:00"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    code, checked = _run_checker(folder)
    assert code == 1
    assert any(
        p.startswith(f"replay: event {edited['id']}: verify_due_at") for p in checked["problems"]
    ), checked["problems"][:10]


def test_awkward_text_hashes_the_same_in_python(conn: Connection) -> None:
    """Quotes, backslashes, brackets, commas, white space, empty and missing values: the
    record text form the database hashes is the one domain.audit writes."""
    event_id = _closed_event(conn)
    note = 'a "quoted" \\ back\tslash, (bracket)\n换行 \x0b \x0c end'
    row = conn.execute(
        text("""
        INSERT INTO event_audit (event_id, version, action, from_status, to_status, from_level,
                                 to_level, actor, at, note, reason, data)
        VALUES (:id, 1000, 'review', NULL, 'closed', NULL, 0, '', now(), :note, '',
                CAST(:data AS jsonb))
        RETURNING id, event_id, version, action, from_status, to_status, from_level, to_level,
                  actor, at, note, reason, data::text, hash
        """),
        {"id": event_id, "note": note, "data": '{"x": "\\"(,)\\\\", "y": [1.50, null]}'},
    ).one()
    previous = conn.execute(
        text("SELECT hash FROM event_audit WHERE event_id = :id AND version < 1000"
             " ORDER BY version DESC LIMIT 1"),
        {"id": event_id},
    ).scalar_one()  # fmt: skip
    assert row_hash(bytes(previous), AuditRow(*row[:13])) == bytes(row.hash)
    # verify computes the text from the columns (audit_canonical_of), the trigger from the row
    assert conn.execute(
        text("""
        SELECT audit_canonical(a) = audit_canonical_of(a.id, a.event_id, a.version, a.action,
                 a.from_status, a.to_status, a.from_level, a.to_level, a.actor, a.at, a.note,
                 a.reason, a.data)
          FROM event_audit a WHERE a.id = :id
        """),
        {"id": row.id},
    ).scalar_one()


def _confirmed_public_report(conn: Connection, *, created: str) -> int:
    """A public or hotline report that was confirmed (registered after it was received),
    registered in ``created`` (a SQL condition on ``e.created_at``)."""
    return int(
        conn.execute(
            text(f"""
            SELECT e.id FROM event e JOIN public_report p ON p.event_id = e.id
             WHERE p.outcome = 'confirmed' AND e.duplicate_of IS NULL
               AND e.received_at < e.created_at AND {created}
             ORDER BY e.id LIMIT 1
            """)
        ).scalar_one()
    )


def test_reports_received_and_registered_on_either_side_of_the_window_edge_check_out(
    conn: Connection, tmp_path: Path
) -> None:
    """A public report received before midnight and confirmed after it counts in the intake
    counters (按时核实率, 公众有效上报率, 重复上报占比) by the day it was received and in the event
    counters by the day it was registered (confirmation moves ``created_at``). At the window's
    edges those are different windows: the bundle carries both and its checker counts each
    report by its own time, as the API does (it found 8065 reports where the API said 8066)."""
    scope = Scope(date(2026, 3, 1), date(2026, 3, 15))
    edge = "TIMESTAMPTZ '2026-03-16 00:00+08'"
    # registered in the window, received before it (23:50 on the last day of February)
    before = _confirmed_public_report(conn, created=f"e.created_at < {edge}")
    # received in the window (23:50 on its last day), registered after it
    after = _confirmed_public_report(conn, created=f"e.created_at >= {edge} + interval '1 hour'")
    conn.execute(
        text("""
        UPDATE event SET received_at = CASE id WHEN :b THEN TIMESTAMPTZ '2026-02-28 23:50+08'
                                               ELSE TIMESTAMPTZ '2026-03-15 23:50+08' END
         WHERE id IN (:b, :a)
        """),
        {"b": before, "a": after},
    )
    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        buffer = io.BytesIO()
        write_bundle(session, scope, buffer)
        served = indicator_report(session=session, scope=scope)
        units, _ = scorecard_units(session=session, scope=scope)
    with zipfile.ZipFile(buffer) as archive:
        archive.extractall(tmp_path)
    (folder,) = tmp_path.iterdir()
    code, checked = _run_checker(folder)
    assert (code, checked["problems"]) == (0, []), "\n".join(checked["problems"][:15])
    for name in ("all_reports", "public_reports", "public_decided", "public_valid"):
        assert checked["totals"][name] == served.totals[name], name
    assert {v.indicator.code: v.value for v in served.values} == {
        code: v["value"] for code, v in checked["indicators"].items()
    }
    scores = {u.code: (u.result.score, u.result.grade) for u in units if u.kind == "grid"}
    assert scores == {
        k: (s["score"], s["grade"]) for k, s in checked["scores"].items() if ":" not in k
    }


def test_every_served_counter_equals_its_recomputation_from_the_raw_rows(
    conn: Connection,
) -> None:
    """``raw_counter_totals`` (verify's and bench.stats' raw side) covers every counter the
    served indicators read, per grid and in total, and a counter changed behind the triggers'
    back shows."""
    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        served = indicator_report(session=session, scope=SCOPE, now=NOW)
        raw = raw_counter_totals(session, SCOPE, now=NOW, per_grid=False)
        per_grid = raw_counter_totals(session, SCOPE, now=NOW, per_grid=True)
    assert set(raw[0]) == set(RAW_COUNTERS)
    assert set(RAW_COUNTERS) <= set(served.totals)
    assert all(raw[0][name] > 0 for name in ("reported", "handled_on_promise", "reviews",
                                             "ever_registered", "public_reports",
                                             "dispatched_cases", "reviews_on_time",
                                             "dispatched_on_time"))  # fmt: skip
    assert differing_counters(served.totals, raw) == {}
    assert differing_counters(served.totals, per_grid) == {}
    conn.execute(
        text("UPDATE stats_daily SET escalations = escalations + 2 WHERE day = '2026-03-05'")
    )
    conn.execute(text("DELETE FROM stats_counter_sealed"))
    with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
        tampered = indicator_report(session=session, scope=SCOPE, now=NOW)
    differ = differing_counters(tampered.totals, raw)
    assert set(differ) == {"escalations"}
    assert differ["escalations"][0] > differ["escalations"][1]
