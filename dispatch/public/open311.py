"""What the public may read of events, in Open311 GeoReport v2's terms (its fields, as plain
dicts in the spec's order; the API renders them as JSON or XML).

Public fields only: never the reporter's name, phone or email, nor who handles an event. A
report linked to another event shows that event's progress (status, notes, agency, expected
time), under its own id, description and place.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from dispatch.calendars.service import calendars
from dispatch.categories.models import Category
from dispatch.events.models import Event, EventAudit
from dispatch.photos.service import public_photos
from dispatch.public.models import PublicReport
from dispatch.store import policy_for, to_state
from domain.calendar import CONTINUOUS_CODE, WorkCalendar
from domain.intake import (
    ATTRIBUTES,
    Outcome,
    agency_responsible,
    expected_datetime,
    public_status,
    service_notice,
    status_notes,
)
from domain.lifecycle import Status
from domain.lifecycle.model import TERMINAL_STATUSES
from domain.roles import GRID_LEVEL, start_level
from grids.models import Community, Grid
from kernel.errors import Invalid, NotFound, field_error
from kernel.settings import get_settings

#: The spec's defaults for a list without dates or ids: the last 90 days, at most 1000.
DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"


def _time(value: datetime | None, tz: tzinfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def notice(category: Category) -> str:
    """The category's promise to the public, saying which limits run on working time: the
    verification on the grid level's calendar, the handling on its starting level's."""
    return service_notice(
        category.name,
        category.verify_minutes,
        category.resolve_minutes,
        verify_working=category.calendar_code_at(GRID_LEVEL) != CONTINUOUS_CODE,
        resolve_working=category.calendar_code_at(start_level(category.big)) != CONTINUOUS_CODE,
    )


def services(session: Session) -> list[dict[str, Any]]:
    """The active categories as Open311 services (``metadata`` when they ask attributes)."""
    rows = session.exec(
        select(Category).where(col(Category.active)).order_by(col(Category.code))
    ).all()
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": notice(c),
            "metadata": c.code in ATTRIBUTES,
            "type": "realtime",
            "keywords": c.department or "",
            "group": c.department or "街道",
        }
        for c in rows
    ]


def service_definition(session: Session, code: str) -> dict[str, Any]:
    category = session.exec(select(Category).where(col(Category.code) == code)).first()
    if category is None or not category.active:
        raise NotFound(field_error("service_code", f"no service {code!r}"))
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": a.code,
                "datatype": a.datatype.value,
                "required": a.required,
                "datatype_description": "",
                "order": a.order,
                "description": a.description,
                "values": [{"key": k, "name": n} for k, n in a.values],
            }
            for a in ATTRIBUTES.get(category.code, ())
        ],
    }


@dataclass(frozen=True)
class RequestFilter:
    ids: tuple[int, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()  # open / closed


_Orig = aliased(Event)


def _open_sql(event: Any) -> ColumnElement[bool]:
    return col(event.status).not_in([s.value for s in TERMINAL_STATUSES])


def requests(
    session: Session, filters: RequestFilter, *, now: datetime, media_base: str
) -> list[dict[str, Any]]:
    """Service requests by the spec's filters; without ids or dates, the last 90 days; newest
    first; at most 1000."""
    stmt = _base()
    if filters.ids:
        stmt = stmt.where(col(Event.id).in_(filters.ids))
    if filters.service_codes:
        stmt = stmt.where(col(Category.code).in_(filters.service_codes))
    start, end = filters.start, filters.end
    if not filters.ids and start is None and end is None:
        start = now - DEFAULT_WINDOW
    if start is not None:
        stmt = stmt.where(col(Event.received_at) >= start)
    if end is not None:
        stmt = stmt.where(col(Event.received_at) <= end)
    if set(filters.statuses) == {"open"}:
        stmt = stmt.where(or_(_open_sql(_Orig), (col(_Orig.id).is_(None) & _open_sql(Event))))
    elif set(filters.statuses) == {"closed"}:
        stmt = stmt.where(~or_(_open_sql(_Orig), (col(_Orig.id).is_(None) & _open_sql(Event))))
    stmt = stmt.order_by(col(Event.received_at).desc(), col(Event.id).desc()).limit(MAX_RESULTS)
    return _shape(session, session.execute(stmt).all(), now=now, media_base=media_base)


def request(
    session: Session, request_id: str, *, now: datetime, media_base: str
) -> list[dict[str, Any]]:
    """One service request (as a one-item list, as the spec answers it)."""
    event_id = parse_id(request_id, "service_request_id")
    rows = session.execute(_base().where(col(Event.id) == event_id)).all()
    if not rows:
        raise NotFound(field_error("service_request_id", f"no service request {request_id}"))
    return _shape(session, rows, now=now, media_base=media_base)


def token(session: Session, value: str) -> list[dict[str, Any]]:
    try:
        key = uuid.UUID(value)
    except ValueError:
        raise NotFound(field_error("token", f"no token {value!r}")) from None
    event_id = session.exec(
        select(PublicReport.event_id).where(col(PublicReport.token) == key)
    ).first()
    if event_id is None:
        raise NotFound(field_error("token", f"no token {value!r}"))
    return [{"service_request_id": str(event_id), "token": str(key)}]


def parse_id(value: str, loc: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise NotFound(field_error(loc, f"no service request {value!r}"))
    return int(value)


def parse_ids(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if len(parts) > MAX_RESULTS or not all(p.isdigit() and len(p) <= 18 for p in parts):
        raise Invalid(field_error("service_request_id", "a comma-separated list of ids"))
    return tuple(int(p) for p in parts)


def _base() -> Any:
    updated = (
        select(func.max(EventAudit.at))
        .where(col(EventAudit.event_id) == col(Event.id))
        .scalar_subquery()
    )
    return (
        sa_select(
            Event,
            Category,
            col(Grid.name),
            col(Community.name),
            PublicReport,
            updated,
            func.ST_X(col(Event.geom)),
            func.ST_Y(col(Event.geom)),
        )
        .join(Category, col(Category.id) == col(Event.category_id))
        .join(Grid, col(Grid.id) == col(Event.grid_id))
        .join(Community, col(Community.id) == col(Event.community_id))
        .outerjoin(PublicReport, col(PublicReport.event_id) == col(Event.id))
        .outerjoin(_Orig, col(_Orig.id) == col(Event.duplicate_of))
    )


@dataclass(frozen=True)
class _Progress:
    status: str
    notes: str
    agency: str
    expected: str | None
    updated: str | None


def _progress(
    row: Sequence[Any], *, calendars: Mapping[str, WorkCalendar], now: datetime, tz: tzinfo
) -> _Progress:
    event, category, grid, community, public, updated = row[:6]
    state = to_state(event, category_code=category.code, grid_code=None)
    outcome = Outcome(public.outcome) if public is not None and public.outcome else None
    return _Progress(
        status=public_status(Status(event.status)),
        notes=status_notes(
            Status(event.status),
            outcome=outcome,
            reason=public.outcome_note if public is not None else "",
        ),
        agency=agency_responsible(
            event.level, grid=grid, community=community, department=event.department
        ),
        expected=_time(
            expected_datetime(
                state,
                policy_for(category, calendars),
                verify_due=public.verify_due_at if public is not None else None,
                now=now,
            ),
            tz,
        ),
        updated=_time(updated, tz),
    )


def _shape(
    session: Session, rows: Sequence[Any], *, now: datetime, media_base: str
) -> list[dict[str, Any]]:
    """The requests of ``rows``; ``media_base`` is where the door serves the public's photos
    (``…/open311/v2/media/``), for a ``media_url`` when the report sent a photo, not a URL."""
    tz = get_settings().tz
    sent = public_photos(session, [int(r[0].id) for r in rows])
    linked = {r[0].duplicate_of for r in rows if r[0].duplicate_of is not None}
    linked_rows = session.execute(_base().where(col(Event.id).in_(linked))).all() if linked else []
    known = calendars(session, {c for r in (*rows, *linked_rows) for c in r[1].calendar_codes()})
    originals = {row[0].id: _progress(row, calendars=known, now=now, tz=tz) for row in linked_rows}
    out: list[dict[str, Any]] = []
    for row in rows:
        event, category, _, _, public, _, lon, lat = row
        own = _progress(row, calendars=known, now=now, tz=tz)
        shown = own
        if event.duplicate_of is not None and event.duplicate_of in originals:
            orig = originals[event.duplicate_of]
            shown = _Progress(
                status=orig.status,
                notes=status_notes(
                    Status(event.status), duplicate_of=event.duplicate_of, original=orig.notes
                ),
                agency=orig.agency,
                expected=orig.expected,
                updated=max(filter(None, (own.updated, orig.updated)), default=None),
            )
        out.append(
            {
                "service_request_id": str(event.id),
                "status": shown.status,
                "status_notes": shown.notes,
                "service_name": category.name,
                "service_code": category.code,
                "description": event.description,
                "agency_responsible": shown.agency,
                "service_notice": notice(category),
                "requested_datetime": _time(event.received_at, tz),
                "updated_datetime": shown.updated,
                "expected_datetime": shown.expected,
                "address": public.address if public is not None else None,
                "address_id": None,
                "zipcode": None,
                "lat": round(float(lat), 6),
                "long": round(float(lon), 6),
                "media_url": (public.media_url if public is not None else None)
                or (f"{media_base}{sent[event.id]}" if event.id in sent else None),
            }
        )
    return out


# --- POST requests: the form the spec defines, with this door's extensions ------------------

_PHONE_CHARS = set("0123456789+- ()")


def parse_post(
    form: dict[str, str], *, channel: str, description_max: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The values of a ``POST requests`` form for ``dispatch.public.intake.PublicReportIn``,
    and the problems found (as ``{"loc", "msg", "type"}`` items; none means it will do).

    The spec's fields, plus ``coord`` (wgs84 by default; gcj02 / bd09 from Chinese map SDKs),
    ``accuracy_m`` and, for the hotline's clients, ``hotline_case`` (its own case number). A
    point is required: the grid is found from it (``address_string`` alone is not enough)."""
    problems: list[dict[str, Any]] = []

    def bad(loc: str, msg: str) -> None:
        problems.append({"loc": [loc], "msg": msg, "type": "value_error"})

    def text_field(name: str, limit: int) -> str | None:
        value = (form.get(name) or "").strip()
        if len(value) > limit:
            bad(name, f"{name} is longer than {limit} characters")
        return value or None

    values: dict[str, Any] = {"channel": channel}
    with_nul = [k for k, v in form.items() if "\x00" in k + v]
    for name in with_nul:
        bad(name.replace("\x00", ""), "text cannot hold a NUL character")
    form = {k: v for k, v in form.items() if k not in with_nul}
    code = (form.get("service_code") or "").strip()
    if not code:
        bad("service_code", "service_code is required")
    values["category"] = code
    for axis, name, bound in (("lat", "lat", 90.0), ("lon", "long", 180.0)):
        raw = (form.get(name) or "").strip()
        try:
            number = float(raw)
            if not -bound <= number <= bound or number != number:
                raise ValueError
            values[axis] = number
        except ValueError:
            bad(name, f"{name} is required: a number within ±{bound:g} (the grid is found from it)")
    coord = (form.get("coord") or "wgs84").strip().lower()
    if coord not in ("wgs84", "gcj02", "bd09"):
        bad("coord", "coord is wgs84 (default), gcj02 or bd09")
    values["coord"] = coord
    accuracy = (form.get("accuracy_m") or "").strip()
    if accuracy:
        try:
            values["accuracy_m"] = float(accuracy)
            if not 0 <= values["accuracy_m"] <= 10_000:
                raise ValueError
        except ValueError:
            bad("accuracy_m", "accuracy_m is a number of metres, 0–10000")
    description = text_field("description", description_max)
    if description is None:
        bad("description", "description is required")
    values["description"] = description or ""
    values["address"] = text_field("address_string", 255)
    media = text_field("media_url", 1024)
    if media is not None and not media.startswith(("https://", "http://")):
        bad("media_url", "media_url is an http(s) URL")
    values["media_url"] = media
    first, last = text_field("first_name", 32), text_field("last_name", 32)
    values["reporter_name"] = " ".join(p for p in (last, first) if p) or None
    phone = text_field("phone", 32)
    if phone is not None and not set(phone) <= _PHONE_CHARS:
        bad("phone", "phone holds digits, spaces, +, - and parentheses")
    values["reporter_phone"] = phone
    email = text_field("email", 254)
    if email is not None and ("@" not in email or " " in email):
        bad("email", "email is not an e-mail address")
    values["reporter_email"] = email
    case = text_field("hotline_case", 32)
    if case is not None and channel != "hotline":
        bad("hotline_case", "only the hotline's clients send a hotline case number")
    if case is None and channel == "hotline":
        bad("hotline_case", "the hotline's reports carry its case number (hotline_case)")
    values["hotline_case"] = case
    attributes: dict[str, str] = {}
    for key, value in form.items():
        if key.startswith("attribute[") and key.endswith("]"):
            attributes[key[len("attribute[") : -1].removesuffix("][")] = value.strip()
    values["attributes"] = attributes
    return values, problems
