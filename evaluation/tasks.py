"""The worker's periodic task of the statistics: seal the blocks of finished days.

Reads stay exact without it (unsealed days are read from the base rows), but a window then
touches more rows; sealing every few minutes keeps long windows fast. Idempotent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from evaluation.service import seal, today_local
from kernel.db import session_scope
from service.worker import periodic

log = logging.getLogger("wangge.stats")

SEAL_SECONDS = 300.0


@periodic("stats.seal", SEAL_SECONDS)
def seal_blocks() -> None:
    with session_scope() as session:
        written = seal(session=session, today=today_local(datetime.now(UTC)))
    if written:
        log.info("sealed %d statistics blocks", written)
