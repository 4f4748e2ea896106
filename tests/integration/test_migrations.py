"""Migrations apply from an empty database and downgrade back to nothing."""

from __future__ import annotations

import psycopg
from sqlalchemy import Engine, create_engine, inspect, text

from alembic import command
from kernel.db import libpq_url
from service.cli import alembic_config


def test_upgrade_from_empty_then_downgrade_to_base(engine: Engine) -> None:
    # named after the test database, so that two checkouts' suites never share it
    SCRATCH = f"{engine.url.database}_migrations"
    admin = libpq_url(engine.url.render_as_string(hide_password=False), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    url = engine.url.set(database=SCRATCH).render_as_string(hide_password=False)
    scratch = create_engine(url)
    try:
        command.upgrade(alembic_config(url), "head")
        with scratch.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {"grid", "community", "staff", "users", "subdistrict"} <= tables
            assert conn.execute(
                text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
            ).first(), "the first migration must create the postgis extension"
        command.downgrade(alembic_config(url), "base")
        with scratch.connect() as conn:
            left = set(inspect(conn).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
            assert left == set()
            assert not conn.execute(text("SELECT 1 FROM pg_type WHERE typname = 'role'")).first()
        command.upgrade(alembic_config(url), "head")  # and up again: downgrades are clean
    finally:
        scratch.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
