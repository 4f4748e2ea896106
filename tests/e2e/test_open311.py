"""The Open311 GeoReport v2 door, method by method and field by field against the spec (JSON
and XML, parsed), the API keys, the verification flow it feeds, duplicates, abuse limits."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from redis import Redis
from sqlalchemy import text
from sqlmodel import Session

from domain.coords import wgs84_to_gcj02
from kernel.settings import get_settings
from service.api.deps import redis_connection
from tests.conftest import Clock
from tests.kit.events import GRID_01, interior_point

Headers = Callable[[str], dict[str, str]]
V2 = "/open311/v2"

#: The fields of a service request, in the spec's order.
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
]  # fmt: skip
PERSONAL = ("张三丰", "13800138000", "zhang@example.cn")


@pytest.fixture
def key(client: TestClient, token_for: Headers, redis: Redis) -> str:
    r = client.post(
        "/api/v1/api-clients",
        json={"name": "wechat-mini", "channel": "public"},
        headers=token_for("admin"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["api_key"].startswith("w311_")
    return str(r.json()["api_key"])


@pytest.fixture
def point(db: Session) -> tuple[float, float]:
    return interior_point(db, GRID_01)


def _form(point: tuple[float, float], key: str, **over: str) -> dict[str, str]:
    lon, lat = wgs84_to_gcj02(*point)  # from a Chinese map SDK
    form = {
        "api_key": key,
        "service_code": "exposed_garbage",
        "lat": f"{lat:.7f}",
        "long": f"{lon:.7f}",
        "coord": "gcj02",
        "address_string": "新景楼小区东门",
        "description": "东门外垃圾堆了三天没人清",
        "first_name": "三丰",
        "last_name": "张",
        "phone": "13800138000",
        "email": "zhang@example.cn",
        "media_url": "https://img.example.cn/a.jpg",
    }
    form.update(over)
    return form


def _post(client: TestClient, form: dict[str, str], fmt: str = "json") -> Any:
    return client.post(f"{V2}/requests.{fmt}", data=form)


def _created(client: TestClient, form: dict[str, str]) -> str:
    r = _post(client, form)
    assert r.status_code == 201, r.text
    return str(r.json()[0]["service_request_id"])


def test_discovery_services_and_definitions_in_json_and_xml(client: TestClient) -> None:
    d = client.get(f"{V2}/discovery.json").json()
    endpoint = d["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    root = ET.fromstring(client.get(f"{V2}/discovery.xml").content)
    assert root.tag == "discovery"
    assert [f.text for f in root.iter("format")] == ["application/json", "text/xml"]

    services = client.get(f"{V2}/services.json").json()
    by_code = {s["service_code"]: s for s in services}
    garbage = by_code["exposed_garbage"]
    assert set(garbage) == {
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
    }  # fmt: skip
    assert garbage["service_name"] == "暴露垃圾" and garbage["metadata"] is False
    assert garbage["type"] == "realtime" and by_code["gas_safety"]["metadata"] is True
    xml = client.get(f"{V2}/services.xml")
    assert xml.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    first = root.find("service")
    assert first is not None and first.findtext("service_code") == services[0]["service_code"]
    assert first.findtext("metadata") in ("true", "false")

    definition = client.get(f"{V2}/services/gas_safety.json").json()
    assert definition["service_code"] == "gas_safety"
    attribute = definition["attributes"][0]
    assert attribute["variable"] is True and attribute["required"] is True
    assert attribute["datatype"] == "singlevaluelist"
    assert {v["key"] for v in attribute["values"]} == {"yes", "no"}
    root = ET.fromstring(client.get(f"{V2}/services/gas_safety.xml").content)
    assert root.tag == "service_definition"
    assert [v.findtext("key") for v in root.iter("value")] == ["yes", "no"]
    assert client.get(f"{V2}/services/exposed_garbage.json").json()["attributes"] == []


def test_create_read_and_token_carry_every_field_and_no_personal_data(
    client: TestClient, key: str, point: tuple[float, float], clock: Clock
) -> None:
    r = _post(client, _form(point, key))
    assert r.status_code == 201, r.text
    created = r.json()
    assert isinstance(created, list) and len(created) == 1
    sid, token = created[0]["service_request_id"], created[0]["token"]
    assert sid.isdigit() and token and "暴露垃圾" in created[0]["service_notice"]
    assert created[0]["duplicate_candidates"] == []

    one = client.get(f"{V2}/requests/{sid}.json")
    assert one.status_code == 200
    (req,) = one.json()
    assert list(req) == REQUEST_FIELDS
    assert req["status"] == "open" and req["status_notes"].startswith("待核实")
    assert req["service_code"] == "exposed_garbage" and req["service_name"] == "暴露垃圾"
    assert req["address"] == "新景楼小区东门" and req["media_url"].endswith("a.jpg")
    assert req["agency_responsible"].endswith("网格")
    # WGS-84 back, although the report came in GCJ-02 (hundreds of metres apart)
    assert abs(req["lat"] - point[1]) < 1e-5 and abs(req["long"] - point[0]) < 1e-5
    requested = datetime.fromisoformat(req["requested_datetime"])
    assert requested.utcoffset() == timedelta(hours=8)
    assert requested == clock.now
    expected = datetime.fromisoformat(req["expected_datetime"])
    # verification (30 min) then the category's resolve time (30 min)
    assert expected == clock.now + timedelta(minutes=60)
    assert datetime.fromisoformat(req["updated_datetime"]) == clock.now
    for body in (one.text, client.get(f"{V2}/requests.json").text):
        assert not any(p in body for p in PERSONAL)

    root = ET.fromstring(client.get(f"{V2}/requests/{sid}.xml").content)
    assert root.tag == "service_requests"
    (request,) = root.findall("request")
    assert [c.tag for c in request] == REQUEST_FIELDS
    assert request.findtext("service_request_id") == sid and request.findtext("status") == "open"
    assert request.findtext("address_id") == ""

    assert client.get(f"{V2}/tokens/{token}.json").json() == [
        {"service_request_id": sid, "token": token}
    ]
    root = ET.fromstring(client.get(f"{V2}/tokens/{token}.xml").content)
    assert root.findtext("request/service_request_id") == sid
    assert client.get(f"{V2}/tokens/{'0' * 32}.json").status_code == 404


def test_list_filters_by_id_code_dates_and_status(
    client: TestClient, key: str, point: tuple[float, float], clock: Clock
) -> None:
    a = _created(client, _form(point, key))
    clock.advance(hours=2)
    b = _created(client, _form(point, key, service_code="small_ads", description="电线杆小广告"))
    ids = [r["service_request_id"] for r in client.get(f"{V2}/requests.json").json()]
    assert ids[:2] == [b, a]  # newest first
    got = client.get(f"{V2}/requests.json", params={"service_request_id": f"{a},{b}"}).json()
    assert {r["service_request_id"] for r in got} == {a, b}
    got = client.get(f"{V2}/requests.json", params={"service_code": "small_ads"}).json()
    assert [r["service_request_id"] for r in got] == [b]
    start = (clock.now - timedelta(hours=1)).isoformat()
    got = client.get(f"{V2}/requests.json", params={"start_date": start}).json()
    assert [r["service_request_id"] for r in got] == [b]
    got = client.get(f"{V2}/requests.json", params={"end_date": start}).json()
    assert [r["service_request_id"] for r in got] == [a]
    assert client.get(f"{V2}/requests.json", params={"status": "closed"}).json() == []
    assert len(client.get(f"{V2}/requests.json", params={"status": "open"}).json()) == 2
    root = ET.fromstring(client.get(f"{V2}/requests.xml").content)
    assert [r.findtext("service_request_id") for r in root.findall("request")][:2] == [b, a]


def test_errors_in_the_specs_shape(
    client: TestClient, key: str, point: tuple[float, float], token_for: Headers
) -> None:
    r = _post(client, _form(point, ""))
    assert r.status_code == 403
    assert r.json() == [{"code": 403, "description": "api_key: an api_key is required to post"}]
    r = _post(client, _form(point, "w311_not-a-key"), "xml")
    assert r.status_code == 403
    root = ET.fromstring(r.content)
    assert root.tag == "errors" and root.findtext("error/code") == "403"
    r = _post(client, _form(point, key, lat="", long="999"))
    assert r.status_code == 400
    described = " ".join(e["description"] for e in r.json())
    assert "lat" in described and "long" in described
    r = _post(client, _form(point, key, service_code="gas_safety"))
    assert r.status_code == 400 and "gas_smell" in r.text
    r = _post(client, _form(point, key, service_code="no_such"))
    assert r.status_code == 400 and "no_such" in r.text
    far = _form(point, key, lat="39.0", long="117.0", coord="wgs84")
    assert _post(client, far).status_code == 400
    r = client.get(f"{V2}/requests/999999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert client.get(f"{V2}/services.html").status_code == 400
    assert client.get(f"{V2}/services/nope.xml").status_code == 404
    # the Wangge API keeps FastAPI's list form
    r = client.post("/api/v1/api-clients", json={"name": ""}, headers=token_for("admin"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body"

    # a revoked key is blocked for good
    clients = client.get("/api/v1/api-clients", headers=token_for("admin")).json()
    r = client.post(
        f"/api/v1/api-clients/{clients[0]['id']}/revoke",
        json={"reason": "spam"},
        headers=token_for("admin"),
    )
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert "api_key" not in r.json() and "key_hash" not in r.json()
    assert _post(client, _form(point, key)).status_code == 403


def test_keys_are_stored_hashed(client: TestClient, key: str, db: Session) -> None:
    stored = db.execute(text("SELECT key_hash, key_prefix FROM api_client")).one()
    assert key not in stored and len(stored[0]) == 64 and key.startswith(stored[1])


def _jpeg(colour: tuple[int, int, int] = (30, 120, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def media_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(get_settings(), "media_dir", tmp_path)
    return tmp_path


def _request(client: TestClient, sid: str) -> dict[str, Any]:
    body: list[dict[str, Any]] = client.get(f"{V2}/requests/{sid}.json").json()
    return body[0]


def test_verification_confirm_reject_and_duplicate(
    client: TestClient,
    key: str,
    point: tuple[float, float],
    token_for: Headers,
    clock: Clock,
    media_dir: Path,
    db: Session,
) -> None:
    member, other_grid = token_for("g01m1"), token_for("g02m1")
    first = _created(client, _form(point, key))
    event = client.get(f"/api/v1/events/{first}", headers=member).json()
    assert event["status"] == "pending_verification"
    report = client.get(f"/api/v1/events/{first}/public-report", headers=member).json()
    assert report["reporter_phone"] == "13800138000" and report["channel"] == "public"
    due = datetime.fromisoformat(report["verify_due_at"])
    assert due == clock.now + timedelta(minutes=30)

    # another grid's member may not verify; nothing changes
    r = client.post(
        f"/api/v1/events/{first}/verification", json={"outcome": "confirmed"}, headers=other_grid
    )
    assert r.status_code == 404
    clock.advance(minutes=10)
    r = client.post(
        f"/api/v1/events/{first}/verification", json={"outcome": "confirmed"}, headers=member
    )
    assert r.status_code == 200, r.text
    confirmed = r.json()
    assert confirmed["status"] == "registered"
    assert datetime.fromisoformat(confirmed["created_at"]) == clock.now  # clocks start now
    assert datetime.fromisoformat(confirmed["received_at"]) == clock.now - timedelta(minutes=10)
    assert _request(client, first)["status_notes"] == "已立案，等待派遣"
    dispatch_rows = db.execute(
        text("SELECT count(*) FROM outbox WHERE event_id = :e AND topic = 'dispatch'"),
        {"e": int(first)},
    ).scalar_one()
    assert dispatch_rows == 1
    r = client.post(
        f"/api/v1/events/{first}/verification", json={"outcome": "confirmed"}, headers=member
    )
    assert r.status_code == 409  # only once

    # the second report of the same thing lists the first as a candidate, and is linked to it
    r = _post(client, _form(point, key, description="东门垃圾还在"))
    second = r.json()[0]["service_request_id"]
    candidates = r.json()[0]["duplicate_candidates"]
    assert [c["service_request_id"] for c in candidates] == [first]
    assert candidates[0]["distance_m"] < 1
    r = client.post(
        f"/api/v1/events/{second}/verification",
        json={"outcome": "duplicate", "duplicate_of": int(second)},
        headers=member,
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/v1/events/{second}/verification",
        json={"outcome": "duplicate", "duplicate_of": int(first)},
        headers=member,
    )
    assert r.status_code == 200 and r.json()["status"] == "voided"
    linked = _request(client, second)
    assert linked["status"] == "open"  # follows the original
    assert str(first) in linked["status_notes"] and "已立案" in linked["status_notes"]
    assert linked["expected_datetime"] == _request(client, first)["expected_datetime"]

    # a rejection needs a reason and a photo of the place
    third = _created(client, _form(point, key, service_code="small_ads", description="小广告"))
    url = f"/api/v1/events/{third}/verification"
    r = client.post(url, json={"outcome": "rejected"}, headers=member)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    r = client.post(url, json={"outcome": "rejected", "reason": "not_found"}, headers=member)
    assert r.status_code == 422 and "photo" in r.text
    r = client.post(
        f"/api/v1/events/{third}/photos?stage=verify",
        files={"file": ("p.jpg", _jpeg(), "image/jpeg")},
        headers=member,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        url, json={"outcome": "rejected", "reason": "not_found", "note": "已清理"}, headers=member
    )
    assert r.status_code == 200 and r.json()["status"] == "voided"
    rejected = _request(client, third)
    assert rejected["status"] == "closed" and rejected["expected_datetime"] is None
    assert rejected["status_notes"] == "核实未通过：现场未发现：已清理"

    history = client.get(f"/api/v1/events/{third}/history", headers=member).json()["items"]
    assert [h["action"] for h in history] == ["report", "void"]
    assert "现场未发现" in history[-1]["note"]


def test_hotline_entry_by_dispatcher_and_by_the_hotline_system(
    client: TestClient, point: tuple[float, float], token_for: Headers
) -> None:
    body = {
        "hotline_case": "12345-20261129-0001",
        "category": "exposed_garbage",
        "description": "市民来电：东门垃圾",
        "location": {"lon": point[0], "lat": point[1], "coord": "wgs84"},
        "caller_name": "李四",
        "caller_phone": "13900000000",
    }
    dispatcher = token_for("dispatch1")
    r = client.post("/api/v1/hotline-reports", json=body, headers=dispatcher)
    assert r.status_code == 201, r.text
    entered = r.json()
    assert entered["channel"] == "hotline" and entered["hotline_case"] == body["hotline_case"]
    assert entered["reporter_phone"] == "13900000000"
    r = client.post("/api/v1/hotline-reports", json=body, headers=dispatcher)
    assert r.status_code == 409 and r.json()["detail"][0]["event_id"] == entered["event_id"]
    assert (
        client.post("/api/v1/hotline-reports", json=body, headers=token_for("g01m1")).status_code
        == 403
    )
    assert "李四" not in client.get(f"{V2}/requests.json").text

    issued = client.post(
        "/api/v1/api-clients",
        json={"name": "12345", "channel": "hotline"},
        headers=token_for("admin"),
    ).json()
    form = _form(point, issued["api_key"])
    assert _post(client, form).status_code == 400  # the hotline's case number is required
    r = _post(client, {**form, "hotline_case": "12345-20261129-0002"})
    assert r.status_code == 201
    # the earlier hotline report is a candidate of the new one
    assert [c["service_request_id"] for c in r.json()[0]["duplicate_candidates"]] == [
        str(entered["event_id"])
    ]
    r = _post(client, {**form, "hotline_case": "12345-20261129-0002"})
    assert r.status_code == 409


def test_rate_limit_per_address_is_a_429_with_retry_after(
    client: TestClient,
    key: str,
    point: tuple[float, float],
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
) -> None:
    monkeypatch.setattr(get_settings(), "public_rate_per_address", "2/minute")
    assert _created(client, _form(point, key))
    assert _created(client, _form(point, key))
    r = _post(client, _form(point, key))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()[0]["code"] == 429
    clock.advance(seconds=31)
    assert _post(client, _form(point, key)).status_code == 201


def test_rate_limit_per_key(
    client: TestClient, key: str, point: tuple[float, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "public_rate_per_key", "1/minute")
    assert _created(client, _form(point, key))
    r = _post(client, _form(point, key))
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_redis_down_fails_open(
    app: FastAPI, key: str, point: tuple[float, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Public intake still accepts and stores reports without the budget store."""
    monkeypatch.setattr(get_settings(), "public_rate_per_address", "1/minute")
    from dispatch.public.abuse import UNAVAILABLE

    closed = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    app.dependency_overrides[redis_connection] = lambda: closed
    before = UNAVAILABLE._value.get()
    with TestClient(app) as c:
        for _ in range(3):
            r = _post(c, _form(point, key))
            assert r.status_code == 201, r.text
    assert UNAVAILABLE._value.get() == before + 3  # counted, for the operator to see


