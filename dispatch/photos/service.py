"""Event photos: checked, stored once by content hash, attached to an event at a stage.

An upload is copied in chunks to a temporary file under the media folder while its
sha256 is computed, stopping at ``settings.photo_max_bytes`` (413). Its kind is decided by
its first bytes (JPEG, PNG or WebP; anything else is a 415), then Pillow decodes it fully
(a truncated or forged image is a 422). The file is moved into place atomically as
``<media_dir>/ab/cd/<sha256>``; the same bytes uploaded twice are one ``Photo`` row and one
file, and attaching them again to the same event and stage returns the existing link.

EXIF GPS, when present, is kept on the photo as evidence (as the device wrote it, normally
WGS-84); it is never used to place the event.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import exists, func, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from dispatch.access import check_visible, place_of, visible
from dispatch.events.models import Event
from dispatch.photos.images import ImageInfo, inspect_image, sniff
from dispatch.photos.models import EventPhoto, Photo
from dispatch.photos.schemas import Exif, PhotoOut, Stage
from dispatch.photos.storage import StagedFile, media_path, place, stage_upload
from domain.jurisdiction import Principal, heads_grid_of
from domain.lifecycle.model import TERMINAL_STATUSES, Status
from domain.roles import Role
from kernel.db import xact_lock
from kernel.errors import Conflict, Forbidden, Invalid, NotFound, UnsupportedMedia
from kernel.settings import get_settings
from kernel.uow import UnitOfWork


def _link(photo: Photo, link: EventPhoto) -> PhotoOut:
    """A photo as attached to one event at one stage (times in the service's time zone)."""
    assert photo.id is not None
    exif = None
    if photo.exif_lon is not None or photo.exif_taken_at is not None:
        exif = Exif(lon=photo.exif_lon, lat=photo.exif_lat, taken_at=photo.exif_taken_at)
    return PhotoOut(
        id=photo.id,
        sha256=photo.sha256,
        media_type=photo.media_type,
        size=photo.size_bytes,
        width=photo.width,
        height=photo.height,
        stage=Stage(link.stage),
        uploaded_by=link.uploaded_by,
        created_at=link.created_at.astimezone(get_settings().tz),
        exif=exif,
        url=f"/api/v1/photos/{photo.id}",
    )


def may_attach(principal: Principal, event: Event) -> bool:
    """The reporter, the current assignee, the grid's head and the command centre; while a
    public report waits for verification, the grid's members too (the verifier's photo)."""
    if principal.role is Role.DISPATCHER:
        return True
    if principal.staff_id in (event.reporter_id, event.assignee_id):
        return True
    pending = event.status == Status.PENDING_VERIFICATION.value
    if pending and principal.role is Role.MEMBER and principal.grid_id == event.grid_id:
        return True
    return heads_grid_of(principal, place_of(event))


def count_photos(
    session: Session, event_id: int, stage: Stage | str, *, since: datetime | None = None
) -> int:
    """How many photos are attached to the event at ``stage`` (after ``since`` when given:
    a fix after a rejection needs evidence of its own)."""
    query = (
        select(func.count())
        .select_from(EventPhoto)
        .where(col(EventPhoto.event_id) == event_id, col(EventPhoto.stage) == Stage(stage).value)
    )
    if since is not None:
        query = query.where(col(EventPhoto.created_at) > since)
    return int(session.execute(query).scalar_one())


def _existing_link(
    session: Session, event_id: int, stage: Stage, sha256: str
) -> tuple[Photo, EventPhoto] | None:
    row = session.exec(
        select(Photo, EventPhoto)
        .join(EventPhoto, col(EventPhoto.photo_id) == col(Photo.id))
        .where(
            col(Photo.sha256) == sha256,
            col(EventPhoto.event_id) == event_id,
            col(EventPhoto.stage) == stage.value,
        )
    ).first()
    return None if row is None else (row[0], row[1])


def attach_photo(
    *,
    uow: UnitOfWork,
    principal: Principal,
    event_id: int,
    stage: Stage,
    source: IO[bytes],
    now: datetime,
) -> tuple[PhotoOut, bool]:
    """Check, store and attach an uploaded photo; commits.

    Returns the link and whether it is new (False: this photo was already attached to the
    event at this stage, nothing changed). Raises NotFound (cannot see the event), Forbidden
    (may see, may not attach), Conflict (closed/voided event; a retry of a photo already
    attached still answers with its link), TooLarge, UnsupportedMedia,
    Invalid (undecodable, or the stage already holds the maximum number of photos).
    """
    settings = get_settings()
    session = uow.session
    event = check_visible(principal, session.get(Event, event_id), event_id)
    if not may_attach(principal, event):
        raise Forbidden(
            "only the event's reporter, its current handler, the grid head or the command "
            "centre may attach photos"
        )
    staged = stage_upload(source)
    try:
        info = _checked(staged, "file")
        # Serialise attachments to one event and stage so the count limit holds under races.
        xact_lock(session, f"event_photo:{event_id}:{stage.value}")
        existing = _existing_link(session, event_id, stage, staged.sha256)
        if existing is not None:
            place(staged)  # heals a missing file; a no-op otherwise
            return _link(*existing), False
        if Status(event.status) in TERMINAL_STATUSES:
            raise Conflict(
                {
                    "msg": f"event {event_id} is {event.status}; photos can no longer be added",
                    "status": event.status,
                }
            )
        limit = settings.photo_max_per_stage
        if count_photos(session, event_id, stage) >= limit:
            raise Invalid(
                [
                    {
                        "loc": ["file"],
                        "msg": f"event {event_id} already has {limit} {stage.value} photos, "
                        f"the most allowed per stage",
                        "type": "too_many_photos",
                    }
                ]
            )
        photo = _stored(session, staged, info, now)
        assert photo.id is not None
        link = EventPhoto(
            event_id=event_id,
            photo_id=photo.id,
            stage=stage.value,
            uploaded_by=principal.staff_id,
            created_at=now,
        )
        session.add(link)
        uow.commit()
        return _link(photo, link), True
    finally:
        staged.path.unlink(missing_ok=True)


def _checked(staged: StagedFile, loc: str) -> ImageInfo:
    """What the upload is: a decodable JPEG, PNG or WebP within the pixel limit, or an error."""
    media_type = sniff(staged.head)
    if media_type is None:
        raise UnsupportedMedia(
            [
                {
                    "loc": [loc],
                    "msg": "not a JPEG, PNG or WebP image (recognised by the file's "
                    "content, not its name or declared type)",
                    "type": "unsupported_media",
                }
            ]
        )
    return inspect_image(staged.path, media_type)


def _stored(session: Session, staged: StagedFile, info: ImageInfo, now: datetime) -> Photo:
    """The photo row of these bytes (made now, or the one stored before) with its file."""
    session.execute(
        insert(Photo)
        .values(
            sha256=staged.sha256,
            media_type=info.media_type,
            size_bytes=staged.size,
            width=info.width,
            height=info.height,
            exif_lon=info.exif_lon,
            exif_lat=info.exif_lat,
            exif_taken_at=info.exif_taken_at,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    photo = session.exec(select(Photo).where(col(Photo.sha256) == staged.sha256)).one()
    # The file goes into place before the row commits: a rollback leaves an unreferenced
    # file (harmless, content-addressed), never a row without its bytes.
    place(staged)
    return photo


@dataclass(frozen=True)
class Checked:
    """An upload that passed the photo checks, staged until it is attached."""

    staged: StagedFile
    info: ImageInfo


@contextmanager
def checked_upload(source: IO[bytes], loc: str = "media") -> Iterator[Checked]:
    """A photo sent with a public report (the Open311 door's ``media``), staged and checked
    as staff photos are (size, content type, decodable, pixels) before anything is written;
    the staged file is removed on leaving."""
    staged = stage_upload(source)
    try:
        yield Checked(staged, _checked(staged, loc))
    finally:
        staged.path.unlink(missing_ok=True)


def attach_public_photo(session: Session, *, event_id: int, photo: Checked, now: datetime) -> int:
    """Attach a checked public photo at stage ``report``, by nobody on the staff; in the
    caller's transaction (no commit). Returns the photo id."""
    stored = _stored(session, photo.staged, photo.info, now)
    assert stored.id is not None
    session.add(
        EventPhoto(
            event_id=event_id,
            photo_id=stored.id,
            stage=Stage.report.value,
            uploaded_by=None,
            created_at=now,
        )
    )
    return stored.id


def public_photo_file(*, session: Session, photo_id: int) -> PhotoFile:
    """A photo the public sent (the door serves those only: staff photos stay behind sign-in)."""
    sent_by_public = exists(
        select(col(EventPhoto.id)).where(
            col(EventPhoto.photo_id) == col(Photo.id), col(EventPhoto.uploaded_by).is_(None)
        )
    )
    photo = session.exec(select(Photo).where(col(Photo.id) == photo_id, sent_by_public)).first()
    missing = NotFound({"loc": ["photo_id"], "msg": f"no photo {photo_id}"})
    if photo is None or not media_path(photo.sha256).is_file():
        raise missing
    return PhotoFile(
        path=media_path(photo.sha256), media_type=photo.media_type, sha256=photo.sha256
    )


def public_photos(session: Session, event_ids: list[int]) -> dict[int, int]:
    """The first photo the public sent of each event (for Open311's ``media_url``)."""
    rows = session.execute(
        text(
            "SELECT event_id, min(photo_id) FROM event_photo"
            " WHERE event_id = ANY(:ids) AND uploaded_by IS NULL GROUP BY event_id"
        ),
        {"ids": event_ids},
    ).all()
    return {int(e): int(p) for e, p in rows}


def list_photos(*, session: Session, principal: Principal, event_id: int) -> list[PhotoOut]:
    """The event's photos, report stage first, in upload order."""
    check_visible(principal, session.get(Event, event_id), event_id)
    rows = session.exec(
        select(Photo, EventPhoto)
        .join(EventPhoto, col(EventPhoto.photo_id) == col(Photo.id))
        .where(col(EventPhoto.event_id) == event_id)
        .order_by(col(EventPhoto.stage), col(EventPhoto.created_at), col(EventPhoto.id))
    ).all()
    return [_link(photo, link) for photo, link in rows]


@dataclass(frozen=True)
class PhotoFile:
    path: Path
    media_type: str
    sha256: str


def photo_file(*, session: Session, principal: Principal, photo_id: int) -> PhotoFile:
    """The stored file of a photo attached to at least one event ``principal`` may see."""
    attached_visible = exists(
        select(col(EventPhoto.id))
        .join(Event, col(Event.id) == col(EventPhoto.event_id))
        .where(col(EventPhoto.photo_id) == col(Photo.id), visible(principal))
    )
    photo = session.exec(
        select(Photo).where(col(Photo.id) == photo_id, attached_visible)
    ).one_or_none()
    missing = NotFound({"loc": ["photo_id"], "msg": f"no photo {photo_id}"})
    if photo is None:
        raise missing
    path = media_path(photo.sha256)
    if not path.is_file():
        raise missing
    return PhotoFile(path=path, media_type=photo.media_type, sha256=photo.sha256)
