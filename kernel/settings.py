"""All configuration, read once from the environment (prefix ``WANGGE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me-not-for-production"
ROOT = Path(__file__).resolve().parent.parent


class InsecureSettings(RuntimeError):
    """Raised when the service would run outside dev mode with development defaults."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_", env_file=".env", extra="ignore")

    env: str = Field("dev", description="dev | test | prod; only dev/test accept the dev secret")
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/wangge"
    redis_url: str = "redis://127.0.0.1:6379/0"
    secret_key: str = DEV_SECRET
    media_dir: Path = ROOT / "var" / "media"
    photo_max_bytes: int = 10 * 1024 * 1024  # per photo; larger uploads are a 413
    photo_max_per_stage: int = 9  # photos per event and stage (report / resolve)
    photo_max_pixels: int = 60_000_000  # decoded size guard against decompression bombs
    data_dir: Path = ROOT / "data"
    timezone: str = "Asia/Shanghai"
    queue_name: str = "wangge"
    access_token_minutes: float = 30
    refresh_token_days: float = 14
    login_max_failures: int = 5
    login_lock_minutes: float = 15
    dev_password: str = "wangge-demo"
    db_pool_size: int = 10
    worker_heartbeat_seconds: float = 5
    # The worker also beats into this local file, so a container healthcheck
    # (``wangge probe worker``) judges this very process, with or without Redis.
    worker_heartbeat_file: Path = ROOT / "var" / "worker.heartbeat"
    # The worker's own /metrics (its domain counts: dispatches, SLA timers); off when None.
    worker_metrics_port: int | None = None
    worker_metrics_address: str = "127.0.0.1"
    # The API's shutdown: open requests (a change stream) get this long, then are cancelled.
    shutdown_grace_seconds: int = 3
    sweep_seconds: float = 15
    # Dispatch engine: how often the worker relays the outbox and promotes due timers, how
    # long past due a timer is left to RQ before the sweep handles it, webhook retries.
    relay_seconds: float = 0.25
    promote_seconds: float = 0.1
    # Processed outbox rows are kept this long, then deleted by the worker in small batches
    # (pending and failing rows are kept until handled; the audit log is the permanent record).
    outbox_retention_days: float = Field(7.0, gt=0)
    sweep_grace_seconds: float = 5
    resolve_photo_required: bool = True
    webhook_timeout_seconds: float = 5
    webhook_retry_intervals: list[int] = [1, 5, 30, 120, 600]
    webhook_url: str | None = None
    log_level: str = Field("INFO", description="root log level; WARNING drops access logs")
    # Per-level SLA allowances (DESIGN §3): absolute minutes override the category's,
    # otherwise its minutes times the multiplier. Levels: 0 grid, 1 community, 2 command
    # centre, 3 department. As JSON in WANGGE_LEVEL_ALLOWANCES.
    level_allowances: dict[int, dict[str, float]] = {
        0: {"multiplier": 1.0},
        1: {"multiplier": 1.0},
        2: {"multiplier": 1.0},
        3: {"multiplier": 2.0},
    }
    assignment_load_cap: int = 5
    # Duplicate candidates of a new report (every source): open events of the same category
    # within this distance and time, nearest first, at most this many.
    duplicate_distance_m: float = Field(50.0, gt=0)
    duplicate_window_hours: float = Field(24.0, gt=0)
    duplicate_limit: int = Field(5, ge=1, le=50)
    # The public door (Open311): reports per client address and per API key (kernel.ratelimit
    # spelling, e.g. "10/minute"); the longest public description.
    public_rate_per_address: str = "10/minute"
    public_rate_per_key: str = "600/minute"
    public_description_max: int = Field(1000, ge=10, le=4000)
    # The browser console (/console/): where its build lives, and an optional base map. The
    # map works with the grid polygons alone; a tile URL template ({z}/{x}/{y}, {s} for
    # subdomains) adds tiles, and its host is added to the Content-Security-Policy.
    # tile_coord: the tiles' coordinate system (gcj02 for Amap/Tencent tiles, whose offset
    # the console applies to everything it draws on them).
    console_dir: Path = ROOT / "console" / "dist"
    console_tile_url: str | None = None
    console_tile_coord: Literal["wgs84", "gcj02"] = "wgs84"
    console_tile_attribution: str = ""

    @model_validator(mode="after")
    def _refuse_dev_secret(self) -> Settings:
        if self.env not in ("dev", "test") and (
            self.secret_key == DEV_SECRET or len(self.secret_key) < 32
        ):
            raise InsecureSettings(
                "WANGGE_SECRET_KEY is unset, the development default or shorter than 32 "
                f"characters; set a long random secret before running with WANGGE_ENV={self.env!r}"
                " (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def is_dev(self) -> bool:
        return self.env in ("dev", "test")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache
def get_settings() -> Settings:
    return Settings()
