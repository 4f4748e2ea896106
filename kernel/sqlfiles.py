"""The database's functions, types and triggers as versioned SQL files (``alembic/sql/``).

Migrations apply the files with ``op.execute(read_sql("stats_day.v1"))``; the naming rule and
the table of current files are in ``alembic/sql/README.md``. Migration scripts cannot import
from ``alembic/`` (that name is the Alembic package), so the helpers live here.
"""

from __future__ import annotations

import re
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "alembic" / "sql"

# "<object>.v<N>", or "<type>.type.v<N>" for a type (a type and a function may share a name).
_NAME = re.compile(r"[a-z_][a-z0-9_]*(\.type)?\.v[1-9][0-9]*")
_PLACEHOLDER = re.compile(r"\{\{\s*\w+\s*\}\}")


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
