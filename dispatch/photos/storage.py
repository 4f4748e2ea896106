"""Where photo bytes live: staged to a temporary file while hashed (stopping at the size
limit), then moved atomically to ``<media_dir>/ab/cd/<sha256>``, a path only ever derived from
the hash, never from anything a client named."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kernel.errors import TooLarge
from kernel.settings import get_settings

CHUNK = 64 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
