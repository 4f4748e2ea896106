"""Imports every table so SQLModel's metadata is complete (Alembic and tests use it)."""

from sqlmodel import SQLModel

import dispatch.models  # noqa: F401
import dispatch.stats.models  # noqa: F401
import grids.models  # noqa: F401
import service.auth.models  # noqa: F401
import service.reference  # noqa: F401

metadata = SQLModel.metadata
