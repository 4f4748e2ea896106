"""Imports every table so SQLModel's metadata is complete (Alembic and tests use it)."""

from sqlmodel import SQLModel

import dispatch.models  # noqa: F401
import evaluation.models  # noqa: F401
import grids.models  # noqa: F401
import kernel.reference  # noqa: F401
import staff.models  # noqa: F401

metadata = SQLModel.metadata
