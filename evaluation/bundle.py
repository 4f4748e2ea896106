"""The evaluation bundle: one zip an outside evaluator checks without access to the system
(docs/decisions/0009-audit-evidence.md).

It holds, for the events reported in a window (registered in it, ``created_at``, which the
event and audit counters count by; or received in it, ``received_at``, which the intake
counters count by — a public report received before midnight and confirmed after it falls in
two windows): every table that feeds the scorecard as CSV
(events, their complete audit logs and every audit row of the window's days, categories with
their time limits, grids, the staff roster with names and roles only, patrols), the indicator
definitions, settings and scorecard (definitions.json), the published figures (results.json),
the sealed day heads of the window (heads.csv), ``check.py`` (standard-library Python that
recomputes everything from the CSVs), and manifest.json with the SHA-256 of every file.
Instants are written in the service's time zone with their offset (ISO 8601, microseconds).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlmodel import Session

from dispatch.ledger import day_heads, head_before
from domain.evaluation.days import window_label
from domain.evaluation.indicators import FORMULAS_ZH, INDICATORS
from evaluation.indicators import indicator_report
from evaluation.scope import Scope, bounds
from evaluation.scorecard import load_scorecard, scorecard_units
from kernel.clock import utc_now
from kernel.settings import get_settings

CHECKER = Path(__file__).with_name("bundle_check.py")

_EVENTS = """
SELECT e.id, g.code, cm.code, c.code, e.source, e.status, e.level, e.version, e.created_at,
       e.dispatched_at, e.acknowledged_at, e.resolved_at, e.closed_at, e.voided_at, e.due_at,
       e.assignee_id, e.reporter_id, e.rework_count, e.redispatch_count, e.escalation_count,
       e.duplicate_of, pr.verify_due_at, pr.verified_at, pr.outcome, e.promised_due_at,
       e.received_at, e.dispatch_due_at
  FROM event e JOIN grid g ON g.id = e.grid_id JOIN community cm ON cm.id = g.community_id
  JOIN category c ON c.id = e.category_id LEFT JOIN public_report pr ON pr.event_id = e.id
 WHERE (e.created_at >= :start AND e.created_at < :end)
    OR (e.received_at >= :start AND e.received_at < :end)
 ORDER BY e.id
"""
EVENT_COLUMNS = (
    "id",
    "grid",
    "community",
    "category",
    "source",
    "status",
    "level",
    "version",
    "created_at",
    "dispatched_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "voided_at",
    "due_at",
    "assignee_id",
    "reporter_id",
    "rework_count",
    "redispatch_count",
    "escalation_count",
    "duplicate_of",
    "verify_due_at",
    "verified_at",
    "outcome",
    "promised_due_at",
    "received_at",
    "dispatch_due_at",
)
_AUDIT = """
SELECT a.id, a.event_id, a.version, a.action, a.from_status, a.to_status, a.from_level,
       a.to_level, a.actor, a.at, a.note, a.reason, a.data::text, encode(a.hash, 'hex')
  FROM event_audit a
 WHERE a.event_id IN (SELECT id FROM event WHERE created_at >= :start AND created_at < :end
                      UNION SELECT id FROM event
                             WHERE received_at >= :start AND received_at < :end
                      UNION SELECT event_id FROM event_audit WHERE at >= :start AND at < :end)
 ORDER BY a.event_id, a.version
