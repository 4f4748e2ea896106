"""Baselines measured beside the real endpoints in the same run: bare FastAPI, no middleware.

* ``GET /bare``: a constant.
* ``POST /bare/insert``: a sync endpoint that parses a small JSON body and inserts one row
  through the same driver as the service (SQLAlchemy + psycopg, same pool settings) into the
  same database (table ``bench_bare``, created by the bench: :func:`create_table`). No auth,
  no validation beyond the body model, no PostGIS, no audit: the floor under ``POST /events``.
"""

from __future__ import annotations

import os
import uuid
from functools import lru_cache
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Engine, create_engine, text

BARE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_bare (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id uuid NOT NULL UNIQUE,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


class BareIn(BaseModel):
    client_id: uuid.UUID
    category: str
    description: str
    location: dict[str, Any]


@lru_cache
def _engine() -> Engine:
    """Built like ``kernel.db.get_engine`` (same pool size and overflow, pre-ping)."""
    url = os.environ.get("WANGGE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/wangge")
    size = int(os.environ.get("WANGGE_DB_POOL_SIZE", "10"))
    return create_engine(url, pool_size=size, max_overflow=size, pool_pre_ping=True)


def create_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(BARE_TABLE))
        conn.execute(text("TRUNCATE bench_bare"))


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> dict[str, str]:
        return {"ok": "constant"}

    @app.post("/bare/insert", status_code=201)
    def bare_insert(body: BareIn) -> dict[str, Any]:
        with _engine().begin() as conn:
            new_id = conn.execute(
                text(
                    "INSERT INTO bench_bare (client_id, body) VALUES (:c, CAST(:b AS jsonb))"
                    " RETURNING id"
                ),
                {"c": body.client_id, "b": body.model_dump_json()},
            ).scalar_one()
        return {"id": new_id, "client_id": str(body.client_id)}

    return app
