"""Baselines measured beside the real endpoints in the same run: bare FastAPI, no middleware."""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> dict[str, str]:
        return {"ok": "constant"}

    return app
