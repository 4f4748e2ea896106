"""Routes of event photos. Thin: parse the upload, call dispatch.photos.service, shape."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from dispatch.photos import service
from dispatch.photos.schemas import PhotoList, PhotoOut, Stage
from domain.jurisdiction import Principal
from domain.roles import Role
from kernel.errors import Invalid, TooLarge, UnsupportedMedia, field_error
from kernel.settings import get_settings
from service.api.deps import AnyUser, Now, RolesAllowed, SessionDep, UowDep
from service.api.docs import AUTHENTICATED, BINARY, problems
from service.api.params import EventId, PhotoId

router = APIRouter(prefix="/api/v1", tags=["photos"], responses=AUTHENTICATED)

Uploader = Annotated[
    Principal,
    Depends(RolesAllowed(Role.MEMBER, Role.HEAD, Role.COMMUNITY, Role.DISPATCHER, Role.DEPARTMENT)),
]

# Room for the multipart envelope (boundaries, part headers, the stage field) around the
# photo itself; the photo's own limit is enforced exactly while it is copied.
_ENVELOPE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Upload:
    """The parsed multipart body: the file and the ``stage`` form field, if sent."""

    file: UploadFile
    stage: str | None


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        field_error(
            ("body", "file"),
            f"the photo is larger than {limit} bytes ({limit / 1024 / 1024:.0f} MB)",
            "too_large",
        )
    )


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(get_settings().photo_max_bytes)
        yield chunk


async def read_upload(request: Request) -> AsyncIterator[Upload]:
    """Parse ``multipart/form-data`` without accepting more than the photo limit.

    A declared Content-Length over the limit is refused before reading; a chunked body is
    cut off as soon as it passes the limit. The file part is spooled (memory, then disk).
    """
    max_bytes = get_settings().photo_max_bytes
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMedia(
            field_error(
                ("body",),
                "send the photo as multipart/form-data with a 'file' field "
                f"(got content type {content_type or 'none'!r})",
                "unsupported_media",
            )
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + _ENVELOPE_BYTES:
        raise _too_large(max_bytes)
    parser = MultiPartParser(
        request.headers,
        _limited(request, max_bytes + _ENVELOPE_BYTES),
        max_files=1,
        max_fields=4,
        max_part_size=1024,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Invalid(field_error(("body",), f"malformed multipart body: {exc.message}")) from exc
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise Invalid(field_error(("body", "file"), "field required: the photo as a file part"))
        stage = form.get("stage")
        yield Upload(file=file, stage=stage if isinstance(stage, str) else None)
    finally:
        await form.close()


_MULTIPART: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG or WebP (recognised by content), ≤ 10 MB",
                        },
                        "stage": {"type": "string", "enum": [s.value for s in Stage]},
                    },
                }
            }
        },
    }
}


def _stage(query: Stage | None, form: str | None) -> Stage:
    if form is None:
        return query or Stage.report
    try:
        from_form = Stage(form)
    except ValueError as exc:
        raise Invalid(
            field_error(("body", "stage"), "stage must be 'report' or 'resolve'", "enum")
        ) from exc
    if query is not None and query != from_form:
        raise Invalid(
            field_error(("body", "stage"), f"stage {form!r} contradicts the query's {query!r}")
        )
    return from_form


@router.post(
    "/events/{event_id}/photos",
    response_model=PhotoOut,
    status_code=201,
    openapi_extra=_MULTIPART,
    responses={
        200: {"description": "this photo was already attached at this stage", "model": PhotoOut},
        **problems(404, 409, 413, 415, 503),
    },
)
def upload_photo(
    uow: UowDep,
    principal: Uploader,
    now: Now,
    event_id: EventId,
    upload: Annotated[Upload, Depends(read_upload)],
    response: Response,
    stage: Annotated[Stage | None, Query(description="report (default) | resolve")] = None,
) -> PhotoOut:
    """Attach a photo to the event (reporter, current handler, grid head, command centre).

    201 with the photo when attached now; 200 with the same photo when these bytes were
    already attached to this event at this stage."""
    link, created = service.attach_photo(
        uow=uow,
        principal=principal,
        event_id=event_id,
        stage=_stage(stage, upload.stage),
        source=upload.file.file,
        now=now,
    )
    response.status_code = 201 if created else 200
    return link


@router.get("/events/{event_id}/photos", response_model=PhotoList, responses=problems(404))
def list_photos(session: SessionDep, principal: AnyUser, event_id: EventId) -> PhotoList:
    """The event's photos (report stage, then resolve), with their EXIF evidence."""
    links = service.list_photos(session=session, principal=principal, event_id=event_id)
    return PhotoList(items=links)


@router.get(
    "/photos/{photo_id}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "the photo's bytes, in the type it was uploaded as",
            "content": {
                media: {"schema": BINARY} for media in ("image/jpeg", "image/png", "image/webp")
            },
        },
        **problems(404),
    },
)
def get_photo(session: SessionDep, principal: AnyUser, photo_id: PhotoId) -> FileResponse:
    """The photo's bytes, for users who may see an event it is attached to."""
    found = service.photo_file(session=session, principal=principal, photo_id=photo_id)
    return FileResponse(
        found.path,
        media_type=found.media_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=86400, immutable",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
