"""All configuration, read once from the environment (prefix ``WANGGE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel.ratelimit import Rate

DEV_SECRET = "dev-insecure-secret-change-me-not-for-production"
ROOT = Path(__file__).resolve().parent.parent


class InsecureSettings(RuntimeError):
    """Raised when the service would run outside dev mode with development defaults."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_", env_file=".env", extra="ignore")

    env: str | None = Field(
        None, description="dev | test | prod; unset is not dev: only dev/test accept the dev secret"
    )
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/wangge"
    # A streaming replica for reads that may lag (statistics, exports, drill-downs: ADR 0017);
    # unset: they read the primary. Past read_max_lag_seconds behind, or not answering, the
    # replica is skipped; its state is probed at most every read_probe_seconds.
    read_database_url: str | None = None
    read_max_lag_seconds: float = 30
    read_probe_seconds: float = 2
    redis_url: str = "redis://127.0.0.1:6379/0"
    secret_key: str = DEV_SECRET
    media_dir: Path = ROOT / "var" / "media"
    photo_max_bytes: int = 10 * 1024 * 1024  # per photo; larger uploads are a 413
    photo_max_per_stage: int = 9  # photos per event and stage (report / resolve)
    photo_max_pixels: int = 60_000_000  # decoded size guard against decompression bombs
    # Decoded pixels all of a process's photo checks may hold at once (and the most one
    # photo may take); a check waits this long for room, then answers 503.
    photo_decode_budget_bytes: int = 256 * 1024 * 1024
    photo_decode_wait_seconds: float = 30
    # Request bodies (docs/decisions/0008-hardening.md): at most this many bytes, except the
    # routes named here (path patterns, ``*`` one segment) and photo uploads (photo_max_bytes).
    body_max_bytes: int = 64 * 1024
    body_max_bytes_routes: dict[str, int] = {"/api/v1/patrols/*/points": 256 * 1024}
    data_dir: Path = ROOT / "data"
    timezone: str = "Asia/Shanghai"
    queue_name: str = "wangge"
    access_token_minutes: float = 30
    refresh_token_days: float = 14
    # Sign-in throttling (docs/decisions/0008-hardening.md): per account and source address,
    # each rate a tier of growing delay; every attempt from one address, whatever the account.
    signin_failure_rates: list[str] = ["5/minute", "20/hour", "100/day"]
    signin_rate_per_source: str = "60/minute"
    # Reporting (POST /api/v1/events): per account and per source address.
    report_rate_per_account: str = "30/minute"
    report_rate_per_source: str = "300/minute"
    # How long a process trusts what it read of the token revocations (sign-out, deactivation).
    token_revocation_recheck_seconds: float = 2
    dev_password: str = "wangge-demo"
    db_pool_size: int = 10
    worker_heartbeat_seconds: float = 5
    # The worker also beats into this local file, so a container healthcheck
    # (``wangge probe worker``) judges this very process, with or without Redis.
    worker_heartbeat_file: Path = ROOT / "var" / "worker.heartbeat"
    # Who may read the API's /metrics: a scraper sending 'Authorization: Bearer <metrics_token>'
    # (when set), or one at an address in metrics_allow_from (networks; [] for the token only).
    metrics_token: str | None = None
    metrics_allow_from: list[str] = [
        "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
    ]  # fmt: skip
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
    # Automatic reopening (复发): a confirmed public or hotline report reopens a closed event of
    # its category within the duplicate distance closed at most this many days before the
    # verification (domain.intake.ReopenRule); 0 turns it off.
    reopen_window_days: float = Field(30.0, ge=0, le=3660)
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
            mode = "with WANGGE_ENV unset" if self.env is None else f"with WANGGE_ENV={self.env!r}"
            raise InsecureSettings(
                "WANGGE_SECRET_KEY is unset, the development default or shorter than 32 "
                f"characters; set a long random secret before running {mode}"
                " (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'), or set"
                " WANGGE_ENV=dev for a development machine"
            )
        return self

    @model_validator(mode="after")
    def _rates_parse(self) -> Settings:
        for rate in (
            *self.signin_failure_rates,
            self.signin_rate_per_source,
            self.report_rate_per_account,
            self.report_rate_per_source,
        ):
            Rate.parse(rate)
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
