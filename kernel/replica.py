"""Where reads that may lag go: a streaming replica while it answers and keeps up, else the
primary (ADR 0017). The state is probed on the replica itself, at most every
``read_probe_seconds``, so a request pays no extra round trip."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from kernel.db import get_engine, get_read_engine
from kernel.settings import get_settings

# Seconds behind the primary, seen from the standby: nothing received is left to replay while
# the WAL receiver streams: 0; otherwise the age of the last replayed transaction (how stale
# what it serves may be). NULL: it has replayed no transaction since it started.
_PROBE = text(
    """
    SELECT pg_is_in_recovery() AS standby,
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                     AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
                THEN 0
                ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
           END::float8 AS lag
    """
)


@dataclass(frozen=True)
class ReplicaState:
    """What the last probe found. ``serving`` says whether lagging reads go to the replica;
    ``reason`` says why not when it is configured but skipped."""

    configured: bool
    reachable: bool
    lag_seconds: float | None
    max_lag_seconds: float
    serving: bool
    reason: str | None


def probe(engine: Engine, max_lag: float) -> ReplicaState:
    try:
        with engine.connect() as conn:
            row = conn.execute(_PROBE).one()
    except SQLAlchemyError as exc:
        reason = f"not answering: {type(getattr(exc, 'orig', None) or exc).__name__}"
        return ReplicaState(True, False, None, max_lag, False, reason)
    standby, lag = bool(row.standby), (None if row.lag is None else max(float(row.lag), 0.0))
    if not standby:
        return ReplicaState(True, True, lag, max_lag, False, "not in recovery (promoted?)")
    if lag is None:
        return ReplicaState(True, True, None, max_lag, False, "has replayed nothing yet")
    if lag > max_lag:
        return ReplicaState(True, True, lag, max_lag, False, f"{lag:.1f} s behind")
    return ReplicaState(True, True, lag, max_lag, True, None)


class ReadRoute:
    """The engine for reads that may lag, chosen from a probe at most ``every`` seconds old.
    One per process; thread-safe (sync routes run in a thread pool)."""

    def __init__(self, replica: Engine | None, primary: Engine, max_lag: float, every: float):
        self._replica, self._primary = replica, primary
        self._max_lag, self._every = max_lag, every
        self._lock = threading.Lock()
        self._state: ReplicaState | None = None
        self._probed_at = float("-inf")

    def state(self, *, fresh: bool = False) -> ReplicaState:
        if self._replica is None:
            return ReplicaState(False, False, None, self._max_lag, False, "not configured")
        with self._lock:
            if fresh or self._state is None or time.monotonic() - self._probed_at >= self._every:
                self._state = probe(self._replica, self._max_lag)
                self._probed_at = time.monotonic()
            return self._state

    def engine(self) -> Engine:
        if self._replica is not None and self.state().serving:
            return self._replica
        return self._primary


@lru_cache
def read_route() -> ReadRoute:
    settings = get_settings()
    replica = get_read_engine() if settings.read_database_url else None
    return ReadRoute(
        replica, get_engine(), settings.read_max_lag_seconds, settings.read_probe_seconds
    )
