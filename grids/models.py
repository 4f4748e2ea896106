"""Tables of the grid map: subdistricts, their communities and grids."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class Community(SQLModel, table=True):
    """社区: a contiguous group of grids; its name is unique within its subdistrict."""

    __table_args__ = (UniqueConstraint("subdistrict_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, min_length=12, unique=True, index=True)
    name: str = Field(max_length=64)
    subdistrict_id: int = Field(foreign_key="subdistrict.id", index=True)


class Grid(SQLModel, table=True):
    """网格: one polygon of the tiling, with its 15-digit hierarchical code."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=15, min_length=15, unique=True, index=True)
    name: str = Field(max_length=64)
    community_id: int = Field(foreign_key="community.id", index=True)
    subdistrict_id: int = Field(foreign_key="subdistrict.id", index=True)
    area_m2: float = Field(description="geodesic area, m²")
    geom: Any = Field(
        sa_column=Column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    )


class Subdistrict(SQLModel, table=True):
    """街道: the jurisdiction the grids must cover; coverage is measured against it."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=9, unique=True)
    name: str = Field(max_length=64)
    area_m2: float
    geom: Any = Field(
        sa_column=Column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    )
