"""The in-memory grid index on a map small enough to reason about: four unit squares in a
2 x 2 block (codes a < b < c < d), plus an L-shaped grid whose notch another grid fills."""

from __future__ import annotations

import random

import pytest
import shapely
from shapely.geometry import Polygon, box

from grids.index import GridEntry, GridIndex


def entry(code: str) -> GridEntry:
    return GridEntry(grid_id=ord(code[-1]), code=code, name=code.upper(), community="x")


SQUARES = {
    "d": box(1, 1, 2, 2),  # given out of code order on purpose
    "a": box(0, 0, 1, 1),
    "c": box(0, 1, 1, 2),
    "b": box(1, 0, 2, 1),
}


@pytest.fixture(scope="module")
def squares() -> GridIndex:
    return GridIndex((entry(code), geom) for code, geom in SQUARES.items())


def code_at(index: GridIndex, x: float, y: float) -> str | None:
    hit = index.covering(x, y)
    return None if hit is None else hit.code


@pytest.mark.parametrize(
    ("x", "y", "code"),
    [
        (0.5, 0.5, "a"),
        (1.5, 0.5, "b"),
        (0.5, 1.5, "c"),
        (1.5, 1.5, "d"),
        (1.0, 0.5, "a"),  # shared edge a|b: lowest code
        (1.0, 1.5, "c"),  # shared edge c|d
        (0.5, 1.0, "a"),  # shared edge a|c
        (1.0, 1.0, "a"),  # the vertex all four share
        (2.0, 2.0, "d"),  # the map's outer corner is part of d (closed polygons)
        (0.0, 0.0, "a"),
        (2.0, 0.7, "b"),  # on the outer edge
    ],
)
def test_interior_edges_and_vertices(squares: GridIndex, x: float, y: float, code: str) -> None:
    assert code_at(squares, x, y) == code


@pytest.mark.parametrize(("x", "y"), [(-1e-9, 0.5), (2.0000001, 1.0), (1.0, -0.5), (5, 5)])
def test_outside_is_none(squares: GridIndex, x: float, y: float) -> None:
    assert squares.covering(x, y) is None


def test_agrees_with_covers_everywhere() -> None:
    """A map whose boundaries cross cells at odd angles, with a hole in its union (no grid
    there): every random point gets what the closed polygons say, lowest code first."""
    l_shape = Polygon([(0, 0), (3, 0), (3, 1), (1, 1), (1, 3), (0, 3)])
    notch = Polygon([(1, 1), (3, 1), (2.2, 2.0), (1, 3)])
    wedge = Polygon([(3, 0), (4.3, 0.1), (3.7, 2.9), (3, 1)])
    geoms = {"g1": l_shape, "g2": notch, "g3": wedge}
    index = GridIndex((entry(code), geom) for code, geom in geoms.items())
    rng = random.Random(5)
    misses = []
    for _ in range(20_000):
        x, y = rng.uniform(-0.2, 4.5), rng.uniform(-0.2, 3.2)
        point = shapely.Point(x, y)
        expected = min((c for c, g in geoms.items() if g.covers(point)), default=None)
        if code_at(index, x, y) != expected:
            misses.append((x, y, expected))
    assert misses == []
    assert code_at(index, 2.5, 2.5) is None  # the hole between the notch's slope and wedge
    assert code_at(index, 1.0, 1.0) == "g1"  # a vertex of g1 and g2: the lower code


def test_an_empty_map_finds_nothing() -> None:
    assert GridIndex([]).covering(0.5, 0.5) is None