def test_attributes_are_checked_and_kept(
    client: TestClient, key: str, point: tuple[float, float], token_for: Headers
) -> None:
    form = _form(point, key, service_code="gas_safety", description="楼道有燃气味")
    r = _post(client, {**form, "attribute[gas_smell]": "maybe"})
    assert r.status_code == 400 and "yes, no" in r.text
    sid = _created(client, {**form, "attribute[gas_smell]": "yes"})
    report = client.get(f"/api/v1/events/{sid}/public-report", headers=token_for("dispatch1"))
    assert report.json()["attributes"] == {"gas_smell": "yes"}


def test_xml_body_of_a_create(client: TestClient, key: str, point: tuple[float, float]) -> None:
    r = _post(client, _form(point, key), "xml")
    assert r.status_code == 201
    root = ET.fromstring(r.content)
    request = root.find("request")
    assert root.tag == "service_requests" and request is not None
    assert request.findtext("service_request_id", "").isdigit()
    assert request.find("duplicate_candidates") is not None


def test_staff_reports_list_their_duplicate_candidates(
    client: TestClient, token_for: Headers, point: tuple[float, float], key: str
) -> None:
    from tests.kit.events import report_body

    member = token_for("g01m1")
    body = report_body(point, category="exposed_garbage")
    r = client.post("/api/v1/events", json=body, headers=member)
    assert r.status_code == 201 and r.json()["duplicate_candidates"] == []
    first = r.json()["id"]
    again = report_body(point, category="exposed_garbage")
    r = client.post("/api/v1/events", json=again, headers=member)
    assert [c["event_id"] for c in r.json()["duplicate_candidates"]] == [first]
    other = report_body(point, category="small_ads")
    r = client.post("/api/v1/events", json=other, headers=member)
    assert r.json()["duplicate_candidates"] == []  # another category
    # a public report there sees both open garbage events, nearest first
    sid = _created(client, _form(point, key))
    listed = client.get(f"/api/v1/events/{sid}/duplicates", headers=member).json()
    assert {c["event_id"] for c in listed} == {first, first + 1}
    assert (
        client.get(f"/api/v1/events/{first}", headers=member).json()["duplicate_candidates"] is None
    )