"""
AUDIT_COLUMNS = (
    "id",
    "event_id",
    "version",
    "action",
    "from_status",
    "to_status",
    "from_level",
    "to_level",
    "actor",
    "at",
    "note",
    "reason",
    "data",
    "hash",
)
_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "categories.csv": (
        "SELECT code, name, ack_minutes, resolve_minutes, big, department FROM category"
        " ORDER BY code",
        ("code", "name", "ack_minutes", "resolve_minutes", "big", "department"),
    ),
    "grids.csv": (
        "SELECT g.code, g.name, c.code, c.name, s.code, g.area_m2 FROM grid g"
        " JOIN community c ON c.id = g.community_id"
        " JOIN subdistrict s ON s.id = g.subdistrict_id ORDER BY g.code",
        ("code", "name", "community_code", "community_name", "subdistrict_code", "area_m2"),
    ),
    "staff.csv": (  # names and roles only: no phones, no logins
        "SELECT s.id, s.name, s.role, g.code, c.code, s.department FROM staff s"
        " LEFT JOIN grid g ON g.id = s.grid_id LEFT JOIN community c ON c.id = s.community_id"
        " ORDER BY s.id",
        ("id", "name", "role", "grid", "community", "department"),
    ),
    "patrols.csv": (
        "SELECT p.id, g.code, p.staff_id, p.started_at,"
        " (p.track IS NOT NULL OR EXISTS (SELECT 1 FROM patrol_point pp"
        "  WHERE pp.patrol_id = p.id)) FROM patrol p JOIN grid g ON g.id = p.grid_id"
        " WHERE p.started_at >= :start AND p.started_at < :end ORDER BY p.id",
        ("id", "grid", "staff_id", "started_at", "walked"),
    ),
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(get_settings().tz).isoformat(timespec="microseconds")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1, default=str) + "\n").encode("utf-8")


def results(session: Session, scope: Scope, now: datetime) -> dict[str, Any]:
    """The figures the system publishes for the window at ``now`` (which pending verifications
    are overdue depends on it: the manifest's ``generated_at``), as the bundle records them."""
    report = indicator_report(session=session, scope=scope, now=now)
    units, _ = scorecard_units(session=session, scope=scope, now=now)
    return {
        "since": scope.since.isoformat(),
        "until": scope.until.isoformat(),
        "label": window_label(scope.since, scope.until),
        "totals": report.totals,
        "indicators": [
            {
                "code": v.indicator.code,
                "name": v.indicator.name,
                "numerator": v.numerator,
                "denominator": v.denominator,
                "value": v.value,
                "note": v.note,
            }
            for v in report.values
        ],
        "scorecard": [
            {
                "kind": u.kind,
                "code": u.code,
                "name": u.name,
                "score": u.result.score,
                "grade": u.result.grade,
                "values": u.values,
            }
            for u in units
        ],
    }


def definitions(session: Session) -> dict[str, Any]:
    settings = dict(session.execute(text("SELECT key, value FROM stats_setting")).all())
    _, card = load_scorecard()
    return {
        "settings": {**settings, "timezone": get_settings().timezone},
        "indicators": [
            {
                "code": i.code,
                "name": i.name,
                "name_en": i.name_en,
                "kind": i.kind.value,
                "source": i.source.value,
                "numerator": dict(i.numerator),
                "denominator": dict(i.denominator),
                "formula": i.formula,
                "formula_zh": FORMULAS_ZH[i.code],
                "higher_is_better": i.higher_is_better,
            }
            for i in INDICATORS
        ],
        "counters": "see check.py: event_counts (the same definitions as docs/decisions/0004 "
        "and 0009)",
        "scorecard": {k: card[k] for k in ("rules", "grade_scale", "grade_scales")},
    }


def write_bundle(session: Session, scope: Scope, out: IO[bytes]) -> dict[str, Any]:
    """Write the bundle of the window as a zip to ``out``; returns its manifest."""
    start, end = bounds(scope)
    window = {"start": start, "end": end}
    now = utc_now()
    folder = f"wangge-bundle-{scope.since.isoformat()}-{scope.until.isoformat()}"
    files: dict[str, bytes] = {
        "events.csv": _csv(EVENT_COLUMNS, session.execute(text(_EVENTS), window).all()),
        "audit.csv": _csv(AUDIT_COLUMNS, session.execute(text(_AUDIT), window).all()),
    }
    for name, (sql, columns) in _TABLES.items():
        files[name] = _csv(columns, session.execute(text(sql), window).all())
    heads = day_heads(session, scope.since, scope.until)
    files["heads.csv"] = _csv(
        ("day", "rows", "digest", "head"),
        ((h.day, h.rows, h.digest.hex(), h.head.hex()) for h in heads),
    )
    files["definitions.json"] = _json(definitions(session))
    files["results.json"] = _json(results(session, scope, now))
    files["check.py"] = CHECKER.read_bytes()
    files["README.txt"] = README.encode("utf-8")
    before = head_before(session, scope.since)
    manifest = {
        "since": scope.since.isoformat(),
        "until": scope.until.isoformat(),
        "label": window_label(scope.since, scope.until),
        "generated_at": now.isoformat(),
        "previous_head": "" if before is None else before.head.hex(),
        "previous_head_day": None if before is None else before.day.isoformat(),
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in files.items()
        },
    }
    files["manifest.json"] = _json(manifest)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return manifest


README = """Wangge evaluation bundle 网格化管理考核数据包

Check it (Python 3.11 or later, nothing to install):

    python3 check.py

It verifies every file against manifest.json, every audit row's hash chain, the day heads in
heads.csv (compare the last one with the head the operator published), that each event's audit
log replays into its row, and recomputes every indicator and score from the CSV files with the
definitions in definitions.json, against results.json (the published figures).

Files: events.csv (events reported in the window), audit.csv (their complete audit logs and
every audit row of the window's days), categories.csv (time limits), grids.csv, staff.csv
(names and roles), patrols.csv, definitions.json, results.json, heads.csv, manifest.json.
Times are in the service's time zone with their UTC offset.
"""
