"""Event photos on the real database and a real media folder (a tmp directory)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from sqlalchemy import text
from sqlmodel import Session

from dispatch.photos.schemas import Stage
from dispatch.photos.service import count_photos
from dispatch.photos.storage import media_path
from grids.models import Grid
from kernel.settings import get_settings
from tests.kit.events import MakeEvent, interior_point, report_body, staff_of

Headers = Callable[[str], dict[str, str]]
Report = Callable[[str], int]


@pytest.fixture(autouse=True)
def media_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    media = tmp_path / "media"
    monkeypatch.setattr(get_settings(), "media_dir", media)
    return media


@pytest.fixture
def report(client: TestClient, db: Session, token_for: Headers) -> Callable[[str], int]:
    """``report("g01m1")`` → the id of an event reported through POST /api/v1/events
    (``make_event`` is used where an assignee is needed, until dispatch has its route)."""

    def create(username: str) -> int:
        grid = db.get(Grid, staff_of(db, username).grid_id)
        assert grid is not None
        body = report_body(interior_point(db, grid.code))
        r = client.post("/api/v1/events", headers=token_for(username), json=body)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    return create


def image_bytes(
    fmt: str = "JPEG", color: tuple[int, int, int] = (200, 30, 30), exif: Image.Exif | None = None
) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (48, 32), color)
    if exif is not None:
        img.save(buf, fmt, exif=exif)
    else:
        img.save(buf, fmt)
    return buf.getvalue()


def upload(
    client: TestClient,
    headers: dict[str, str],
    event_id: int,
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    stage: str | None = None,
    form_stage: str | None = None,
) -> tuple[int, dict[str, object]]:
    params = {"stage": stage} if stage else None
    form = {"stage": form_stage} if form_stage else None
    r = client.post(
        f"/api/v1/events/{event_id}/photos",
        headers=headers,
        params=params,
        data=form,
        files={"file": (filename, data, content_type)},
    )
    return r.status_code, r.json()


def stored_files(media: Path) -> list[Path]:
    return sorted(
        p for p in media.rglob("*") if p.is_file() and p.relative_to(media).parts[0] != "tmp"
    )


def photo_rows(db: Session, sha256: str) -> int:
    return int(
        db.execute(text("SELECT count(*) FROM photo WHERE sha256 = :s"), {"s": sha256}).scalar_one()
    )


# --- recognising the bytes ------------------------------------------------------------


def test_png_declared_as_jpeg_is_accepted_as_png(
    client: TestClient, token_for: Headers, report: Report, media_dir: Path
) -> None:
    event_id = report("g01m1")
    png = image_bytes("PNG")
    status, body = upload(client, token_for("g01m1"), event_id, png, content_type="image/jpeg")
    assert status == 201, body
    assert body["media_type"] == "image/png"
    assert body["sha256"] == hashlib.sha256(png).hexdigest()
    assert body["size"] == len(png) and body["stage"] == "report"
    assert (body["width"], body["height"]) == (48, 32)
    assert str(body["created_at"]).endswith("+08:00")
    assert media_path(str(body["sha256"])).read_bytes() == png


def test_webp_is_accepted(client: TestClient, token_for: Headers, report: Report) -> None:
    event_id = report("g01m1")
    status, body = upload(
        client, token_for("g01m1"), event_id, image_bytes("WEBP"), filename="a.bin"
    )
    assert status == 201, body
    assert body["media_type"] == "image/webp"


def test_zip_named_jpg_is_415(
    client: TestClient, token_for: Headers, report: Report, media_dir: Path
) -> None:
    event_id = report("g01m1")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("photo.jpg", image_bytes())
    status, body = upload(client, token_for("g01m1"), event_id, buf.getvalue())
    assert status == 415, body
    assert "JPEG, PNG or WebP" in str(body["detail"])
    assert body["detail"][0]["loc"] == ["body", "file"]  # type: ignore[index]
    assert stored_files(media_dir) == []
    assert list((media_dir / "tmp").iterdir()) == []  # the temporary copy is gone


@pytest.mark.parametrize(
    "data",
    [b"hello, this is text pretending to be a photo\n" * 20, b"", b"GIF89a" + b"\0" * 64],
    ids=["text", "empty", "gif"],
)
def test_other_content_is_415(
    client: TestClient, token_for: Headers, report: Report, data: bytes
) -> None:
    event_id = report("g01m1")
    status, body = upload(client, token_for("g01m1"), event_id, data)
    assert status == 415, body


def test_truncated_or_forged_jpeg_is_422(
    client: TestClient, token_for: Headers, report: Report, media_dir: Path
) -> None:
    event_id = report("g01m1")
    real = image_bytes()
    for data in (real[: len(real) // 2], b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 50):
        status, body = upload(client, token_for("g01m1"), event_id, data)
        assert status == 422, body
        msg = str(body["detail"])
        assert "cannot be decoded" in msg and str(media_dir) not in msg
    assert stored_files(media_dir) == []


def test_eleven_megabytes_is_413(
    client: TestClient, token_for: Headers, report: Report, media_dir: Path
) -> None:
    event_id = report("g01m1")
    big = b"\xff\xd8\xff\xe0" + b"\0" * (11 * 1024 * 1024)
    status, body = upload(client, token_for("g01m1"), event_id, big)
    assert status == 413, body
    assert "larger than" in str(body["detail"])
    assert stored_files(media_dir) == []


def test_size_limit_holds_without_content_length(
    client: TestClient,
    token_for: Headers,
    report: Report,
    media_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A chunked upload (no Content-Length) is cut off at the limit, and a photo just over
    the limit inside an envelope that fits is refused by the exact per-file check."""
    monkeypatch.setattr(get_settings(), "photo_max_bytes", 100_000)
    event_id = report("g01m1")
    boundary = "wangge-test-boundary"

    def body(payload: bytes) -> bytes:
        return (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n".encode()
            + payload
            + f"\r\n--{boundary}--\r\n".encode()
        )

    sent: list[int] = []

    def chunks(data: bytes) -> Iterator[bytes]:
        for i in range(0, len(data), 16_384):
            sent.append(i)
            yield data[i : i + 16_384]

    headers = {**token_for("g01m1"), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    r = client.post(
        f"/api/v1/events/{event_id}/photos",
        headers=headers,
        content=chunks(body(b"\xff\xd8\xff" + b"\0" * 1_000_000)),
    )
    assert r.status_code == 413, r.text
    just_over = b"\xff\xd8\xff" + b"\0" * 100_000  # 100_003 bytes: over by 3
    r = client.post(f"/api/v1/events/{event_id}/photos", headers=headers, content=body(just_over))
    assert r.status_code == 413, r.text
    assert stored_files(media_dir) == []


def test_tenth_photo_of_a_stage_is_rejected(
    client: TestClient, token_for: Headers, report: Report, db: Session
) -> None:
    event_id = report("g01m1")
    headers = token_for("g01m1")
    photos = [image_bytes(color=(20 * i, 100, 50)) for i in range(10)]
    for data in photos[:9]:
        status, body = upload(client, headers, event_id, data)
        assert status == 201, body
    assert count_photos(db, event_id, Stage.report) == 9
    status, body = upload(client, headers, event_id, photos[9])
    assert status == 422, body
    assert "already has 9 report photos" in str(body["detail"])
    # a retry of one already attached is still answered (idempotent), the count unchanged
    status, body = upload(client, headers, event_id, photos[0])
    assert status == 200, body
    # the other stage has its own allowance
    status, body = upload(client, headers, event_id, photos[9], stage="resolve")
    assert status == 201, body
    assert count_photos(db, event_id, "resolve") == 1
    assert count_photos(db, event_id, Stage.report) == 9


def test_exif_gps_is_kept_as_evidence(
    client: TestClient, token_for: Headers, report: Report
) -> None:
    event_id = report("g01m1")
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (39.0, 40.0, 12.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (118.0, 9.0, 30.0),
    }
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2024:05:10 10:00:00"
    status, body = upload(client, token_for("g01m1"), event_id, image_bytes(exif=exif))
    assert status == 201, body
    got = body["exif"]
    assert isinstance(got, dict)
    assert got["lat"] == pytest.approx(39 + 40 / 60 + 12.5 / 3600, abs=1e-6)
    assert got["lon"] == pytest.approx(118 + 9 / 60 + 30 / 3600, abs=1e-6)
    assert got["taken_at"] == "2024-05-10T10:00:00"
    listed = client.get(f"/api/v1/events/{event_id}/photos", headers=token_for("g01m2")).json()
    assert listed["items"][0]["exif"] == got
    # a photo without EXIF has none
    status, body = upload(client, token_for("g01m1"), event_id, image_bytes(color=(1, 2, 3)))
    assert status == 201 and body["exif"] is None


def test_the_same_photo_twice_is_one_file_and_one_row(
    client: TestClient, token_for: Headers, report: Report, db: Session, media_dir: Path
) -> None:
    first, second = report("g01m1"), report("g01m1")
    data = image_bytes()
    sha = hashlib.sha256(data).hexdigest()
    headers = token_for("g01m1")
    s1, b1 = upload(client, headers, first, data)
    s2, b2 = upload(client, headers, first, data, filename="again.jpg")
    assert (s1, s2) == (201, 200)
    assert b1 == b2
    s3, b3 = upload(client, headers, second, data)
    assert s3 == 201 and b3["id"] == b1["id"]
    assert photo_rows(db, sha) == 1
    assert stored_files(media_dir) == [media_path(sha)]
    assert count_photos(db, first, Stage.report) == 1


def test_a_traversal_filename_is_irrelevant(
    client: TestClient, token_for: Headers, report: Report, media_dir: Path, tmp_path: Path
) -> None:
    event_id = report("g01m1")
    data = image_bytes(color=(9, 9, 9))
    sha = hashlib.sha256(data).hexdigest()
    status, body = upload(
        client, token_for("g01m1"), event_id, data, filename="../../etc/passwd.jpg"
    )
    assert status == 201, body
    expected = media_dir / sha[:2] / sha[2:4] / sha
    assert stored_files(media_dir) == [expected]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"]  # nothing escaped
    assert "passwd" not in str(body)


# --- who may upload -------------------------------------------------------------------


def test_who_may_attach(
    client: TestClient,
    token_for: Headers,
    report: Report,
    make_event: MakeEvent,
    db: Session,
) -> None:
    event_id = make_event("g01m1", assignee="g01m2")
    data = image_bytes(color=(5, 6, 7))
    # another grid's member cannot even see the event
    assert upload(client, token_for("g02m1"), event_id, data)[0] == 404
    # the assignee, the grid head and a dispatcher may
    assert upload(client, token_for("g01m2"), event_id, data, stage="resolve")[0] == 201
    assert upload(client, token_for("g01h"), event_id, image_bytes(color=(1, 1, 1)))[0] == 201
    assert upload(client, token_for("dispatch1"), event_id, image_bytes(color=(2, 2, 2)))[0] == 201
    # community staff see the event but neither reported nor handle it
    status, body = upload(client, token_for("comm01"), event_id, image_bytes(color=(3, 3, 3)))
    assert status == 403, body
    # evaluators only read
    assert upload(client, token_for("evaluator"), event_id, data)[0] == 403
    # a member of the grid who is neither reporter nor assignee
    other = report("g01h")
    status, body = upload(client, token_for("g01m1"), other, data)
    assert status == 403 and "reporter" in str(body["detail"])
    # an unknown event
    assert upload(client, token_for("dispatch1"), 10**12, data)[0] == 404
    # uploads by the handler are attributed to them
    resolve = [
        p
        for p in client.get(f"/api/v1/events/{event_id}/photos", headers=token_for("g01m1")).json()[
            "items"
        ]
        if p["stage"] == "resolve"
    ]
    assert [p["uploaded_by"] for p in resolve] == [staff_of(db, "g01m2").id]


def test_stage_from_the_form_and_bad_input(
    client: TestClient, token_for: Headers, report: Report, db: Session
) -> None:
    event_id = report("g01m1")
    headers = token_for("g01m1")
    status, body = upload(client, headers, event_id, image_bytes(), form_stage="resolve")
    assert status == 201 and body["stage"] == "resolve"
    status, body = upload(client, headers, event_id, image_bytes(), form_stage="later")
    assert status == 422 and body["detail"][0]["loc"] == ["body", "stage"]  # type: ignore[index]
    status, body = upload(client, headers, event_id, image_bytes(), stage="later")
    assert status == 422
    r = client.post(f"/api/v1/events/{event_id}/photos", headers=headers, json={"file": "x"})
    assert r.status_code == 415 and "multipart/form-data" in r.text
    r = client.post(f"/api/v1/events/{event_id}/photos", headers=headers, data={"stage": "report"})
    assert r.status_code in (415, 422)
    r = client.post(
        f"/api/v1/events/{event_id}/photos",
        headers=headers,
        files={"other": ("a.jpg", image_bytes(), "image/jpeg")},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]
    r = client.post(
        f"/api/v1/events/{event_id}/photos",
        files={"file": ("a.jpg", image_bytes(), "image/jpeg")},
    )
    assert r.status_code == 401


def test_no_photos_on_a_closed_event_but_a_retry_is_answered(
    client: TestClient, token_for: Headers, report: Report, db: Session
) -> None:
    event_id = report("g01m1")
    headers = token_for("g01m1")
    data = image_bytes()
    assert upload(client, headers, event_id, data)[0] == 201
    db.execute(text("UPDATE event SET status = 'voided' WHERE id = :id"), {"id": event_id})
    status, body = upload(client, headers, event_id, image_bytes(color=(0, 0, 200)))
    assert status == 409 and "voided" in str(body["detail"])
    assert upload(client, headers, event_id, data)[0] == 200


# --- serving ---------------------------------------------------------------------------


def test_serving_only_to_those_who_may_see_the_event(
    client: TestClient, token_for: Headers, report: Report, media_dir: Path
) -> None:
    event_id = report("g01m1")
    data = image_bytes("PNG", color=(10, 200, 10))
    status, body = upload(client, token_for("g01m1"), event_id, data, content_type="text/html")
    assert status == 201
    url = f"/api/v1/photos/{body['id']}"
    for who in ("g01m1", "g01m2", "g01h", "dispatch1", "evaluator"):
        r = client.get(url, headers=token_for(who))
        assert r.status_code == 200, (who, r.text)
        assert r.content == data
        assert r.headers["content-type"] == "image/png"
        assert r.headers["x-content-type-options"] == "nosniff"
    for who in ("g02m1", "g02h"):
        r = client.get(url, headers=token_for(who))
        assert r.status_code == 404, who
    assert client.get(url).status_code == 401
    assert client.get("/api/v1/photos/999999", headers=token_for("dispatch1")).status_code == 404
    assert client.get("/api/v1/photos/abc", headers=token_for("dispatch1")).status_code == 422
    # listing follows the event's visibility too
    assert (
        client.get(f"/api/v1/events/{event_id}/photos", headers=token_for("g02m1")).status_code
        == 404
    )


def test_a_photo_attached_to_a_visible_event_is_served_even_if_also_elsewhere(
    client: TestClient, token_for: Headers, report: Report
) -> None:
    own, foreign = report("g01m1"), report("g02m1")
    data = image_bytes(color=(77, 77, 77))
    _, body = upload(client, token_for("g02m1"), foreign, data)
    assert client.get(f"/api/v1/photos/{body['id']}", headers=token_for("g01m1")).status_code == 404
    upload(client, token_for("g01m1"), own, data)
    assert client.get(f"/api/v1/photos/{body['id']}", headers=token_for("g01m1")).status_code == 200


def test_a_missing_file_is_healed_by_the_next_upload(
    client: TestClient, token_for: Headers, report: Report
) -> None:
    event_id = report("g01m1")
    data = image_bytes(color=(123, 1, 1))
    _, body = upload(client, token_for("g01m1"), event_id, data)
    path = media_path(str(body["sha256"]))
    path.unlink()
    url = f"/api/v1/photos/{body['id']}"
    assert client.get(url, headers=token_for("g01m1")).status_code == 404
    assert upload(client, token_for("g01m1"), event_id, data)[0] == 200
    assert path.read_bytes() == data
