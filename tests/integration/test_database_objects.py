"""The database objects of ``alembic/sql/``: the migrated test database holds the current
version of each (functions with the file's body, triggers, types), nothing in ``public`` is
left out of the files, the README's table names the current files, and the statistics' time
zone is the service setting and can be changed (``kernel.sqlfiles``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from redis import Redis
from sqlalchemy import Connection, Engine, text

from kernel.health import check
from kernel.settings import get_settings
from kernel.sqlfiles import (
    SQL_DIR,
    TIMEZONE_TEMPLATE,
    database_timezone,
    read_sql,
    set_database_timezone,
    sql_path,
    timezone_function_sql,
)

FILE = re.compile(r"(?P<object>[a-z_][a-z0-9_]*(?:\.type)?)\.v(?P<version>[1-9][0-9]*)\.sql")
FUNCTION = re.compile(r"CREATE OR REPLACE FUNCTION (\w+)\(.*?\$\$(.*?)\$\$", re.S)
TRIGGER = re.compile(
    r"CREATE OR REPLACE TRIGGER (\w+)\s.*?\bON (\w+)\s.*?EXECUTE FUNCTION (\w+)\(", re.S
)
TYPE = re.compile(r"CREATE TYPE (\w+) AS \((.*?)\);", re.S)
AGGREGATE = re.compile(r"CREATE OR REPLACE AGGREGATE (\w+)\(")
README_ROW = re.compile(r"^\|[^|]*\|\s*`([^`]+\.sql)`", re.M)
# An instant whose calendar day differs between zones far apart: 2024-01-01 02:00 UTC.
INSTANT = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)


@dataclass
class Objects:
    functions: dict[str, str] = field(default_factory=dict)  # name -> body
    triggers: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, table) -> fn
    types: dict[str, list[str]] = field(default_factory=dict)  # name -> attribute names
    aggregates: set[str] = field(default_factory=set)


def current_files() -> dict[str, str]:
    """Object -> its file of the highest version."""
    latest: dict[str, tuple[int, str]] = {}
    for path in SQL_DIR.glob("*.sql"):
        m = FILE.fullmatch(path.name)
        assert m, f"{path.name} does not follow <object>.v<N>.sql"
        version = int(m["version"])
        if version > latest.get(m["object"], (0, ""))[0]:
            latest[m["object"]] = (version, path.stem)
    return {obj: name for obj, (_, name) in sorted(latest.items())}


def sql_of(name: str) -> str:
    if name == TIMEZONE_TEMPLATE:
        return timezone_function_sql(get_settings().timezone)
    return read_sql(name)


def objects_of(sql: str) -> Objects:
    # Whole-line comments (column 0) are outside the bodies in these files.
    code = re.sub(r"^--.*$", "", sql, flags=re.M)
    found = Objects()
    found.functions = {m[1]: m[2] for m in FUNCTION.finditer(code)}
    found.triggers = {(m[1], m[2]): m[3] for m in TRIGGER.finditer(code)}
    found.types = {m[1]: [a.split()[0] for a in m[2].split(",")] for m in TYPE.finditer(code)}
    found.aggregates = {m[1] for m in AGGREGATE.finditer(code)}
    return found


def current_objects() -> Objects:
    every = Objects()
    for name in current_files().values():
        found = objects_of(sql_of(name))
        assert found.functions or found.types or found.aggregates, f"{name}.sql creates nothing"
        every.functions.update(found.functions)
        every.triggers.update(found.triggers)
        every.types.update(found.types)
        every.aggregates.update(found.aggregates)
    return every


def test_the_readme_table_names_the_current_files() -> None:
    readme = (SQL_DIR / "README.md").read_text(encoding="utf-8")
    listed = README_ROW.findall(readme)
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert sorted(listed) == sorted(f"{name}.sql" for name in current_files().values())


def test_the_current_files_hold_no_zone_literal() -> None:
    """The zone lives in one place (the setting, copied into wangge_timezone() from it)."""
    for name in current_files().values():
        assert "Asia/Shanghai" not in sql_path(name).read_text(encoding="utf-8"), name


def test_the_database_holds_every_current_object(connection: Connection) -> None:
    expected = current_objects()

    functions: dict[str, str] = {
        row.proname: row.prosrc
        for row in connection.execute(
            text(
                "SELECT p.proname, p.prosrc FROM pg_proc p"
                " WHERE p.pronamespace = 'public'::regnamespace AND p.prokind <> 'a'"
                " AND NOT EXISTS ("
                "   SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass"
                "   AND d.objid = p.oid AND d.deptype = 'e')"
            )
        )
    }
    for name, body in expected.functions.items():
        assert name in functions, f"function {name} is missing"
        assert functions[name] == body, f"function {name} differs from its current file"
    assert set(functions) == set(expected.functions), "functions outside alembic/sql"
    aggregates = set(
        connection.execute(
            text(
                "SELECT p.proname FROM pg_proc p"
                " WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'a'"
                " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass"
                " AND d.objid = p.oid AND d.deptype = 'e')"
            )
        ).scalars()
    )
    assert aggregates == expected.aggregates

    triggers = {
        (row.tgname, row.relname): row.proname
        for row in connection.execute(
            text(
                "SELECT t.tgname, c.relname, p.proname FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid"
                " WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal"
            )
        )
    }
    assert triggers == expected.triggers

    types = {
        row.typname: list(row.attributes)
        for row in connection.execute(
            text(
                "SELECT t.typname, array_agg(a.attname::text ORDER BY a.attnum) AS attributes"
                " FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'"
                " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
                " WHERE t.typnamespace = 'public'::regnamespace AND NOT EXISTS ("
                "   SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass"
                "   AND d.objid = t.oid AND d.deptype = 'e')"
                " GROUP BY t.typname"
            )
        )
    }
    assert types == expected.types


def test_the_database_timezone_is_the_setting(connection: Connection) -> None:
    assert database_timezone(connection) == get_settings().timezone


def _stats_day(connection: Connection) -> date:
    day: date = connection.execute(text("SELECT stats_day(:ts)"), {"ts": INSTANT}).scalar_one()
    return day


def test_set_database_timezone_moves_stats_day(connection: Connection) -> None:
    setting = get_settings().timezone
    other = next(
        zone
        for zone in ("America/New_York", "Pacific/Kiritimati")
        if INSTANT.astimezone(ZoneInfo(zone)).date() != INSTANT.astimezone(ZoneInfo(setting)).date()
    )
    # A PL/pgSQL caller, as the triggers are: its plan of stats_day() is cached in the session.
    connection.execute(
        text(
            "CREATE FUNCTION pg_temp.day_of(ts timestamptz) RETURNS date LANGUAGE plpgsql"
            " AS $$ BEGIN RETURN stats_day(ts); END $$"
        )
    )

    def plpgsql_day() -> date:
        day: date = connection.execute(
            text("SELECT pg_temp.day_of(:ts)"), {"ts": INSTANT}
        ).scalar_one()
        return day

    assert _stats_day(connection) == plpgsql_day() == INSTANT.astimezone(ZoneInfo(setting)).date()

    set_database_timezone(connection, other)
    assert database_timezone(connection) == other
    assert _stats_day(connection) == INSTANT.astimezone(ZoneInfo(other)).date()
    assert plpgsql_day() == INSTANT.astimezone(ZoneInfo(other)).date(), "stale cached plan"
    # Inlined to a constant: the per-row cost is that of a zone written in.
    plan = "\n".join(
        connection.execute(text("EXPLAIN (VERBOSE, COSTS OFF) SELECT stats_day(now())")).scalars()
    )
    assert f"'{other}'::text" in plan and "wangge_timezone" not in plan, plan

    set_database_timezone(connection, setting)
    assert database_timezone(connection) == setting
    assert _stats_day(connection) == plpgsql_day() == INSTANT.astimezone(ZoneInfo(setting)).date()


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "", "Asia/Shanghai'; DROP TABLE event; --", "../etc/passwd"]
)
def test_set_database_timezone_refuses_what_is_no_zone(connection: Connection, zone: str) -> None:
    with pytest.raises(ValueError):
        set_database_timezone(connection, zone)
    assert database_timezone(connection) == get_settings().timezone


def test_read_sql_refuses_templates_and_other_paths() -> None:
    with pytest.raises(ValueError, match="template"):
        read_sql(TIMEZONE_TEMPLATE)
    for name in ("../kernel/settings", "stats_day", "stats_day.v2.sql", "Stats_Day.v1"):
        with pytest.raises(ValueError):
            read_sql(name)
    assert "wangge_timezone()" in read_sql("stats_day.v2")


def test_health_says_when_the_database_counts_days_in_another_zone(
    engine: Engine, redis: Redis
) -> None:
    """A changed ``WANGGE_TIMEZONE`` (or a database migrated under another) shows in
    ``/health`` until ``wangge stats rebuild`` aligns the database."""
    assert "timezone" not in check(redis).down
    other = "Europe/Berlin" if get_settings().timezone != "Europe/Berlin" else "Asia/Tokyo"
    try:
        with engine.begin() as conn:
            set_database_timezone(conn, other)
        assert "timezone" in check(redis).down
    finally:
        with engine.begin() as conn:
            set_database_timezone(conn, get_settings().timezone)
    assert "timezone" not in check(redis).down
