"""Simulated patrols: most grids are walked once or twice a day, each with a short GPS track."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import text
from sqlmodel import Session

from tools.simulate.plans import Window, day_start_us
from tools.simulate.world import US, World, from_us

PATROL_DAY_SHARE = 0.9
#: The patrol row's columns the simulator writes (the rest are defaults).
COLUMNS = ("client_id", "staff_id", "grid_id", "started_at", "stopped_at", "length_m", "track")
_INSERT = text("""
INSERT INTO patrol (client_id, staff_id, grid_id, started_at, stopped_at, length_m, track)
VALUES (:client_id, :staff_id, :grid_id, :started_at, :stopped_at, :length_m,
        ST_GeomFromEWKT(:track))
""")


@dataclass(frozen=True, slots=True)
class PatrolPlan:
    client_id: uuid.UUID
    staff_id: int
    grid_id: int
    started_at: int  # µs
    stopped_at: int
    track: tuple[tuple[float, float], ...]

    @property
    def length_m(self) -> float:
        total = 0.0
        for (x1, y1), (x2, y2) in zip(self.track, self.track[1:], strict=False):
            dx = math.radians(x2 - x1) * math.cos(math.radians((y1 + y2) / 2))
            total += 6_371_008.8 * math.hypot(dx, math.radians(y2 - y1))
        return round(total, 2)

    @property
    def wkt(self) -> str:
        return "SRID=4326;LINESTRING(" + ", ".join(f"{x} {y}" for x, y in self.track) + ")"

    def values(self) -> tuple[Any, ...]:
        """The row's ``COLUMNS``."""
        return (
            self.client_id,
            self.staff_id,
            self.grid_id,
            from_us(self.started_at),
            from_us(self.stopped_at),
            self.length_m,
            self.wkt,
        )


def patrol_plans(world: World, window: Window, *, seed: int, cutoff: int) -> Iterator[PatrolPlan]:
    """The patrols of every day of ``window`` that ended by ``cutoff``."""
    rng = random.Random(seed ^ 0xBA7)
    for day in window.days:
        start = day_start_us(day)
        for grid in world.grids:
            if rng.random() >= PATROL_DAY_SHARE:
                continue
            for _ in range(1 if rng.random() < 0.6 else 2):
                begin = start + (rng.choice((8, 9, 14, 15)) * 3600 + rng.randrange(3600)) * US
                points = tuple(rng.choice(grid.points) for _ in range(rng.randint(3, 5)))
                patrol = PatrolPlan(
                    client_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    staff_id=grid.members[rng.randrange(2)],
                    grid_id=grid.id,
                    started_at=begin,
                    stopped_at=begin + rng.randint(40 * 60, 90 * 60) * US,
                    track=points,
                )
                if patrol.stopped_at <= cutoff:
                    yield patrol


def insert_patrols(session: Session, patrols: Iterator[PatrolPlan]) -> int:
    """Write patrols with INSERTs (the statistics triggers see each row); no commit."""
    rows = [dict(zip(COLUMNS, p.values(), strict=True)) for p in patrols]
    for chunk in range(0, len(rows), 2000):
        session.execute(_INSERT, rows[chunk : chunk + 2000])
    return len(rows)


def copy_patrols(conn: psycopg.Connection[Any], patrols: Iterator[PatrolPlan]) -> int:
    """Write patrols with one COPY (the track as EWKT text); no commit."""
    written = 0
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY patrol ({', '.join(COLUMNS)}) FROM STDIN") as cp,
    ):
        for patrol in patrols:
            cp.write_row(patrol.values())
            written += 1
    return written
