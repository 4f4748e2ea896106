"""The grid map in memory: which grid covers a point, without a database round trip.

Built from the stored map (``grids.service.load_index``) and kept per API process by
``service.reference`` (dropped when the map changes). The boundary rule is the one of
docs/decisions/0002-grid-lookup.md: a grid covers its closed polygon (edges and vertices
included), and a point covered by several grids (a shared edge or vertex) belongs to the one
with the lowest code. Points covered by no grid are left to PostGIS (snapping measures
geodesic distances there).

Most points need no geometry at all (ADR 0005): the map's bounding box is cut into
``CELLS`` x ``CELLS`` cells, and a cell that one grid covers entirely (and no other grid
touches) answers by arithmetic. Only in cells crossed by a boundary are the candidate
polygons asked, with GEOS's exact ``covers``, lowest code first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

CELLS = 256
# Cells are tested as boxes grown by this much (degrees; ~0.1 mm), so that a point whose
# cell number rounding put on the wrong side of a cell edge still lies in the box tested.
_MARGIN = 1e-9


@dataclass(frozen=True)
class GridEntry:
    grid_id: int
    code: str
    name: str
    community: str


# A cell: None (no grid touches it), an int (the one grid covering all of it), or the
# indexes of the grids touching it, lowest code first.
Cell = int | tuple[int, ...] | None


class GridIndex:
    def __init__(self, grids: Iterable[tuple[GridEntry, BaseGeometry]]) -> None:
        ordered = sorted(grids, key=lambda item: item[0].code)  # index order = code order
        self._entries = [entry for entry, _ in ordered]
        self._geoms = np.array([geom for _, geom in ordered], dtype=object)
        shapely.prepare(self._geoms)
        self._cells: list[Cell] = []
        if len(ordered):
            self._build_cells()

    def _build_cells(self) -> None:
        minx, miny, maxx, maxy = shapely.total_bounds(self._geoms)
        self._x0, self._y0 = float(minx), float(miny)
        self._x1, self._y1 = float(maxx), float(maxy)
        self._dx = (self._x1 - self._x0) / CELLS or 1.0
        self._dy = (self._y1 - self._y0) / CELLS or 1.0
        cols, rows = np.meshgrid(np.arange(CELLS), np.arange(CELLS))
        i, j = cols.ravel(), rows.ravel()  # cell k = j * CELLS + i
        boxes = shapely.box(
            self._x0 + i * self._dx - _MARGIN,
            self._y0 + j * self._dy - _MARGIN,
            self._x0 + (i + 1) * self._dx + _MARGIN,
            self._y0 + (j + 1) * self._dy + _MARGIN,
        )
        tree = shapely.STRtree(self._geoms)
        cell_of, grid_of = tree.query(boxes, predicate="intersects")
        touching: list[list[int]] = [[] for _ in range(CELLS * CELLS)]
        for k, g in zip(cell_of.tolist(), grid_of.tolist(), strict=True):
            touching[k].append(g)
        single = [k for k, found in enumerate(touching) if len(found) == 1]
        whole = shapely.covers(
            self._geoms[[touching[k][0] for k in single]], boxes[single]
        ).tolist()
        cells: list[Cell] = [tuple(sorted(found)) or None for found in touching]
        for k, covered in zip(single, whole, strict=True):
            if covered:
                cells[k] = touching[k][0]
        self._cells = cells

    def covering(self, lon: float, lat: float) -> GridEntry | None:
        """The grid whose closed polygon covers the WGS-84 point (lowest code on a shared
        boundary), or None outside every grid."""
        if not self._cells or not (self._x0 <= lon <= self._x1 and self._y0 <= lat <= self._y1):
            return None
        i = min(int((lon - self._x0) / self._dx), CELLS - 1)
        j = min(int((lat - self._y0) / self._dy), CELLS - 1)
        cell = self._cells[j * CELLS + i]
        if cell is None:
            return None
        if isinstance(cell, int):
            return self._entries[cell]
        point = shapely.Point(lon, lat)
        for g in cell:
            if self._geoms[g].covers(point):
                return self._entries[g]
        return None
