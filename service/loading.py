"""Loading the reference data: grid map, roster, categories. Idempotent."""

from __future__ import annotations

from pathlib import Path

from dispatch.categories.service import load_categories
from grids.loading import load_map, read_map_file
from kernel.db import session_scope
from kernel.settings import get_settings
from staff.service import load_roster


def load_all(*, grids_path: Path | None = None) -> str:
    settings = get_settings()
    with session_scope() as session:
        grids = load_map(
            session=session, fc=read_map_file(grids_path or settings.data_dir / "grids.geojson")
        )
        summary = (
            f"grid map: {grids.grids} grids in {grids.communities} communities "
            f"({grids.created} new, {grids.updated} updated, {grids.removed} removed)"
        )
        if settings.is_dev:
            # The synthetic roster's demo accounts share the dev password: dev/test only.
            roster = load_roster(
                session=session,
                path=settings.data_dir / "roster.json",
                password=settings.dev_password,
            )
            summary += f"; demo roster: {roster['created']} of {roster['people']} people created"
        cats = load_categories(session=session, path=settings.data_dir / "categories.json")
        summary += f"; categories: {cats['created']} of {cats['categories']} created"
    return summary
