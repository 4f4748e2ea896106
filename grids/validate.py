"""Checks a grid map (GeoJSON FeatureCollection in WGS-84 lon/lat) before it is loaded.

Used for the synthetic map and for any surveyed replacement, so it assumes nothing about the
generator's numbers: no fixed grid count or total area. It checks what every map must satisfy:

* each feature is a valid, single-part Polygon with a 15-digit unique ``code``, a ``name``, a
  ``community`` and a 12-digit ``community_code`` that prefixes the code;
* grids do not overlap and leave no holes inside the map (tolerance ``AREA_TOLERANCE_M2``);
* each subdistrict (the first 9 digits of the codes) is one connected piece, and each community
  is a contiguous group of grids.

Areas are measured in the UTM zone of the map's centre. Only shapely and pyproj are used.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.strtree import STRtree
from shapely.validation import explain_validity

from domain.codes import (
    COMMUNITY_CODE_LENGTH,
    GRID_CODE_LENGTH,
    community_code_of,
    subdistrict_code_of,
)

__all__ = ["AREA_TOLERANCE_M2", "ValidationProblem", "errors", "validate_map"]

AREA_TOLERANCE_M2 = 1.0
# Grids of one community may be separated by survey noise of up to this much and still count as
# touching; a real street between two grids is part of one of them, never a gap.
CONTIGUITY_TOLERANCE_M = 0.5
REQUIRED_PROPERTIES = ("code", "name", "community", "community_code")
_CODE = re.compile(rf"^\d{{{GRID_CODE_LENGTH}}}$")
_COMMUNITY_CODE = re.compile(rf"^\d{{{COMMUNITY_CODE_LENGTH}}}$")

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ValidationProblem:
    """One thing wrong with a map. ``index``/``code`` name the feature (None for the whole map)."""

    kind: str
    message: str
    index: int | None = None
    code: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = "map" if self.index is None else f"feature #{self.index} ({self.code or '?'})"
        return f"{self.severity}: {where}: {self.kind}: {self.message}"


def errors(problems: Sequence[ValidationProblem]) -> list[ValidationProblem]:
    """Only the problems that must stop a load (warnings are fixable on load, e.g. winding)."""
    return [p for p in problems if p.severity == "error"]


def _utm_transformer(lon: float, lat: float) -> Transformer:
    zone = min(60, max(1, int(math.floor((lon + 180.0) / 6.0)) + 1))
    epsg = (32600 if lat >= 0 else 32700) + zone
    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


def _polygon_of(
    index: int, code: str | None, geometry: Any, problems: list[ValidationProblem]
) -> Polygon | None:
    def problem(kind: str, message: str, severity: Severity = "error") -> None:
        problems.append(ValidationProblem(kind, message, index, code, severity))

    if not isinstance(geometry, Mapping):
        problem("geometry", "missing geometry")
        return None
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as e:
        problem("geometry", f"unreadable geometry: {e}")
        return None
    if isinstance(geom, MultiPolygon):
        if len(geom.geoms) != 1:
            problem("geometry", f"grid is in {len(geom.geoms)} pieces; a grid must be one polygon")
            return None
        geom = geom.geoms[0]
    if not isinstance(geom, Polygon) or geom.is_empty:
        problem("geometry", f"expected a Polygon, got {geom.geom_type}")
        return None
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        problem("geometry", "coordinates are not WGS-84 longitude/latitude")
        return None
    if not geom.is_valid:
        problem("invalid_geometry", explain_validity(geom))
        return None
    if geom.interiors:
        problem("geometry", "grid has a hole; the hole must be a grid of its own")
    if not geom.exterior.is_ccw:
        problem(
            "winding", "exterior ring is clockwise (RFC 7946 wants counter-clockwise)", "warning"
        )
    return geom


def _check_properties(
    index: int, props: Mapping[str, Any], problems: list[ValidationProblem]
) -> str | None:
    raw_code = props.get("code")
    code = raw_code if isinstance(raw_code, str) else None

    def problem(kind: str, message: str) -> None:
        problems.append(ValidationProblem(kind, message, index, code))

    for key in REQUIRED_PROPERTIES:
        value = props.get(key)
        if not isinstance(value, str) or not value.strip():
            problem("missing_property", f"property {key!r} is missing or empty")
    if code is not None and not _CODE.match(code):
        problem(
            "bad_code", f"code {code!r} is not 15 digits (district+subdistrict+community+serial)"
        )
    community_code = props.get("community_code")
    if isinstance(community_code, str):
        if not _COMMUNITY_CODE.match(community_code):
            problem("bad_code", f"community_code {community_code!r} is not 12 digits")
        elif code is not None and community_code_of(code) != community_code:
            problem("bad_code", f"code {code!r} does not start with community_code")
    return code


def validate_map(fc: Mapping[str, Any]) -> list[ValidationProblem]:
    """Every problem found in the FeatureCollection ``fc``; an empty list means it may be loaded."""
    problems: list[ValidationProblem] = []
    if fc.get("type") != "FeatureCollection":
        problems.append(ValidationProblem("structure", "not a GeoJSON FeatureCollection"))
    features = fc.get("features")
    if not isinstance(features, list) or not features:
        problems.append(ValidationProblem("structure", "no features"))
        return problems

    polygons: dict[int, Polygon] = {}
    codes: dict[int, str | None] = {}
    # keyed by (subdistrict, name): two subdistricts may each have a community of one name
    communities: dict[tuple[str, str], list[int]] = defaultdict(list)
    community_codes: dict[tuple[str, str], set[str]] = defaultdict(set)
    first_index_of_code: dict[str, int] = {}
    for index, feature in enumerate(features):
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            problems.append(ValidationProblem("structure", "not a GeoJSON Feature", index))
            continue
        props = feature.get("properties")
        if not isinstance(props, Mapping):
            props = {}
        code = _check_properties(index, props, problems)
        codes[index] = code
        if code is not None:
            if code in first_index_of_code:
                problems.append(
                    ValidationProblem(
                        "duplicate_code",
                        f"code already used by feature #{first_index_of_code[code]}",
                        index,
                        code,
                    )
                )
            else:
                first_index_of_code[code] = index
        polygon = _polygon_of(index, code, feature.get("geometry"), problems)
        if polygon is None:
            continue
        polygons[index] = polygon
        community = props.get("community")
        if isinstance(community, str) and community:
            key = (subdistrict_code_of(code or ""), community)
            communities[key].append(index)
            if isinstance(props.get("community_code"), str):
                community_codes[key].add(props["community_code"])

    for (_, community), found in sorted(community_codes.items()):
        if len(found) > 1:
            problems.append(
                ValidationProblem(
                    "community_code", f"community {community} has several codes: {sorted(found)}"
                )
            )
    if polygons:
        problems.extend(_spatial_problems(polygons, codes, communities))
    return problems


def _spatial_problems(
    polygons: Mapping[int, Polygon],
    codes: Mapping[int, str | None],
    communities: Mapping[tuple[str, str], list[int]],
) -> list[ValidationProblem]:
    problems: list[ValidationProblem] = []
    centre = shapely.unary_union(list(polygons.values())).centroid
    to_metric = _utm_transformer(centre.x, centre.y)
    metric: dict[int, Polygon] = {
        i: shapely.transform(p, to_metric.transform, interleaved=False) for i, p in polygons.items()
    }
    order = sorted(metric)
    tree = STRtree([metric[i] for i in order])
    for a in order:
        for b_pos in tree.query(metric[a], predicate="intersects"):
            b = order[int(b_pos)]
            if b <= a:
                continue
            overlap = metric[a].intersection(metric[b]).area
            if overlap > AREA_TOLERANCE_M2:
                problems.append(
                    ValidationProblem(
                        "overlap",
                        f"overlaps feature #{b} ({codes.get(b) or '?'}) by {overlap:.1f} m²",
                        a,
                        codes.get(a),
                    )
                )

    # each subdistrict is one connected piece (a file may hold several, not necessarily adjacent)
    by_subdistrict: dict[str, list[Polygon]] = defaultdict(list)
    for i, polygon in metric.items():
        by_subdistrict[subdistrict_code_of(codes.get(i) or "")].append(polygon)
    for subdistrict, members in sorted(by_subdistrict.items()):
        merged = shapely.unary_union(members)
        pieces = len(merged.geoms) if isinstance(merged, MultiPolygon) else 1
        if pieces > 1:
            where = "the map" if len(by_subdistrict) == 1 else f"subdistrict {subdistrict}"
            problems.append(
                ValidationProblem("disconnected", f"{where} falls into {pieces} separate pieces")
            )
    union = shapely.unary_union(list(metric.values()))
    parts = list(union.geoms) if isinstance(union, MultiPolygon) else [union]
    for part in parts:
        if not isinstance(part, Polygon):
            continue
        for ring in part.interiors:
            gap = Polygon(ring).area
            if gap > AREA_TOLERANCE_M2:
                where = Polygon(ring).representative_point()
                lon, lat = to_metric.transform(where.x, where.y, direction="INVERSE")
                problems.append(
                    ValidationProblem(
                        "gap", f"gap of {gap:.1f} m² inside the map near ({lon:.6f}, {lat:.6f})"
                    )
                )

    for (_, community), members in sorted(communities.items()):
        grown = [metric[i].buffer(CONTIGUITY_TOLERANCE_M / 2) for i in members]
        merged = shapely.unary_union(grown)
        if isinstance(merged, MultiPolygon) and len(merged.geoms) > 1:
            problems.append(
                ValidationProblem(
                    "community_not_contiguous",
                    f"community {community} falls into {len(merged.geoms)} separate pieces",
                    members[0],
                    codes.get(members[0]),
                )
            )
    return problems