def test_a_nul_character_is_refused_not_a_server_error(
    client: TestClient, key: str, point: tuple[float, float], token_for: Headers
) -> None:
    r = _post(client, _form(point, key, description="垃圾\x00"))
    assert r.status_code == 400 and "NUL" in r.json()[0]["description"]  # the spec's shape
    r = client.post(
        "/api/v1/api-clients",
        json={"name": "a\x00b", "channel": "public"},
        headers=token_for("admin"),
    )
    assert r.status_code == 422


def test_the_intake_indicators_and_the_missed_report_rate(
    client: TestClient,
    key: str,
    point: tuple[float, float],
    token_for: Headers,
    clock: Clock,
) -> None:
    """A staff report, a public report linked to it (not missed: staff had it), a public
    report confirmed late (missed; verified after its deadline), one left pending past its
    deadline: 漏报率, 按时核实率, 公众有效上报率 and the duplicate share, with drill-downs."""
    from tests.kit.events import report_body

    # The window runs from the day of the reports to the day of the late confirmation (one
    # day, unless the test starts shortly before midnight in the service's zone).
    first = clock.now.astimezone(get_settings().tz).date().isoformat()
    member = token_for("g01m1")
    staff = client.post("/api/v1/events", json=report_body(point), headers=member).json()["id"]
    linked = _created(client, _form(point, key))
    ok = client.post(
        f"/api/v1/events/{linked}/verification",
        json={"outcome": "duplicate", "duplicate_of": staff},
        headers=member,
    )
    assert ok.status_code == 200
    missed = _created(client, _form(point, key, service_code="small_ads", description="小广告"))
    pending = _created(client, _form(point, key, service_code="road_damage", description="坑"))
    clock.advance(minutes=40)  # past the 30-minute verification deadline
    ok = client.post(
        f"/api/v1/events/{missed}/verification", json={"outcome": "confirmed"}, headers=member
    )
    assert ok.status_code == 200
    day = clock.now.astimezone(get_settings().tz).date().isoformat()
    r = client.get(
        "/api/v1/stats/indicators",
        params={"since": first, "until": day, "grid": GRID_01},
        headers=token_for("evaluator"),
    )
    assert r.status_code == 200, r.text
    got = {i["code"]: (i["numerator"], i["denominator"]) for i in r.json()["indicators"]}
    assert got["missed_report"] == (1, 2)  # the confirmed public report, of 2 registered
    assert got["on_time_verification"] == (1, 3)  # the link in time; the late one, the pending
    assert got["valid_public_report"] == (2, 2)
    assert got["duplicate_share"] == (1, 4)
    assert got["valid_report"] == (3, 3)  # the linked report counts once (as the original)
    r = client.get(
        "/api/v1/stats/indicators/on_time_verification/events",
        params={"since": first, "until": day},
        headers=token_for("evaluator"),
    )
    assert [i["id"] for i in r.json()["items"]] == [int(linked)]
    r = client.get(
        "/api/v1/stats/indicators/missed_report/events",
        params={"since": first, "until": day},
        headers=token_for("evaluator"),
    )
    assert [i["id"] for i in r.json()["items"]] == [int(missed)]
    assert pending


