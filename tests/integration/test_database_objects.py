"""The database objects of ``alembic/sql/``: the migrated test database holds the current
version of each (functions with the file's body, triggers, types), nothing in ``public`` is
left out of the files, and the README's table names the current files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Connection, text

from kernel.sqlfiles import SQL_DIR, read_sql

FILE = re.compile(r"(?P<object>[a-z_][a-z0-9_]*(?:\.type)?)\.v(?P<version>[1-9][0-9]*)\.sql")
FUNCTION = re.compile(r"CREATE OR REPLACE FUNCTION (\w+)\(.*?\$\$(.*?)\$\$", re.S)
TRIGGER = re.compile(
    r"CREATE OR REPLACE TRIGGER (\w+)\s.*?\bON (\w+)\s.*?EXECUTE FUNCTION (\w+)\(", re.S
)
TYPE = re.compile(r"CREATE TYPE (\w+) AS \((.*?)\);", re.S)
README_ROW = re.compile(r"^\|[^|]*\|\s*`([^`]+\.sql)`", re.M)


@dataclass
class Objects:
    functions: dict[str, str] = field(default_factory=dict)  # name -> body
    triggers: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, table) -> fn
    types: dict[str, list[str]] = field(default_factory=dict)  # name -> attribute names


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


def objects_of(sql: str) -> Objects:
    # Whole-line comments (column 0) are outside the bodies in these files.
    code = re.sub(r"^--.*$", "", sql, flags=re.M)
    found = Objects()
    found.functions = {m[1]: m[2] for m in FUNCTION.finditer(code)}
    found.triggers = {(m[1], m[2]): m[3] for m in TRIGGER.finditer(code)}
    found.types = {m[1]: [a.split()[0] for a in m[2].split(",")] for m in TYPE.finditer(code)}
    return found


def current_objects() -> Objects:
    every = Objects()
    for name in current_files().values():
        found = objects_of(read_sql(name))
        assert found.functions or found.types, f"{name}.sql creates no function or type"
        every.functions.update(found.functions)
        every.triggers.update(found.triggers)
        every.types.update(found.types)
    return every


def test_the_readme_table_names_the_current_files() -> None:
    readme = (SQL_DIR / "README.md").read_text(encoding="utf-8")
    listed = README_ROW.findall(readme)
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert sorted(listed) == sorted(f"{name}.sql" for name in current_files().values())


def test_the_database_holds_every_current_object(connection: Connection) -> None:
    expected = current_objects()

    functions: dict[str, str] = {
        row.proname: row.prosrc
        for row in connection.execute(
            text(
                "SELECT p.proname, p.prosrc FROM pg_proc p"
                " WHERE p.pronamespace = 'public'::regnamespace AND NOT EXISTS ("
                "   SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass"
                "   AND d.objid = p.oid AND d.deptype = 'e')"
            )
        )
    }
    for name, body in expected.functions.items():
        assert name in functions, f"function {name} is missing"
        assert functions[name] == body, f"function {name} differs from its current file"
    assert set(functions) == set(expected.functions), "functions outside alembic/sql"

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


def test_read_sql_refuses_other_paths() -> None:
    for name in ("../kernel/settings", "stats_day", "stats_day.v2.sql", "Stats_Day.v1"):
        with pytest.raises(ValueError):
            read_sql(name)
    assert "CREATE OR REPLACE FUNCTION stats_day(" in read_sql("stats_day.v1")
