"""Every table, so SQLModel's metadata is complete (Alembic's autogenerate and tests use it)."""

from sqlmodel import SQLModel

import dispatch.categories.models  # noqa: F401
import dispatch.events.models  # noqa: F401
import dispatch.outbox  # noqa: F401
import dispatch.photos.models  # noqa: F401
import dispatch.public.models  # noqa: F401
import evaluation.models  # noqa: F401
import grids.models  # noqa: F401
import kernel.reference  # noqa: F401
import patrols.models  # noqa: F401
import staff.models  # noqa: F401

metadata = SQLModel.metadata
