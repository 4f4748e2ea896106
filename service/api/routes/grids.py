"""Routes of the grid map. Thin: parse, call grids.service, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from domain.coords import CoordSystem
from grids import service
from service.api.deps import AnyUser, SessionDep, grid_locator
from service.api.docs import AUTHENTICATED, GridCollection, GridFeature, problems
from service.api.query import parse_query, query_parameters

router = APIRouter(prefix="/api/v1", tags=["grids"], responses=AUTHENTICATED)


class GeoJSONResponse(JSONResponse):
    """GeoJSON text produced by PostGIS, passed through as it is, under RFC 7946's media type
    (a JSON response to FastAPI, so the documented model is the reply's schema)."""

    media_type = "application/geo+json"

    def render(self, content: Any) -> bytes:
        return content.encode() if isinstance(content, str) else super().render(content)


class GridRef(BaseModel):
    code: str
    name: str
    community: str


class LocateOut(BaseModel):
    grid: GridRef
    snapped: bool
    distance_m: float
    wgs84: tuple[float, float]


class CommunityOut(BaseModel):
    code: str
    name: str
    grid_count: int
    area_km2: float
    grids: list[str]


_GRIDS: dict[int | str, dict[str, Any]] = {
    200: {"model": GridCollection, "description": "every grid, a GeoJSON FeatureCollection"}
}
_GRID: dict[int | str, dict[str, Any]] = {
    200: {"model": GridFeature, "description": "the grid, a GeoJSON Feature"},
    **problems(404),
}


class LocateQuery(BaseModel):
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="longitude, degrees")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="latitude, degrees")
    coord: CoordSystem = Field(
        CoordSystem.wgs84, description="wgs84 (GPS), gcj02 (Amap/Tencent), bd09 (Baidu)"
    )
    accuracy_m: float = Field(
        0.0, ge=0, le=10_000, allow_inf_nan=False, description="GPS accuracy radius, metres"
    )


@router.get("/grids/locate", response_model=LocateOut, openapi_extra=query_parameters(LocateQuery))
async def locate(request: Request, _: AnyUser) -> Response:
    """The grid a point is in. Coordinates are converted to WGS-84 first; a point within
    min(accuracy_m, 50 m) outside the boundary snaps to the nearest grid; farther is a 422."""
    query = parse_query(LocateQuery, request)  # one validation (service.query)
    locator = grid_locator(request)
    # the point is the whole query string: an error names it, or its ``coord``
    loc = await locator.locate(query.lon, query.lat, query.coord, query.accuracy_m, loc=("query",))
    out = LocateOut(
        grid=GridRef(code=loc.code, name=loc.name, community=loc.community),
        snapped=loc.snapped,
        distance_m=round(loc.distance_m, 2),
        wgs84=(loc.lon, loc.lat),
    )
    # Serialized here, once: FastAPI would otherwise validate the LocateOut again.
    return Response(out.model_dump_json(), media_type="application/json")


@router.get("/grids", response_class=GeoJSONResponse, responses=_GRIDS)
def list_grids(session: SessionDep, _: AnyUser) -> GeoJSONResponse:
    """All grids as a FeatureCollection (properties: code, name, community, area_km2, staff)."""
    return GeoJSONResponse(service.feature_collection(session=session))


@router.get("/grids/{code}", response_class=GeoJSONResponse, responses=_GRID)
def get_grid(
    session: SessionDep, _: AnyUser, code: Annotated[str, Path(pattern=r"^\d{15}$")]
) -> GeoJSONResponse:
    return GeoJSONResponse(service.grid_feature(session=session, code=code))


@router.get("/communities", response_model=list[CommunityOut])
def list_communities(session: SessionDep, _: AnyUser) -> list[CommunityOut]:
    return [CommunityOut(**c) for c in service.communities(session=session)]


@router.get("/coverage", response_model=service.Coverage, name="grid_coverage")
def coverage(session: SessionDep, _: AnyUser) -> service.Coverage:
    """网格化管理覆盖率 and 一长两员配备率, measured on the stored map."""
    return service.coverage(session=session)
