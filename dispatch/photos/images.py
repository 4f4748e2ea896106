"""Recognising and decoding images: the kind by the first bytes (JPEG, PNG or WebP only), a
full decode with Pillow (a truncated or forged image fails), and EXIF evidence (GPS, time)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from kernel.errors import Invalid
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
