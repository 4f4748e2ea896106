"""The Open311 GeoReport v2 door (/open311/v2): discovery, services, service definitions,
requests (create, list, one) and tokens, as JSON or XML by the path's extension. Reads are
open; a POST needs an ``api_key`` an administrator issued (``/api/v1/api-clients``). Errors
answer in the spec's shape (``service.api.errors``). Thin: parse, call dispatch.public."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from redis import Redis
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import FileResponse, Response

from dispatch.photos import service as photos
from dispatch.public import abuse, keys, open311
from dispatch.public.intake import PublicReportIn, PublicSubmitted, submit
from dispatch.public.models import ApiClient
from domain.coords import CoordSystem
from domain.intake import Channel
from kernel.errors import Invalid, TooLarge, field_error
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from service.api.deps import Now, RedisDep, SessionDep, grid_locator
from service.api.open311_format import render
from service.api.params import PhotoId

#: Room for the form's fields around the photo (its own limit is kept while it is copied).
_ENVELOPE_BYTES = 64 * 1024

# Described by the GeoReport v2 specification and its own discovery, not by this API's OpenAPI
# document (whose errors have the Wangge shape; the door answers the spec's).
router = APIRouter(prefix="/open311/v2", tags=["open311"], include_in_schema=False)

Format = Annotated[Literal["json", "xml"], Path(description="json or xml")]
ServiceCode = Annotated[str, Path(max_length=32)]


@router.get("/discovery.{fmt}")
def discovery(fmt: Format, request: Request) -> Response:
    """Where this door is and what it speaks (GeoReport v2 service discovery)."""
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    return render(
        fmt,
        "discovery",
        {
            "changeset": "2026-11-29T00:00:00+08:00",
            "contact": "街道指挥中心 (the subdistrict command centre)",
            "key_service": "API keys are issued by the administrator (POST /api/v1/api-clients)",
            "endpoints": [
                {
                    "specification": open311.SPEC_URL,
                    "url": base,
                    "changeset": "2026-11-29T00:00:00+08:00",
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
    )


@router.get("/services.{fmt}")
def services(fmt: Format, session: SessionDep) -> Response:
    return render(fmt, "services", open311.services(session))


@router.get("/services/{service_code}.{fmt}")
def service_definition(service_code: ServiceCode, fmt: Format, session: SessionDep) -> Response:
    return render(fmt, "service_definition", open311.service_definition(session, service_code))


@router.get("/requests.{fmt}")
def list_requests(
    fmt: Format,
    request: Request,
    session: SessionDep,
    now: Now,
    service_request_id: Annotated[str | None, Query(max_length=20_000)] = None,
    service_code: Annotated[str | None, Query(max_length=400)] = None,
    start_date: Annotated[datetime | None, Query()] = None,
    end_date: Annotated[datetime | None, Query()] = None,
    status: Annotated[str | None, Query(pattern=r"^(open|closed)(,(open|closed))?$")] = None,
) -> Response:
    """Service requests: by ids (comma-separated), service codes, a date window (on the
    request time; a time without a zone is read in the service's zone) and status; without
    ids or dates the last 90 days; newest first; at most 1000."""
    tz = get_settings().tz

    def aware(value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo else value.replace(tzinfo=tz)

    filters = open311.RequestFilter(
        ids=open311.parse_ids(service_request_id),
        service_codes=tuple(c for c in (service_code or "").split(",") if c),
        start=aware(start_date),
        end=aware(end_date),
        statuses=tuple((status or "").split(",")) if status else (),
    )
    found = open311.requests(session, filters, now=now, media_base=_media_base(request))
    return render(fmt, "service_requests", found)


@router.get("/requests/{service_request_id}.{fmt}")
def get_request(
    service_request_id: Annotated[str, Path(max_length=20)],
    fmt: Format,
    request: Request,
    session: SessionDep,
    now: Now,
) -> Response:
    found = open311.request(session, service_request_id, now=now, media_base=_media_base(request))
    return render(fmt, "service_requests", found)


@router.get("/media/{photo_id}", response_class=FileResponse)
def get_media(photo_id: PhotoId, session: SessionDep) -> FileResponse:
    """A photo sent with a public report (the ``media_url`` of its request). Photos taken by
    staff are not served here."""
    found = photos.public_photo_file(session=session, photo_id=photo_id)
    return FileResponse(found.path, media_type=found.media_type, headers=_CACHE)


_CACHE = {"Cache-Control": "public, max-age=86400, immutable"}


def _media_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/open311/v2/media/"


@router.get("/tokens/{token}.{fmt}")
def get_token(
    token: Annotated[str, Path(max_length=64)], fmt: Format, session: SessionDep
) -> Response:
    return render(fmt, "service_requests", open311.token(session, token))


def _admitted(
    session: Session, redis: Redis, key: str | None, address: str, now: datetime
) -> ApiClient:
    client = keys.authenticate(session, key)
    assert client.id is not None
    abuse.admit(redis, client_id=client.id, address=address, now=now)
    return client


@router.post("/requests.{fmt}", status_code=201)
async def create_request(
    fmt: Format, request: Request, session: SessionDep, redis: RedisDep, now: Now
) -> Response:
    """Report a problem (form fields of the spec; ``coord`` wgs84 / gcj02 / bd09; the
    hotline's clients add ``hotline_case``; a photo as the multipart file ``media``, checked
    as staff photos are). It waits for on-site verification (待核实); the
    answer carries the new ``service_request_id``, its ``token`` and the open events near it
    that it may duplicate (``duplicate_candidates``)."""
    limit = get_settings().photo_max_bytes + _ENVELOPE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(
            field_error("media", f"the request is larger than {limit} bytes", "too_large")
        )
    parsed = await request.form(max_files=1, max_fields=64)
    try:
        done = await _create(request, parsed, session, redis, now)
    finally:
        await parsed.close()
    category = done.category
    return render(
        fmt,
        "service_requests",
        [
            {
                "service_request_id": str(done.event_id),
                "token": str(done.token),
                "service_notice": open311.notice(category),
                "account_id": None,
                "duplicate_candidates": [
                    {"service_request_id": str(c.event_id), "distance_m": c.distance_m}
                    for c in done.candidates
                ],
            }
        ],
        201,
    )


async def _create(
    request: Request, parsed: FormData, session: Session, redis: Redis, now: datetime
) -> PublicSubmitted:
    """Key, limits, the form's values, the grid, then the report (with its photo)."""
    form = {k: v for k, v in parsed.items() if isinstance(v, str)}
    media = parsed.get("media")
    photo = media.file if isinstance(media, UploadFile) else None
    key = form.get("api_key") or request.query_params.get("api_key")
    address = request.client.host if request.client else "unknown"
    client = await anyio.to_thread.run_sync(partial(_admitted, session, redis, key, address, now))
    values, problems = open311.parse_post(
        form, channel=client.channel, description_max=get_settings().public_description_max
    )
    if problems:
        raise Invalid(problems)
    data = PublicReportIn(
        **{**values, "channel": Channel(values["channel"]), "coord": CoordSystem(values["coord"])}
    )
    where = await grid_locator(request).locate(
        data.lon, data.lat, data.coord, data.accuracy_m or 0.0, loc=("lat",)
    )
    submitted: PublicSubmitted = await anyio.to_thread.run_sync(
        partial(
            submit,
            uow=UnitOfWork(session),
            data=data,
            where=where,
            api_client_id=client.id,
            entered_by=None,
            now=now,
            photo=photo,
        )
    )
    return submitted
