"""OGC API – Features (Part 1: Core, GeoJSON) under ``/api/v1/ogc``, read-only, so GIS tools
(QGIS, GDAL's OAPIF driver) load the map, the open events and a day's patrol coverage.

The same bearer token and the same object-level rules as the rest of the API: grids and
communities for everyone signed in, events and coverage within the caller's jurisdiction.
Items take ``bbox`` (WGS-84 longitude/latitude), ``limit`` and ``offset``, and link to the next
page; every feature has an ``id``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse

from dispatch.events.reads import open_event_features
from domain.jurisdiction import Principal
from grids.service import community_features, grid_features, map_extent
from kernel.errors import Invalid, NotFound, field_error
from kernel.paging import BBox, FeaturePage
from kernel.settings import get_settings
from patrols.service import coverage_features
from service.api.deps import AnyUser, Now, SessionDep
from service.api.docs import AUTHENTICATED

router = APIRouter(prefix="/api/v1/ogc", tags=["OGC API Features"], responses=AUTHENTICATED)

GEOJSON = "application/geo+json"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000


@dataclass(frozen=True)
class ItemsQuery:
    """What an items request asks for."""

    principal: Principal
    now: datetime
    bbox: BBox | None
    limit: int
    offset: int
    day: date | None
    fid: str | None = None


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    items: Callable[[Session, ItemsQuery], FeaturePage]


def _grids(session: Session, q: ItemsQuery) -> FeaturePage:
    return grid_features(session=session, bbox=q.bbox, limit=q.limit, offset=q.offset)


def _communities(session: Session, q: ItemsQuery) -> FeaturePage:
    return community_features(session=session, bbox=q.bbox, limit=q.limit, offset=q.offset)


def _events(session: Session, q: ItemsQuery) -> FeaturePage:
    event_id = None
    if q.fid is not None:
        if not q.fid.isdigit():
            return FeaturePage([], 0)
        event_id = int(q.fid)
    return open_event_features(
        session,
        principal=q.principal,
        now=q.now,
        bbox=q.bbox,
        limit=q.limit,
        offset=q.offset,
        event_id=event_id,
    )


def _coverage(session: Session, q: ItemsQuery) -> FeaturePage:
    day = q.day or q.now.astimezone(get_settings().tz).date()
    return coverage_features(
        session=session,
        principal=q.principal,
        day=day,
        bbox=q.bbox,
        limit=q.limit,
        offset=q.offset,
    )


COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        Collection("grids", "网格 grids", "the grid map: code, name, community, area, staff",
                   _grids),
        Collection("communities", "社区 communities", "communities, outlined by their grids",
                   _communities),
        Collection("events", "在办事件 open events",
                   "open events you may see, with their SLA state (ok / warning / breached)",
                   _events),
        Collection("patrol-coverage", "巡查覆盖 patrol coverage",
                   "per grid for one day (?date=YYYY-MM-DD, default today): patrolled, patrols,"
                   " metres walked, share of the area within 50 m of the tracks", _coverage),
    )
}  # fmt: skip


def _bbox(value: str | None) -> BBox | None:
    if value is None:
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or not all(math.isfinite(v) for v in parts):
        raise Invalid(field_error("bbox", "bbox is four numbers: minlon,minlat,maxlon,maxlat"))
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise Invalid(
            field_error("bbox", "bbox must lie in -180..180, -90..90 with min ≤ max (WGS-84)")
        )
    return minx, miny, maxx, maxy


def _collection(cid: str) -> Collection:
    found = COLLECTIONS.get(cid)
    if found is None:
        raise NotFound({"loc": ["collection_id"], "msg": f"no collection {cid!r}"})
    return found


def _link(
    request: Request, name: str, rel: str, kind: str, title: str, **params: Any
) -> dict[str, str]:
    return {
        "href": str(request.url_for(name, **params)),
        "rel": rel,
        "type": kind,
        "title": title,
    }


def _describe(request: Request, c: Collection, extent: BBox | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(request, "ogc_collection", "self", "application/json", c.title,
                  collection_id=c.id),
            _link(request, "ogc_items", "items", GEOJSON, c.title, collection_id=c.id),
        ],
    }  # fmt: skip
    if extent is not None:
        out["extent"] = {"spatial": {"bbox": [list(extent)], "crs": CRS84}}
    return out


@router.get("", name="ogc_landing")
def landing(request: Request, _: AnyUser) -> dict[str, Any]:
    """The landing page: links to the API definition, the conformance and the collections."""
    return {
        "title": "Wangge 网格化管理 — OGC API Features",
        "description": "The grid map, open events and patrol coverage for GIS tools.",
        "links": [
            _link(request, "ogc_landing", "self", "application/json", "this document"),
            {"href": str(request.url_for("openapi")), "rel": "service-desc",
             "type": "application/vnd.oai.openapi+json;version=3.0", "title": "the API"},
            _link(request, "ogc_conformance", "conformance", "application/json", "conformance"),
            _link(request, "ogc_collections", "data", "application/json", "collections"),
        ],
    }  # fmt: skip


@router.get("/conformance", name="ogc_conformance")
def conformance(_: AnyUser) -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE)}


@router.get("/collections", name="ogc_collections")
def collections(request: Request, session: SessionDep, _: AnyUser) -> dict[str, Any]:
    extent = map_extent(session=session)
    return {
        "collections": [_describe(request, c, extent) for c in COLLECTIONS.values()],
        "links": [_link(request, "ogc_collections", "self", "application/json", "collections")],
    }


CollectionId = Annotated[str, Path(max_length=32, description="collection id")]


@router.get("/collections/{collection_id}", name="ogc_collection")
def collection(
    request: Request, session: SessionDep, _: AnyUser, collection_id: CollectionId
) -> dict[str, Any]:
    return _describe(request, _collection(collection_id), map_extent(session=session))


@router.get(
    "/collections/{collection_id}/items",
    name="ogc_items",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"}},
)
def items(
    request: Request,
    session: SessionDep,
    principal: AnyUser,
    now: Now,
    collection_id: CollectionId,
    bbox: Annotated[
        str | None, Query(max_length=200, description="minlon,minlat,maxlon,maxlat (WGS-84)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    day: Annotated[date | None, Query(alias="date", description="patrol-coverage: the day")] = None,
) -> JSONResponse:
    """Features of a collection, a page at a time (``next`` links to the following page)."""
    c = _collection(collection_id)
    q = ItemsQuery(principal, now, _bbox(bbox), limit, offset, day)
    page = c.items(session, q)
    here = dict(request.query_params)
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON, "title": "this page"}]
    if offset + len(page.features) < page.matched:
        following = request.url.replace_query_params(**{**here, "offset": offset + limit})
        links.append({"href": str(following), "rel": "next", "type": GEOJSON, "title": "next"})
    body = {
        "type": "FeatureCollection",
        "features": page.features,
        "numberMatched": page.matched,
        "numberReturned": len(page.features),
        "timeStamp": now.isoformat(),
        "links": links,
    }
    return JSONResponse(body, media_type=GEOJSON)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    name="ogc_item",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON Feature"}},
)
def item(
    request: Request,
    session: SessionDep,
    principal: AnyUser,
    now: Now,
    collection_id: CollectionId,
    feature_id: Annotated[str, Path(max_length=64)],
) -> JSONResponse:
    """One feature by its ``id`` (404 when there is none you may see)."""
    c = _collection(collection_id)
    page = c.items(session, ItemsQuery(principal, now, None, MAX_LIMIT, 0, None, fid=feature_id))
    found = next((f for f in page.features if str(f.get("id")) == feature_id), None)
    if found is None:
        raise NotFound({"loc": ["feature_id"], "msg": f"no feature {feature_id!r}"})
    found = {
        **found,
        "links": [{"href": str(request.url), "rel": "self", "type": GEOJSON, "title": "this"}],
    }
    return JSONResponse(found, media_type=GEOJSON)
