"""The post-commit relay kick of the report route, coalesced per process.

A report's dispatch request (an outbox row) should reach RQ at once, not at the worker's next
relay tick. Relaying after every single report costs a transaction, a Redis connection and an
RQ enqueue per request, nearly as much as the report itself. Here at most one relay runs per
process at a time and it moves every due row (not only one event's); reports committed while
it runs mark it dirty, and it goes round again before it stops. So under load one relay
carries many reports, and when idle each report still goes out right after its commit.

The state is per process and only an optimisation: other processes and the worker's relay
take rows with ``SKIP LOCKED``, nothing needs to agree across processes.
"""

from __future__ import annotations

import logging
import threading

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from dispatch.jobs import relay

log = logging.getLogger("wangge.dispatch.kick")

BATCH = 200
MAX_ROUNDS = 20  # then the worker's relay takes the rest

_lock = threading.Lock()
_running = False
_dirty = False


def kick() -> None:
    """Relay due outbox rows now, unless a relay of this process is already at it (then it
    goes round once more). Never raises: the worker's relay and sweep are the fallback."""
    global _running, _dirty
    with _lock:
        if _running:
            _dirty = True
            return
        _running = True
    done = False
    try:
        for round_no in range(1, MAX_ROUNDS + 1):
            with _lock:
                _dirty = False
            moved = relay(batch=BATCH)
            with _lock:
                # decided under the lock: a report marking us dirty after this sees us gone
                if (moved < BATCH and not _dirty) or round_no == MAX_ROUNDS:
                    _running = False
                    done = True
                    return
    except (RedisError, SQLAlchemyError, OSError) as exc:
        log.warning("post-commit relay failed: %s; the worker's relay will retry", exc)
    finally:
        if not done:
            with _lock:
                _running = False
