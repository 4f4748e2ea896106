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

import hashlib
import math
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from PIL import ExifTags, Image, UnidentifiedImageError
from sqlalchemy import exists, func, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from dispatch.access import check_visible, visible
from dispatch.events.models import Event
from dispatch.photos.models import EventPhoto, Photo
from domain.jurisdiction import Principal
from domain.lifecycle.model import TERMINAL_STATUSES, Status
from domain.roles import Role
from kernel.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, UnsupportedMedia
from kernel.settings import get_settings

CHUNK = 64 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Stage(StrEnum):
    """When a photo was taken: with the report, or as evidence of the fix."""

    report = "report"
    resolve = "resolve"


# --- recognising the bytes ---------------------------------------------------------

# media type → Pillow format name; the only kinds accepted.
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def sniff(head: bytes) -> str | None:
    """The media type the magic bytes announce, or None when they are not JPEG/PNG/WebP."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class StagedFile:
    """An upload copied to a temporary file next to its final place."""

    path: Path
    sha256: str
    size: int
    head: bytes


def media_path(sha256: str) -> Path:
    """Where the bytes of ``sha256`` live: ``<media_dir>/ab/cd/<sha256>``.

    Only ever derived from a hash (checked here), never from anything a client named.
    """
    if not _SHA256.match(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return get_settings().media_dir / sha256[:2] / sha256[2:4] / sha256


def stage_upload(source: IO[bytes], *, max_bytes: int | None = None) -> StagedFile:
    """Copy ``source`` to a temporary file under the media folder, hashing as it goes.

    Stops reading as soon as more than ``max_bytes`` arrived (``TooLarge``, nothing kept).
    """
    limit = get_settings().photo_max_bytes if max_bytes is None else max_bytes
    tmp_dir = get_settings().media_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(
                        [
                            {
                                "loc": ["file"],
                                "msg": f"the photo is larger than {limit} bytes "
                                f"({limit / 1024 / 1024:.0f} MB)",
                                "type": "too_large",
                            }
                        ]
                    )
                if len(head) < 16:
                    head = (head + chunk)[:16]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StagedFile(path=path, sha256=digest.hexdigest(), size=size, head=head)


def place(staged: StagedFile) -> Path:
    """Move a staged file to its content-addressed place (atomic rename); idempotent."""
    final = media_path(staged.sha256)
    if final.exists():
        staged.path.unlink(missing_ok=True)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged.path, final)
    return final


# --- decoding and EXIF ---------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    media_type: str
    width: int
    height: int
    exif_lon: float | None = None
    exif_lat: float | None = None
    exif_taken_at: str | None = None


def _undecodable(media_type: str, reason: str) -> Invalid:
    kind = FORMATS[media_type]
    return Invalid(
        [
            {
                "loc": ["file"],
                "msg": f"the file starts like a {kind} image but cannot be decoded ({reason})",
                "type": "invalid_image",
            }
        ]
    )


def inspect_image(path: Path, media_type: str) -> ImageInfo:
    """Decode the whole image with Pillow (only as the sniffed format) and read its EXIF."""
    fmt = FORMATS[media_type]
    max_pixels = get_settings().photo_max_pixels
    try:
        with Image.open(path, formats=[fmt]) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise Invalid(
                    [
                        {
                            "loc": ["file"],
                            "msg": f"the image is {width}×{height} pixels; "
                            f"at most {max_pixels} pixels are accepted",
                            "type": "too_many_pixels",
                        }
                    ]
                )
            img.verify()
        # verify() leaves the image unusable; open again and decode every pixel, which
        # is what catches a truncated JPEG.
        with Image.open(path, formats=[fmt]) as img:
            img.load()
            exif = img.getexif()
    except Invalid:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow's messages may name the temporary file; the client only needs the reason.
        reason = (str(exc) or type(exc).__name__).replace(f" '{path}'", "").replace(str(path), "")
        raise _undecodable(media_type, reason) from exc
    except Image.DecompressionBombError as exc:  # pragma: no cover - pixel check comes first
        raise _undecodable(media_type, str(exc)) from exc
    lon, lat = _exif_gps(exif)
    return ImageInfo(media_type, width, height, lon, lat, _exif_taken_at(exif))


def _dms(value: Any) -> float | None:
    """Degrees/minutes/seconds (three rationals) → decimal degrees; None when malformed."""
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    return result if math.isfinite(result) else None


def _exif_gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (KeyError, ValueError, TypeError, OSError):
        return None, None
    lat = _dms(gps.get(ExifTags.GPS.GPSLatitude))
    lon = _dms(gps.get(ExifTags.GPS.GPSLongitude))
    if lat is None or lon is None:
        return None, None
    if str(gps.get(ExifTags.GPS.GPSLatitudeRef, "N")).strip().upper().startswith("S"):
        lat = -lat
    if str(gps.get(ExifTags.GPS.GPSLongitudeRef, "E")).strip().upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return round(lon, 7), round(lat, 7)


def _exif_taken_at(exif: Image.Exif) -> str | None:
    """DateTimeOriginal (else DateTime) as ISO text, with the EXIF offset when given."""
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except (KeyError, ValueError, TypeError, OSError):
        sub = {}
    raw = sub.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not isinstance(raw, str):
        return None
    try:
        taken = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(ExifTags.Base.OffsetTimeOriginal)
    iso = taken.isoformat()
    if isinstance(offset, str) and re.fullmatch(r"[+-]\d{2}:\d{2}", offset.strip("\x00 ")):
        iso += offset.strip("\x00 ")
    return iso[:32]


# --- attaching, listing, serving ------------------------------------------------------


@dataclass(frozen=True)
class PhotoLink:
    """A photo as attached to one event at one stage."""

    id: int
    sha256: str
    media_type: str
    size: int
    width: int | None
    height: int | None
    stage: str
    uploaded_by: int
    created_at: datetime
    exif_lon: float | None
    exif_lat: float | None
    exif_taken_at: str | None


def _link(photo: Photo, link: EventPhoto) -> PhotoLink:
    assert photo.id is not None
    return PhotoLink(
        id=photo.id,
        sha256=photo.sha256,
        media_type=photo.media_type,
        size=photo.size_bytes,
        width=photo.width,
        height=photo.height,
        stage=link.stage,
        uploaded_by=link.uploaded_by,
        created_at=link.created_at,
        exif_lon=photo.exif_lon,
        exif_lat=photo.exif_lat,
        exif_taken_at=photo.exif_taken_at,
    )


def may_attach(principal: Principal, event: Event) -> bool:
    """The reporter, the current assignee, the grid's head and the command centre."""
    if principal.role == Role.DISPATCHER:
        return True
    if principal.staff_id in (event.reporter_id, event.assignee_id):
        return True
    return principal.role == Role.HEAD and principal.grid_id == event.grid_id


