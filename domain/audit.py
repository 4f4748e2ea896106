"""The audit log's tamper evidence, as pure rules: the canonical text of an audit row, the
per-event hash chain and the chained day heads (docs/decisions/0009-audit-evidence.md).

The database computes the row hashes (``alembic/sql/audit_canonical.v1.sql``, the trigger
``audit_chain``); these are the same definitions in Python, which tests hold the SQL to and
which the evaluation bundle's standalone checker repeats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_microseconds(at: datetime) -> int:
    """Whole microseconds since 1970-01-01 UTC (exact; ``at`` must carry a zone)."""
    if at.tzinfo is None:
        raise ValueError("an audit instant needs a time zone")
    return (at - EPOCH) // timedelta(microseconds=1)


#: Characters that make PostgreSQL quote a field of a record's text form (``record_out``:
#: C-locale white space, the delimiters, the quote and the backslash).
_QUOTED = frozenset('"\\(),') | frozenset(" \t\n\r\v\f")


def _field(value: str | None) -> str:
    """One field of a record's text form: nothing for NULL; quoted (with '"' and '\\'
    doubled) when empty or holding a delimiter or white space; else as it is."""
    if value is None:
        return ""
    if value and not any(c in _QUOTED for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '""') + '"'


@dataclass(frozen=True)
class AuditRow:
    """The columns of an audit row that its hash covers; ``data`` is the jsonb as PostgreSQL
    prints it (``data::text``), the one form both sides can reproduce byte for byte."""

    id: int
    event_id: int
    version: int
    action: str
    from_status: str | None
    to_status: str
    from_level: int | None
    to_level: int
    actor: str
    at: datetime
    note: str
    reason: str | None
    data: str


def canonical(row: AuditRow) -> str:
    """``audit_canonical``: the columns as a record's text form, ``(id,event_id,...,data)``."""
    values = (
        str(row.id), str(row.event_id), str(row.version), row.action, row.from_status,
        row.to_status, None if row.from_level is None else str(row.from_level),
        str(row.to_level), row.actor, str(epoch_microseconds(row.at)), row.note, row.reason,
        row.data,
    )  # fmt: skip
    return "(" + ",".join(_field(v) for v in values) + ")"


def row_hash(previous: bytes | None, row: AuditRow) -> bytes:
    """sha256(previous row's hash, or nothing for an event's first row || canonical text)."""
    return hashlib.sha256((previous or b"") + canonical(row).encode("utf-8")).digest()


def day_digest(hashes: Iterable[bytes]) -> bytes:
    """sha256 of a day's row hashes concatenated in (event_id, version) order."""
    h = hashlib.sha256()
    for value in hashes:
        h.update(value)
    return h.digest()


def day_head(previous_head: bytes | None, day: date, rows: int, digest: bytes) -> bytes:
    """The head of a sealed day, chained to the head of the day sealed before it."""
    label = f"{day.isoformat()}:{rows}:".encode("ascii")
    return hashlib.sha256((previous_head or b"") + label + digest).digest()