def test_dispatchers_merge_and_unmerge_open_events(
    client: TestClient,
    token_for: Headers,
    make_event: Callable[..., int],
    clock: Clock,
    db: Session,
) -> None:
    dispatcher = token_for("dispatch1")
    original = make_event("g01m1", assignee="g01m2")
    twin = make_event("g01m1", assignee="g01m1")
    before = client.get(f"/api/v1/events/{twin}", headers=dispatcher).json()
    assert before["status"] == "dispatched"
    counted = "SELECT coalesce(sum(reported), 0) FROM stats_daily"
    assert db.execute(text(counted)).scalar_one() == 2

    r = client.post(
        f"/api/v1/events/{twin}/merge", json={"into": original}, headers=token_for("g01h")
    )
    assert r.status_code == 403
    r = client.post(f"/api/v1/events/{twin}/merge", json={"into": twin}, headers=dispatcher)
    assert r.status_code == 422
    clock.advance(minutes=10)
    r = client.post(
        f"/api/v1/events/{twin}/merge",
        json={"into": original, "version": before["version"]},
        headers=dispatcher,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "merged"
    assert db.execute(text(counted)).scalar_one() == 1  # counts once
    # the original cannot be merged into the merged one (links never chain)
    r = client.post(f"/api/v1/events/{original}/merge", json={"into": twin}, headers=dispatcher)
    assert r.status_code == 422
    twin_311 = _request(client, str(twin))
    assert twin_311["status_notes"].startswith(f"与已受理的问题 {original} 相同")

    clock.advance(minutes=20)
    r = client.post(f"/api/v1/events/{twin}/unmerge", headers=dispatcher)
    assert r.status_code == 200, r.text
    back = r.json()
    assert back["status"] == "dispatched"
    parked = timedelta(minutes=20)
    assert (
        datetime.fromisoformat(back["due_at"]) == datetime.fromisoformat(before["due_at"]) + parked
    )
    assert db.execute(text(counted)).scalar_one() == 2
    history = client.get(f"/api/v1/events/{twin}/history", headers=dispatcher).json()["items"]
    assert [h["action"] for h in history][-2:] == ["merge", "unmerge"]
    assert client.post(f"/api/v1/events/{twin}/unmerge", headers=dispatcher).status_code == 409

    # once the original is closed (here: voided) the merge is final
    assert (
        client.post(
            f"/api/v1/events/{twin}/merge", json={"into": original}, headers=dispatcher
        ).status_code
        == 200
    )
    assert client.post(f"/api/v1/events/{original}/void", headers=dispatcher).status_code == 200
    r = client.post(f"/api/v1/events/{twin}/unmerge", headers=dispatcher)
    assert r.status_code == 409 and r.json()["detail"][0]["type"] == "merge_final"


def test_a_staff_report_linked_at_once_counts_once_and_can_be_unmerged(
    client: TestClient, token_for: Headers, point: tuple[float, float], db: Session
) -> None:
    from tests.kit.events import report_body

    member = token_for("g01m1")
    first = client.post("/api/v1/events", json=report_body(point), headers=member).json()["id"]
    body = report_body(point, duplicate_of=first)
    r = client.post("/api/v1/events", json=body, headers=member)
    assert r.status_code == 201, r.text
    linked = r.json()["id"]
    assert r.json()["status"] == "merged"
    again = client.post("/api/v1/events", json=body, headers=member)
    assert again.status_code == 200 and again.json()["id"] == linked
    assert db.execute(text("SELECT sum(reported) FROM stats_daily")).scalar_one() == 1
    dispatch_rows = db.execute(
        text("SELECT count(*) FROM outbox WHERE event_id = :e AND topic = 'dispatch'"),
        {"e": linked},
    ).scalar_one()
    assert dispatch_rows == 0  # never dispatched on its own
    # only an open event the reporter may see
    other = report_body(point, duplicate_of=999_999)
    assert client.post("/api/v1/events", json=other, headers=member).status_code == 422
    chained = report_body(point, duplicate_of=linked)
    assert client.post("/api/v1/events", json=chained, headers=member).status_code == 422
    r = client.post(f"/api/v1/events/{linked}/unmerge", headers=token_for("dispatch1"))
    assert r.status_code == 200 and r.json()["status"] == "registered"
    assert db.execute(text("SELECT sum(reported) FROM stats_daily")).scalar_one() == 2


def test_the_grid_sees_its_verification_tasks_by_deadline(
    client: TestClient, key: str, point: tuple[float, float], token_for: Headers, clock: Clock
) -> None:
    first = _created(client, _form(point, key))
    clock.advance(minutes=5)
    second = _created(client, _form(point, key, service_code="small_ads", description="小广告"))
    member = token_for("g01m1")
    tasks = client.get("/api/v1/verifications", headers=member).json()
    assert [t["event_id"] for t in tasks] == [int(first), int(second)]
    assert tasks[0]["overdue"] is False and "reporter_phone" not in tasks[0]
    assert client.get("/api/v1/verifications", headers=token_for("g02m1")).json() == []
    clock.advance(minutes=28)  # the first is past its 30 minutes, the second not yet
    late = client.get("/api/v1/verifications?overdue=true", headers=member).json()
    assert [t["event_id"] for t in late] == [int(first)]
    r = client.post(
        f"/api/v1/events/{first}/verification", json={"outcome": "confirmed"}, headers=member
    )
    assert r.status_code == 200
    left = client.get("/api/v1/verifications", headers=member).json()
    assert [t["event_id"] for t in left] == [int(second)]


def test_a_photo_sent_with_a_report_is_checked_and_served_as_its_media_url(
    client: TestClient,
    key: str,
    point: tuple[float, float],
    media_dir: Path,
    token_for: Headers,
    make_event: Callable[..., int],
) -> None:
    form = _form(point, key)
    del form["media_url"]
    jpeg = _jpeg()
    r = client.post(
        f"{V2}/requests.json", data=form, files={"media": ("p.jpg", jpeg, "image/jpeg")}
    )
    assert r.status_code == 201, r.text
    sid = r.json()[0]["service_request_id"]
    media_url = _request(client, sid)["media_url"]
    assert media_url.startswith("http://testserver/open311/v2/media/")
    got = client.get(media_url)
    assert got.status_code == 200 and got.content == jpeg
    assert got.headers["content-type"] == "image/jpeg"
    photos = client.get(f"/api/v1/events/{sid}/photos", headers=token_for("g01m1")).json()
    assert photos["items"][0]["uploaded_by"] is None and photos["items"][0]["stage"] == "report"

    # not an image: refused in the spec's shape, nothing written
    before = client.get(f"{V2}/requests.json").json()
    r = client.post(
        f"{V2}/requests.json", data=form, files={"media": ("x.jpg", b"not an image", "image/jpeg")}
    )
    assert r.status_code == 415 and r.json()[0]["code"] == 415
    assert client.get(f"{V2}/requests.json").json() == before

    # staff photos are not served by the public door
    staff_event = make_event("g01m1")
    r = client.post(
        f"/api/v1/events/{staff_event}/photos",
        files={"file": ("s.jpg", _jpeg((200, 30, 30)), "image/jpeg")},
        headers=token_for("g01m1"),
    )
    assert r.status_code == 201, r.text
    assert client.get(f"{V2}/media/{r.json()['id']}").status_code == 404


def test_a_photo_larger_than_an_ordinary_body_is_accepted(
    client: TestClient, key: str, point: tuple[float, float], media_dir: Path
) -> None:
    """The door takes photos of the staff photos' size, not the small limit of other bodies."""
    import os

    buf = io.BytesIO()
    Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3)).save(buf, "JPEG", quality=95)
    photo = buf.getvalue()
    assert len(photo) > get_settings().body_max_bytes
    form = _form(point, key)
    del form["media_url"]
    r = client.post(
        f"{V2}/requests.json", data=form, files={"media": ("big.jpg", photo, "image/jpeg")}
    )
    assert r.status_code == 201, r.text
