"""Reference data kept in memory (kernel.reference) and the relay's wake-up: a change
notification drops a copy at commit; without the listener every use compares versions; a
report decided on a stale copy is refused by the database and decided again; the relay's
LISTEN connection wakes when outbox rows commit."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime

import pytest
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, text
from sqlmodel import Session

from dispatch.categories.service import load_all
from dispatch.engine.relay import OutboxWakeup
from dispatch.events.intake import submit
from dispatch.events.schemas import EventCreate, LocationIn
from domain.coords import CoordSystem
from grids.lookup import load_index
from kernel.db import libpq_url
from kernel.reference import References
from kernel.settings import get_settings
from tests.conftest import SessionPool
from tests.kit.dispatch import principal
from tests.kit.events import GRID_01, interior_point

CATEGORY = "exposed_garbage"


@pytest.fixture
def restore_category(committed: Engine) -> Iterator[None]:
    with committed.connect() as conn:
        name = conn.execute(
            text("SELECT name FROM category WHERE code = :c"), {"c": CATEGORY}
        ).scalar_one()
    yield
    with committed.begin() as conn:
        conn.execute(
            text("UPDATE category SET name = :n WHERE code = :c"), {"n": name, "c": CATEGORY}
        )


def _rename(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE category SET name = :n WHERE code = :c"), {"n": name, "c": CATEGORY}
        )


async def _until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _with_pool(body: Callable[[AsyncConnectionPool], Awaitable[None]]) -> None:
    async def run() -> None:
        conninfo = libpq_url(get_settings().database_url)
        async with AsyncConnectionPool(conninfo, min_size=0, max_size=2, open=False) as pool:
            await body(pool)

    asyncio.run(run())


def test_a_committed_change_drops_the_copy_at_once(
    committed: Engine, restore_category: None
) -> None:
    async def body(pool: AsyncConnectionPool) -> None:
        refs = References()
        categories = refs.add("category", load_all)
        async with refs.listening_task(libpq_url(get_settings().database_url)):
            assert await _until(lambda: refs.listening)
            first = await categories.get(pool)
            assert await categories.get(pool) is first  # listening: no round trip, same copy
            _rename(committed, "暴露垃圾（改）")
            assert await _until(lambda: categories._snapshot is None), "not dropped"
            second = await categories.get(pool)
        assert second.version > first.version
        assert second.value.categories[CATEGORY].name == "暴露垃圾（改）"

    _with_pool(body)


def test_a_calendar_load_drops_the_categories_copy_with_its_calendars(committed: Engine) -> None:
    """The categories' copy holds the calendars their clocks run on (the report path plans the
    dispatch clock on them): any write to ``work_calendar`` is a change of that copy."""

    async def body(pool: AsyncConnectionPool) -> None:
        refs = References()
        categories = refs.add("category", load_all)
        async with refs.listening_task(libpq_url(get_settings().database_url)):
            assert await _until(lambda: refs.listening)
            first = await categories.get(pool)
            assert first.value.calendars["24x7"].continuous
            with committed.begin() as conn:
                conn.execute(text("UPDATE work_calendar SET revision = revision WHERE false"))
            assert await _until(lambda: categories._snapshot is None), "not dropped"
            second = await categories.get(pool)
        assert second.version > first.version

    _with_pool(body)


def test_without_the_listener_every_use_compares_versions(
    committed: Engine, restore_category: None
) -> None:
    async def body(pool: AsyncConnectionPool) -> None:
        refs = References()  # never listening
        categories = refs.add("category", load_all)
        first = await categories.get(pool)
        assert await categories.get(pool) is first  # same version: the same copy
        _rename(committed, "暴露垃圾（再改）")
        second = await categories.get(pool)
        assert second.version > first.version
        assert second.value.categories[CATEGORY].name == "暴露垃圾（再改）"

    _with_pool(body)


def test_a_report_decided_on_a_stale_copy_is_decided_again(db: Session) -> None:
    """A listener that missed a notification (so the copies look current): the category
    became 'big' meanwhile. The report statement refuses the stale versions, the copies are
    read again, and the event starts where big events start (the command centre, level 2)."""
    refs = References()
    refs.listening = True
    grid_map, categories = refs.add("grid", load_index), refs.add("category", load_all)
    pool = SessionPool(db)
    stale = asyncio.run(categories.get(pool))  # type: ignore[arg-type]
    assert stale.value.categories[CATEGORY].big is False
    db.execute(text("UPDATE category SET big = true WHERE code = :c"), {"c": CATEGORY})
    lon, lat = interior_point(db, GRID_01)
    result = asyncio.run(
        submit(
            pool=pool,  # type: ignore[arg-type]
            sessions=lambda: nullcontext(db),
            grid_map=grid_map,
            categories=categories,
            principal=principal(db, "g01m1"),
            data=EventCreate(
                client_id=uuid.uuid4(),
                category=CATEGORY,
                description="类别刚改为重大",
                location=LocationIn(lon=lon, lat=lat, coord=CoordSystem.wgs84, accuracy_m=5),
            ),
            now=datetime.now(UTC),
        )
    )
    assert result.created and result.event.level == 2
    fresh = asyncio.run(categories.get(pool))  # type: ignore[arg-type]
    assert fresh.version > stale.version and fresh.value.categories[CATEGORY].big is True
    stored = db.execute(
        text("SELECT level FROM event WHERE id = :i"), {"i": result.event.id}
    ).scalar_one()
    assert stored == 2


def test_the_relay_wakes_when_outbox_rows_commit(committed: Engine) -> None:
    wakeup = OutboxWakeup()
    wakeup.wait(0.1)  # connects and LISTENs (returns at once: rows may be waiting)

    def add_row() -> None:
        time.sleep(0.3)
        with committed.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO outbox (topic, payload, created_at, available_at, attempts)"
                    " VALUES ('notify', '{}', now(), now(), 0)"
                )
            )

    writer = threading.Thread(target=add_row)
    started = time.monotonic()
    writer.start()
    wakeup.wait(20.0)
    waited = time.monotonic() - started
    writer.join()
    assert 0.25 <= waited < 10.0, waited  # woke at the commit, long before the timeout
    started = time.monotonic()
    wakeup.wait(0.3)  # nothing new: the timeout
    assert time.monotonic() - started >= 0.25


def test_a_category_missing_from_the_copy_is_looked_up_again_before_refusing(
    db: Session,
) -> None:
    """A category added after the copy was read (its notification not yet handled): the
    report is not refused on the copy's word; the copy is read again and the report goes in."""
    refs = References()
    refs.listening = True
    grid_map, categories = refs.add("grid", load_index), refs.add("category", load_all)
    pool = SessionPool(db)
    asyncio.run(categories.get(pool))  # type: ignore[arg-type]
    db.execute(
        text(
            "INSERT INTO category (code, name, ack_minutes, resolve_minutes, big, active)"
            " VALUES ('zz_new_kind', '新增类别', 10, 30, false, true)"
        )
    )
    lon, lat = interior_point(db, GRID_01)
    result = asyncio.run(
        submit(
            pool=pool,  # type: ignore[arg-type]
            sessions=lambda: nullcontext(db),
            grid_map=grid_map,
            categories=categories,
            principal=principal(db, "g01m1"),
            data=EventCreate(
                client_id=uuid.uuid4(),
                category="zz_new_kind",
                description="刚增加的类别",
                location=LocationIn(lon=lon, lat=lat, coord=CoordSystem.wgs84, accuracy_m=5),
            ),
            now=datetime.now(UTC),
        )
    )
    assert result.created and result.event.category == "zz_new_kind"
