"""The staff report's one statement stays cheap to send (no database needed)."""

from __future__ import annotations

from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH, MAX_CACHED_STATEMENT_PARAMS

from dispatch.public import duplicates
from dispatch.store import _open_event_sql


def test_the_report_statement_fits_psycopgs_query_cache() -> None:
    """psycopg converts a ``%(name)s`` statement once and caches it only when it is at most
    4 kB with at most 50 parameters; past that every report pays the conversion again."""
    for read_along in (None, duplicates.CANDIDATES_SQL):
        statement = _open_event_sql(read_along)
        assert len(statement) <= MAX_CACHED_STATEMENT_LENGTH
        assert statement.count("%(") <= MAX_CACHED_STATEMENT_PARAMS
