"""Reference data the API keeps in memory: the grid map and the categories.

Both change rarely (a map load, an admin's edit) and are read by every report and lookup,
so each API process keeps a copy with the version it was read at. The versions live in
``reference_version``; statement triggers bump them and NOTIFY ``reference_changed`` in the
writing transaction (migration 0007), whoever writes. A listener task of each process drops
the matching copies when the notification arrives (at commit); while it is not listening
(starting, or its connection lost), every use checks the version first. Writers that must be
exact (the report statement) also pass the version they used to the database, which refuses
a stale one: see docs/decisions/0005-hot-paths-in-memory-reference-data.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlmodel import Field, SQLModel

log = logging.getLogger("wangge.reference")

CHANNEL = "reference_changed"
#: The listener pings its connection this often when nothing arrives, and TCP keepalives
#: are on, so a connection lost without an error is noticed (and copies version-checked).
PING_SECONDS = 15.0
_KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
T = TypeVar("T")
Loader = Callable[[AsyncConnection[Any]], Awaitable[T]]


class ReferenceVersion(SQLModel, table=True):
    """How many times a kind of reference data has changed (bumped by triggers)."""

    __tablename__ = "reference_version"

    name: str = Field(primary_key=True, max_length=32)
    version: int


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    version: int
    value: T


_VERSION_SQL = "SELECT version FROM reference_version WHERE name = %(name)s"


class ReferenceCache(Generic[T]):
    """One kind of reference data (a ``reference_version`` name), read on first use and again
    after each change. Per event loop (one app lifespan): the read lock is an asyncio lock."""

    def __init__(self, name: str, load: Loader[T], owner: References) -> None:
        self.name = name
        self._load = load
        self._owner = owner
        self._snapshot: Snapshot[T] | None = None
        # Bumped by invalidate(): a read that started before a change must not be kept.
        self._generation = 0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._generation += 1
        self._snapshot = None

    async def get(self, pool: AsyncConnectionPool) -> Snapshot[T]:
        """The current copy. While change notifications are arriving a copy not invalidated
        is current; otherwise the stored version is compared first (one round trip)."""
        snapshot = self._snapshot
        if snapshot is not None and self._owner.listening:
            return snapshot
        async with self._lock:  # one read at a time: after a change, one request reads
            if self._snapshot is not None and self._owner.listening:
                return self._snapshot  # read by the request this one waited for
            generation = self._generation
            async with pool.connection() as conn:
                if snapshot is not None and await _version(conn, self.name) == snapshot.version:
                    return snapshot
                snapshot = await self._read(conn)
            if generation == self._generation:
                self._snapshot = snapshot
            return snapshot

    async def _read(self, conn: AsyncConnection[Any]) -> Snapshot[T]:
        """The data and the version it is at: the version read before and after the data
        agree (writers bump it in the transaction that changes the data), else read again."""
        before = await _version(conn, self.name)
        while True:
            value = await self._load(conn)
            after = await _version(conn, self.name)
            if after == before:
                return Snapshot(before, value)
            before = after


async def _version(conn: AsyncConnection[Any], name: str) -> int:
    row = await (await conn.execute(_VERSION_SQL, {"name": name})).fetchone()
    if row is None:
        raise LookupError(f"reference_version has no row {name!r} (migrations not applied?)")
    return int(row[0])


class References:
    """The caches of one process (one app lifespan) and the listener that keeps them true."""

    def __init__(self) -> None:
        self._caches: list[ReferenceCache[Any]] = []
        self.listening = False

    def add(self, name: str, load: Loader[T]) -> ReferenceCache[T]:
        cache = ReferenceCache(name, load, self)
        self._caches.append(cache)
        return cache

    def invalidate(self, name: str | None = None) -> None:
        for cache in self._caches:
            if name is None or cache.name == name:
                cache.invalidate()

    async def listen(self, conninfo: str, *, retry_seconds: float = 1.0) -> None:
        """Run until cancelled: LISTEN, drop copies on each notification; reconnect on loss.
        Everything is dropped on (re)connecting: changes may have been missed meanwhile."""
        while True:
            try:
                conn = await AsyncConnection.connect(
                    conninfo,
                    autocommit=True,
                    connect_timeout=5,
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                )
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.invalidate()
                    self.listening = True
                    while True:
                        async for note in conn.notifies(timeout=PING_SECONDS):
                            self.invalidate(note.payload)
                        await conn.execute("SELECT 1")  # a silently dead link raises here
            except (psycopg.Error, OSError) as exc:
                log.warning("reference listener lost its connection (%s); retrying", exc)
            finally:
                self.listening = False
            await asyncio.sleep(retry_seconds)

    @contextlib.asynccontextmanager
    async def listening_task(self, conninfo: str) -> AsyncIterator[None]:
        task = asyncio.create_task(self.listen(conninfo), name="reference-listener")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
