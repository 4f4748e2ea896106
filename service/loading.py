"""``wangge load-data``: the grid map, the demo roster (dev and test only), the seeded working
calendars and the categories in one transaction, then the map's coverage figures. Idempotent."""

from __future__ import annotations

from pathlib import Path

from dispatch.calendars.service import load_seed_calendars
from dispatch.categories.service import load_categories
from evaluation.mapfigures import refresh_map_figures
from grids.loading import load_map, read_map_file
from kernel.clock import utc_now
from kernel.settings import get_settings
from kernel.uow import unit_of_work
from staff.roster import load_roster


def load_all(*, grids_path: Path | None = None) -> str:
    settings = get_settings()
    with unit_of_work() as uow:
        session = uow.session
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
        loaded = load_seed_calendars(session, now=utc_now())
        summary += f"; calendars: {', '.join(c['code'] for c in loaded)}"
        cats = load_categories(session=session, path=settings.data_dir / "categories.json")
        summary += f"; categories: {cats['created']} of {cats['categories']} created"
        uow.commit()
        refresh_map_figures(uow)
    return summary