def count_photos(session: Session, event_id: int, stage: Stage | str) -> int:
    """How many photos are attached to the event at ``stage`` (the resolve action may
    require at least one resolve photo)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(EventPhoto)
            .where(
                col(EventPhoto.event_id) == event_id, col(EventPhoto.stage) == Stage(stage).value
            )
        ).scalar_one()
    )


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
    session: Session,
    principal: Principal,
    event_id: int,
    stage: Stage,
    source: IO[bytes],
    now: datetime,
) -> tuple[PhotoLink, bool]:
    """Check, store and attach an uploaded photo; commits.

    Returns the link and whether it is new (False: this photo was already attached to the
    event at this stage, nothing changed). Raises NotFound (cannot see the event), Forbidden
    (may see, may not attach), Conflict (closed/voided event; a retry of a photo already
    attached still answers with its link), TooLarge, UnsupportedMedia,
    Invalid (undecodable, or the stage already holds the maximum number of photos).
    """
    settings = get_settings()
    event = check_visible(principal, session.get(Event, event_id), event_id)
    if not may_attach(principal, event):
        raise Forbidden(
            "only the event's reporter, its current handler, the grid head or the command "
            "centre may attach photos"
        )
    staged = stage_upload(source)
    try:
        media_type = sniff(staged.head)
        if media_type is None:
            raise UnsupportedMedia(
                [
                    {
                        "loc": ["file"],
                        "msg": "not a JPEG, PNG or WebP image (recognised by the file's "
                        "content, not its name or declared type)",
                        "type": "unsupported_media",
                    }
                ]
            )
        info = inspect_image(staged.path, media_type)
        # Serialise attachments to one event and stage so the count limit holds under races.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"event_photo:{event_id}:{stage.value}"},
        )
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
        assert photo.id is not None
        # The file goes into place before the row commits: a rollback leaves an unreferenced
        # file (harmless, content-addressed), never a row without its bytes.
        place(staged)
        link = EventPhoto(
            event_id=event_id,
            photo_id=photo.id,
            stage=stage.value,
            uploaded_by=principal.staff_id,
            created_at=now,
        )
        session.add(link)
        session.commit()
        return _link(photo, link), True
    finally:
        staged.path.unlink(missing_ok=True)


def list_photos(*, session: Session, principal: Principal, event_id: int) -> list[PhotoLink]:
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
