"""The grid map in memory: which grid covers a point, without a database round trip.

Built from the stored map (``grids.service.load_index``) and kept per API process by
``service.reference`` (dropped when the map changes). The boundary rule is the one of
docs/decisions/0002-grid-lookup.md: a grid covers its closed polygon (edges and vertices
included), and a point covered by several grids (a shared edge or vertex) belongs to the one
with the lowest code. Points covered by no grid are left to PostGIS (snapping measures
geodesic distances there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import shapely
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class GridEntry:
    grid_id: int
    code: str
    name: str
    community: str


class GridIndex:
    """An STRtree over the grids, ordered by code so that the lowest index found is the
    lowest code (the tie rule on shared edges and vertices)."""

    def __init__(self, grids: Iterable[tuple[GridEntry, BaseGeometry]]) -> None:
        ordered = sorted(grids, key=lambda item: item[0].code)
        self._refs = [ref for ref, _ in ordered]
        self._tree = shapely.STRtree([geom for _, geom in ordered])

    def __len__(self) -> int:
        return len(self._refs)

    def covering(self, lon: float, lat: float) -> GridEntry | None:
        """The grid whose closed polygon covers the WGS-84 point (lowest code on a shared
        boundary), or None outside every grid."""
        found = self._tree.query(shapely.Point(lon, lat), predicate="covered_by")
        return self._refs[int(found.min())] if len(found) else None
