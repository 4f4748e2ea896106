"""The statistics' periodic work, run by the worker: seal the blocks of finished days, seal the
audit log's day heads, and refresh the map's coverage figures when the map or the roster
changed.

Reads stay exact without it (unsealed days are read from the base rows, uncached map figures
are computed on the spot), but slower; this keeps long windows fast. Idempotent.
"""

from __future__ import annotations

import logging

from dispatch.ledger import seal_days
from evaluation.mapfigures import refresh_map_figures
from evaluation.sealing import seal, today_local
from kernel.clock import utc_now
from kernel.tasks import PeriodicTask
from kernel.uow import unit_of_work

log = logging.getLogger("wangge.stats")

SEAL_SECONDS = 300.0
MAP_SECONDS = 60.0


def seal_blocks() -> None:
    with unit_of_work() as uow:
        written = seal(uow=uow, today=today_local(utc_now()))
    if written:
        log.info("sealed %d statistics blocks", written)


def refresh_map() -> None:
    with unit_of_work() as uow:
        if refresh_map_figures(uow):
            log.info("map coverage figures recomputed")


def seal_audit_days() -> None:
    with unit_of_work() as uow:
        days = seal_days(uow, now=utc_now())
    if days:
        log.info("sealed the audit heads of %d days", days)


def tasks() -> list[PeriodicTask]:
    return [
        PeriodicTask("stats.seal", SEAL_SECONDS, seal_blocks),
        PeriodicTask("audit.seal", SEAL_SECONDS, seal_audit_days),
        PeriodicTask("stats.map", MAP_SECONDS, refresh_map),
    ]
