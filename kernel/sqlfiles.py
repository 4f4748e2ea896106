"""The database's functions, types and triggers as versioned SQL files (``alembic/sql/``).

Migrations apply the files with ``op.execute(read_sql("stats_day.v2"))``; the naming rule and
the table of current files are in ``alembic/sql/README.md``. Migration scripts cannot import
from ``alembic/`` (that name is the Alembic package), so the helpers live here.

``wangge_timezone()`` is the one object whose body is not static: its file is a template
filled with the service's time zone (``set_database_timezone``). The helpers that touch a
database take a SQLAlchemy ``Connection`` (what ``op.get_bind()`` and the tests hold); they run
in the caller's transaction and do not commit.
"""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, text

SQL_DIR = Path(__file__).resolve().parent.parent / "alembic" / "sql"

# "<object>.v<N>", or "<type>.type.v<N>" for a type (a type and a function may share a name).
_NAME = re.compile(r"[a-z_][a-z0-9_]*(\.type)?\.v[1-9][0-9]*")
_PLACEHOLDER = re.compile(r"\{\{\s*\w+\s*\}\}")
TIMEZONE_TEMPLATE = "wangge_timezone.v1"
ZONE_PLACEHOLDER = "{{zone_literal}}"
# IANA zone names: letters, digits, '_', '-', '+', in '/'-separated parts. Nothing that could
# end a quoted literal or the function's $$-quoted body.
_ZONE = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")


def sql_path(name: str) -> Path:
    """The file of ``name`` (``"stats_day.v2"``): ``alembic/sql/<name>.sql``."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not an SQL file name (<object>.v<N>): {name!r}")
    return SQL_DIR / f"{name}.sql"


def read_sql(name: str) -> str:
    """The text of ``alembic/sql/<name>.sql``, to execute as it is. Templates are refused."""
    sql = sql_path(name).read_text(encoding="utf-8")
    if _PLACEHOLDER.search(sql):
        raise ValueError(f"{name}.sql is a template; fill it with its own helper")
    return sql


def check_timezone(zone: str) -> str:
    """``zone`` if it is an IANA time zone Python knows (``zoneinfo``), else ValueError."""
    if not _ZONE.fullmatch(zone):
        raise ValueError(f"not a time zone name: {zone!r}")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {zone!r}: {exc}") from exc
    return zone


def sql_literal(value: str) -> str:
    """``value`` as a standard SQL string literal (quotes doubled)."""
    if "\x00" in value:
        raise ValueError("a SQL string cannot hold NUL")
    return "'" + value.replace("'", "''") + "'"


def timezone_function_sql(zone: str) -> str:
    """``CREATE OR REPLACE FUNCTION wangge_timezone()`` returning ``zone`` (checked)."""
    template = sql_path(TIMEZONE_TEMPLATE).read_text(encoding="utf-8")
    if template.count(ZONE_PLACEHOLDER) != 1 or len(_PLACEHOLDER.findall(template)) != 1:
        raise ValueError(f"{TIMEZONE_TEMPLATE}.sql must hold {ZONE_PLACEHOLDER} exactly once")
    return template.replace(ZONE_PLACEHOLDER, sql_literal(check_timezone(zone)))


def set_database_timezone(conn: Connection, zone: str) -> None:
    """Re-create ``wangge_timezone()`` returning ``zone``, in ``conn``'s transaction.

    Refuses (ValueError) a zone unknown to Python or to this PostgreSQL server: an unknown zone
    would make ``stats_day()``, hence every event write, fail. The statistics already counted
    keep the days of the old zone until ``SELECT stats_rebuild()``.
    """
    sql = timezone_function_sql(zone)
    known = conn.execute(
        text("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = :zone)"),
        {"zone": zone},
    ).scalar_one()
    if not known:
        raise ValueError(f"PostgreSQL does not know the time zone {zone!r}")
    conn.exec_driver_sql(sql)


def database_timezone(conn: Connection) -> str:
    """The zone ``wangge_timezone()`` returns: the one the statistics count days in."""
    return str(conn.execute(text("SELECT wangge_timezone()")).scalar_one())
