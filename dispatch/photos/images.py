"""Recognising and decoding images: the kind by the first bytes (JPEG, PNG or WebP only), a
full decode with Pillow (a truncated or forged image fails), and EXIF evidence (GPS, time).

Decoding is bounded by memory, not only by pixels (docs/decisions/0008-hardening.md): a PNG of
a few hundred KB can hold 7,740×7,740 pixels, 240 MB once decoded. Before decoding, the size
the pixels will take is reserved from the process's ``photo_decode_budget_bytes`` (a decode
waits for room, at most ``photo_decode_wait_seconds``, then 503); an image larger than the
whole budget is refused (422). Large blocks are given back to the system when freed
(``_return_freed_memory``), so a burst of big photos does not leave the process large.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from kernel.errors import Invalid, Unavailable, field_error
from kernel.settings import get_settings

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


class DecodeBudget:
    """Bytes of decoded pixels the process's decodes may hold at once."""

    def __init__(self) -> None:
        self._room = threading.Condition()
        self._used = 0

    @property
    def used(self) -> int:
        return self._used

    @contextmanager
    def reserve(self, size: int, budget: int, wait_seconds: float) -> Iterator[None]:
        with self._room:
            if not self._room.wait_for(lambda: self._used + size <= budget, wait_seconds):
                raise Unavailable(
                    field_error(
                        "file",
                        "too many photos are being checked at once; retry in a moment",
                        "busy",
                    )
                )
            self._used += size
        try:
            yield
        finally:
            with self._room:
                self._used -= size
                self._room.notify_all()


#: The process's decode budget (one per process: uvicorn workers each have their own).
DECODE_BUDGET = DecodeBudget()


def decoded_size(mode: str, width: int, height: int) -> int:
    """What Pillow holds for the pixels: 1 byte (bilevel, grey, palette), 2 (16-bit grey)
    or 4 (everything else: Pillow keeps RGB in 32 bits) per pixel."""
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return width * height * per_pixel


def _too_big(msg: str, kind: str) -> Invalid:
    return Invalid([{"loc": ["file"], "msg": msg, "type": kind}])


def _return_freed_memory() -> None:
    """Make glibc hand blocks of 1 MB and more to ``mmap``, which returns them to the system
    when freed. Its default threshold rises to the largest block freed so far, after which a
    decoded photo's memory stays in the heap for good: eight 240 MB decodes left an API
    process at 1.7 GB. Elsewhere (not glibc) this does nothing."""
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD (also stops its dynamic growth)
    except (OSError, AttributeError):
        return


_return_freed_memory()


def inspect_image(path: Path, media_type: str) -> ImageInfo:
    """Decode the whole image with Pillow (only as the sniffed format) and read its EXIF,
    within the process's decode budget."""
    fmt = FORMATS[media_type]
    settings = get_settings()
    max_pixels = settings.photo_max_pixels
    budget = settings.photo_decode_budget_bytes
    try:
        with Image.open(path, formats=[fmt]) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise _too_big(
                    f"the image is {width}×{height} pixels; at most {max_pixels} pixels are "
                    "accepted",
                    "too_many_pixels",
                )
            size = decoded_size(img.mode, width, height)
            if size > budget:
                raise _too_big(
                    f"the image would take {size // 2**20} MB to decode; at most "
                    f"{budget // 2**20} MB are accepted",
                    "too_large_decoded",
                )
            img.verify()
        # verify() leaves the image unusable; open again and decode every pixel, which
        # is what catches a truncated JPEG.
        with DECODE_BUDGET.reserve(size, budget, settings.photo_decode_wait_seconds):
            with Image.open(path, formats=[fmt]) as img:
                img.load()
                exif = img.getexif()
    except (Invalid, Unavailable):
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
