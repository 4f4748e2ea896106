"""Instants as requests carry them: aware, converted to UTC, and within the calendar.

``9999-12-31T23:59:59-14:00`` is a valid ISO time whose UTC value lies past year 9999: Python
cannot hold it and PostgreSQL would refuse it, so it is a 422 naming the field, not a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("datetime out of range: its UTC time is outside years 1–9999") from exc


#: An aware datetime, in UTC once validated.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
