"""The statistics API over HTTP: figures, small-sample flags, roles, exports, drill-downs.

Events are made by the simulator's ``record_plan`` (the dispatch core and
``dispatch.store``, so the triggers keep the statistics) inside the test's rolled-back
transaction, with handling times chosen here.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.indicators import FORMULAS_ZH, INDICATORS, Source
from domain.evaluation.resolution import summarize
from evaluation.exports import CSV_TYPE, XLSX_TYPE
from evaluation.sealing import seal
from grids.loading import load_map
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from tests.conftest import Clock
from tests.e2e.test_dispatch_actions import add_resolve_photo, url
from tests.kit.data import HOME_SUBDISTRICT, neighbour_subdistrict
from tests.kit.dispatch import dispatched, username_of
from tools.simulate.plans import Plan
from tools.simulate.small import record_plan
from tools.simulate.world import World, load_world, to_us

Headers = Callable[[str], dict[str, str]]

DAY = date(2026, 1, 12)
WINDOW = {"since": DAY.isoformat(), "until": DAY.isoformat()}
ROUTES = [
    "/api/v1/stats/resolution",
    "/api/v1/stats/indicators",
    "/api/v1/stats/indicators/closure_rate/events",
    "/api/v1/stats/events",
    "/api/v1/stats/scorecard",
]
# handling minutes (ack → resolve) of the events made in grid 0 and grid 1 (all before the
# 30-minute breach of 暴露垃圾, which would escalate them and add a new handler's minute)
WORK_A = [10, 20, 25]
WORK_B = [5, 8, 12, 15, 27, 28]


def _seconds(work: int) -> int:
    return 2 + 60 + work * 60 + 60  # dispatch 2 s, ack 60 s, work, review 60 s


def _minutes(work: int) -> int:
    return _seconds(work) // 60


def _plan(world: World, grid: int, category: int, hour: int, work_minutes: int) -> Plan:
    start = to_us(datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=get_settings().tz))
    return Plan(
        t0=start,
        grid=grid,
        category=category,
        point=0,
        client_id=uuid.uuid4(),
        accuracy_m=5.0,
        public=False,
        member=0,
        dispatcher=0,
        dispatch_after=2,
        ack=[60],
        work=[work_minutes * 60],
        review=[60],
        approved=[True],
        extra=[60, 60, 60, 60],
    )


@pytest.fixture
def made(db: Session) -> World:
    world = load_world(db)
    category = next(i for i, c in enumerate(world.categories) if c.code == "exposed_garbage")
    cutoff = to_us(datetime(2026, 2, 1, tzinfo=get_settings().tz))
    for i, work in enumerate(WORK_A):
        record_plan(db, world, _plan(world, 0, category, 9 + i, work), cutoff=cutoff)
    for i, work in enumerate(WORK_B):
        record_plan(db, world, _plan(world, 1, category, 9 + i, work), cutoff=cutoff)
    db.flush()
    return world


def test_resolution_figures_and_small_samples_flagged_not_hidden(
    client: TestClient, token_for: Headers, made: World
) -> None:
    r = client.get(
        "/api/v1/stats/resolution",
        params={**WINDOW, "group_by": "grid"},
        headers=token_for("evaluator"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    groups = {g["group"]: g for g in body["groups"]}
    assert len(groups) == 44  # every grid, even without events
    a, b = groups[made.grids[0].code], groups[made.grids[1].code]
    for got, work in ((a, WORK_A), (b, WORK_B)):
        hist: dict[int, tuple[int, int]] = {}
        for w in work:  # on time: report → close within 30 minutes, to the second
            n, ok = hist.get(_minutes(w), (0, 0))
            hist[_minutes(w)] = (n + 1, ok + int(_seconds(w) <= 30 * 60))
        expect = summarize(hist)
        assert (got["count"], got["p50"], got["p90"], got["p95"], got["max"], got["mean"]) == (
            expect.count, expect.p50, expect.p90, expect.p95, expect.max, expect.mean,
        )  # fmt: skip
        assert got["on_time"] == expect.on_time
    assert a["small_sample"] is True and b["small_sample"] is False
    empty = groups[made.grids[2].code]
    assert (empty["count"], empty["p50"], empty["small_sample"]) == (0, None, True)
    assert body["total"]["count"] == len(WORK_A) + len(WORK_B)
    assert "percentile_disc" in body["definitions"]["percentiles"]


def test_resolution_in_working_time_counts_each_events_minutes_on_its_calendar(
    db: Session, client: TestClient, clock: Clock, token_for: Headers
) -> None:
    """``time=working``: the event's report → close counted on its category's working calendar
    (the Chinese one: reported Monday 11:50, closed 13:45 — 115 wall minutes, 25 working ones
    around the lunch break), computed by the lifecycle at the close."""
    db.execute(text("UPDATE category SET calendar = 'cn' WHERE code = 'exposed_garbage'"))
    tz = get_settings().tz
    clock.now = datetime(2026, 1, 12, 11, 50, tzinfo=tz)
    event = dispatched(db, clock)
    eid, holder = event.id or 0, token_for(username_of(db, event.assignee_id or 0))
    clock.now += timedelta(minutes=1)
    assert client.post(url(eid, "acknowledge"), headers=holder).status_code == 200
    clock.now = datetime(2026, 1, 12, 13, 40, tzinfo=tz)
    add_resolve_photo(db, eid, event.assignee_id or 0, clock)
    assert client.post(url(eid, "resolve"), headers=holder).status_code == 200
    clock.now += timedelta(minutes=5)
    r = client.post(url(eid, "review"), headers=token_for("g01h"), json={"approved": True})
    assert r.json()["status"] == "closed", r.text
    for time, minutes in (("wall", 115), ("working", 25)):
        r = client.get(
            "/api/v1/stats/resolution",
            params={**WINDOW, "group_by": "category", "time": time},
            headers=token_for("evaluator"),
        )
        assert r.status_code == 200, r.text
        assert r.json()["time"] == time
        total = r.json()["total"]
        assert (total["count"], total["p50"], total["max"]) == (1, minutes, minutes), time
    r = client.get(
        "/api/v1/stats/resolution", params={**WINDOW, "time": "sundial"},
        headers=token_for("evaluator"),
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "time"


def test_every_grouping_answers_and_sealing_changes_nothing(
    db: Session, client: TestClient, token_for: Headers, made: World
) -> None:
    week = {"since": (DAY - timedelta(days=3)).isoformat(), "until": DAY.isoformat()}
    before = {}
    for group_by in (
        "grid",
        "community",
        "subdistrict",
        "category",
        "level",
        "day",
        "week",
        "month",
    ):
        r = client.get(
            "/api/v1/stats/resolution",
            params={**week, "group_by": group_by},
            headers=token_for("dispatch1"),
        )
        assert r.status_code == 200, (group_by, r.text)
        before[group_by] = r.json()
        assert r.json()["total"]["count"] == 9
    assert [g["group"] for g in before["day"]["groups"]][-1] == DAY.isoformat()
    assert seal(uow=UnitOfWork(db), today=DAY + timedelta(days=40)) > 0
    for group_by, body in before.items():
        r = client.get(
            "/api/v1/stats/resolution",
            params={**week, "group_by": group_by},
            headers=token_for("dispatch1"),
        )
        assert r.json() == body, group_by


@pytest.mark.parametrize("username", ["g01m1", "g01h", "comm01", "dept_cg"])
def test_only_evaluators_dispatchers_and_admins_read_statistics(
    client: TestClient, token_for: Headers, username: str
) -> None:
    for path in ROUTES:
        r = client.get(path, params=WINDOW, headers=token_for(username))
        assert r.status_code == 403, (username, path)
        assert "may not" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize("username", ["evaluator", "dispatch1", "admin"])
def test_readers_get_every_statistics_route(
    client: TestClient, token_for: Headers, username: str
) -> None:
    for path in ROUTES:
        r = client.get(path, params=WINDOW, headers=token_for(username))
        assert r.status_code == 200, (username, path, r.text)


def test_csv_export_with_chinese_headers_parses_back(
    client: TestClient, token_for: Headers, made: World
) -> None:
    r = client.get(
        "/api/v1/stats/resolution",
        params={**WINDOW, "group_by": "grid", "format": "csv", "headers": "zh"},
        headers=token_for("evaluator"),
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == CSV_TYPE
    assert r.headers["content-disposition"].startswith(
        f'attachment; filename="resolution_by_grid_{DAY}_{DAY}.csv"'
    )
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:6] == ["分组", "名称", "所属社区", "上报数", "未结案数", "结案数"]
    assert "样本不足" in header and "中位数P50(分钟)" in header
    by_code = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    a = by_code[made.grids[0].code]
    assert (a["结案数"], a["样本不足"]) == ("3", "是")
    assert by_code["total"]["结案数"] == "9" and len(rows) == 1 + 44 + 1

    events = client.get(
        "/api/v1/stats/events",
        params={**WINDOW, "format": "csv", "headers": "zh"},
        headers=token_for("evaluator"),
    )
    table = list(csv.DictReader(io.StringIO(events.content.decode("utf-8-sig"))))
    assert len(table) == 9
    assert {"事件编号", "网格编码", "事件类别", "结案用时(分钟)", "按期结案"} <= set(table[0])
    assert sorted(int(t["结案用时(分钟)"]) for t in table) == sorted(map(_minutes, WORK_A + WORK_B))


def test_xlsx_export_parses_back(client: TestClient, token_for: Headers, made: World) -> None:
    for params, first in (
        ({"group_by": "category", "headers": "zh"}, "分组"),
        ({"group_by": "level", "headers": "en"}, "group"),
    ):
        r = client.get(
            "/api/v1/stats/resolution",
            params={**WINDOW, **params, "format": "xlsx"},
            headers=token_for("evaluator"),
        )
        assert r.status_code == 200
        assert r.headers["content-type"] == XLSX_TYPE
        assert r.headers["content-disposition"].startswith("attachment; filename=")
        sheet = load_workbook(io.BytesIO(r.content)).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == first
        total = rows[-1]
        assert total[0] == "total" and 9 in total
    r = client.get(
        "/api/v1/stats/scorecard",
        params={**WINDOW, "format": "xlsx", "headers": "zh"},
        headers=token_for("evaluator"),
    )
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    header = next(sheet.iter_rows(values_only=True))
    assert {"得分", "等级", "结案率得分", "按期结案率"} <= set(header)
    assert sheet.max_row == 1 + 44 + 6 + 1  # and the subdistrict as a whole


def test_indicators_link_to_their_events(
    client: TestClient, token_for: Headers, made: World
) -> None:
    r = client.get("/api/v1/stats/indicators", params=WINDOW, headers=token_for("evaluator"))
    assert r.status_code == 200, r.text
    indicators = {i["code"]: i for i in r.json()["indicators"]}
    assert set(indicators) == {i.code for i in INDICATORS}
    closure = indicators["closure_rate"]
    assert (closure["numerator"], closure["denominator"], closure["value"]) == (9, 9, 1.0)
    for i in INDICATORS:
        got = indicators[i.code]
        assert (got["events"] is not None) == (
            i.source in (Source.events, Source.audit, Source.intake)
        )
        assert got["drilldown"].startswith(f"/api/v1/stats/indicators/{i.code}/events?")
    seen: list[int] = []
    url: str | None = closure["events"] + "&limit=4"
    pages = 0
    while url:
        page = client.get(url, headers=token_for("evaluator")).json()
        seen += [item["id"] for item in page["items"]]
        url = page["next_cursor"] and (closure["events"] + f"&limit=4&cursor={page['next_cursor']}")
        pages += 1
    assert len(seen) == len(set(seen)) == 9 and pages == 3
    community = client.get(
        "/api/v1/stats/indicators",
        params={**WINDOW, "community": made.grids[0].code[:12]},
        headers=token_for("evaluator"),
    ).json()
    assert community["filters"] == {"community": made.grids[0].code[:12]}


def test_statistics_narrow_to_one_subdistrict(
    client: TestClient, token_for: Headers, made: World, db: Session
) -> None:
    """A district's evaluator reads one subdistrict's figures (issue 16): its grids only."""
    load_map(session=db, fc=neighbour_subdistrict("002", dx=0.2))

    def indicators(**place: str) -> dict[str, Any]:
        r = client.get(
            "/api/v1/stats/indicators", params={**WINDOW, **place}, headers=token_for("evaluator")
        )
        assert r.status_code == 200, r.text
        return {"filters": r.json()["filters"]} | {
            i["code"]: (i["numerator"], i["denominator"]) for i in r.json()["indicators"]
        }

    home, other, whole = (
        indicators(subdistrict=HOME_SUBDISTRICT),
        indicators(subdistrict="130203002"),
        indicators(),
    )
    assert home["filters"] == {"subdistrict": HOME_SUBDISTRICT}
    assert home["closure_rate"] == whole["closure_rate"] == (9, 9)
    assert other["closure_rate"] == (0, 0)
    # and a subdistrict dimension: one row per subdistrict, adding up to the whole
    r = client.get(
        "/api/v1/stats/resolution",
        params={**WINDOW, "group_by": "subdistrict"},
        headers=token_for("evaluator"),
    )
    assert r.status_code == 200, r.text
    rows = {g["group"]: g for g in r.json()["groups"]}
    assert set(rows) == {HOME_SUBDISTRICT, "130203002"}
    assert (rows[HOME_SUBDISTRICT]["count"], rows["130203002"]["count"]) == (9, 0)
    assert rows["130203002"]["reported"] == 0
    assert rows[HOME_SUBDISTRICT]["reported"] == r.json()["total"]["reported"] > 0
    r = client.get(
        "/api/v1/stats/process",
        params={**WINDOW, "group_by": "subdistrict"},
        headers=token_for("evaluator"),
    )
    assert r.status_code == 200, r.text
    assert [row["code"] for row in r.json()["rows"]] == [HOME_SUBDISTRICT]  # groups with events
    # and the scorecard grades each subdistrict over its own grids
    r = client.get("/api/v1/stats/scorecard", params=WINDOW, headers=token_for("evaluator"))
    assert r.status_code == 200, r.text
    graded = {u["code"]: u for u in r.json()["subdistricts"]}
    assert set(graded) == {HOME_SUBDISTRICT, "130203002"}
    closure = {
        code: next(line["value"] for line in u["lines"] if line["indicator"] == "closure_rate")
        for code, u in graded.items()
    }
    assert closure == {HOME_SUBDISTRICT: 1.0, "130203002": None}  # no event there: no rate
    for place, field in (
        ({"subdistrict": "130203009"}, "subdistrict"),
        ({"subdistrict": HOME_SUBDISTRICT, "grid": made.grids[0].code}, "subdistrict"),
    ):
        r = client.get(
            "/api/v1/stats/indicators", params={**WINDOW, **place}, headers=token_for("evaluator")
        )
        assert r.status_code == 422 and field in r.text, r.text


def test_scorecard_shows_how_points_were_earned(
    client: TestClient, token_for: Headers, made: World
) -> None:
    r = client.get("/api/v1/stats/scorecard", params=WINDOW, headers=token_for("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weights"] == "data/scorecard.json"
    assert [g["grade"] for g in body["grades"]] == ["优", "良", "中", "差"]
    assert len(body["grids"]) == 44 and len(body["communities"]) == 6
    grid = next(g for g in body["grids"] if g["code"] == made.grids[1].code)
    assert grid["grade"] in ("优", "良", "中", "差") and 0 <= grid["score"] <= 100
    lines = {line["indicator"]: line for line in grid["lines"]}
    assert lines["closure_rate"]["value"] == 1.0
    assert lines["closure_rate"]["points"] == lines["closure_rate"]["weight"]
    assert "linear" in lines["closure_rate"]["how"]
    applicable = [line for line in grid["lines"] if line["applicable"]]
    earned = sum(line["points"] for line in applicable)
    assert grid["score"] == pytest.approx(
        earned * 100 / sum(line["weight"] for line in applicable), abs=0.01
    )
    quiet = next(g for g in body["grids"] if g["code"] == made.grids[5].code)
    assert any(not line["applicable"] for line in quiet["lines"])


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/stats/resolution", {"since": "2026-01-10", "until": "2026-01-09"}, "until"),
        ("/api/v1/stats/resolution", {**WINDOW, "grid": "999999999999999"}, "grid"),
        ("/api/v1/stats/resolution", {**WINDOW, "group_by": "street"}, "group_by"),
        ("/api/v1/stats/resolution", {**WINDOW, "category": "nope"}, "category"),
        ("/api/v1/stats/resolution", {"since": "2026-13-01", "until": "2026-01-09"}, "since"),
        (
            "/api/v1/stats/indicators",
            {**WINDOW, "grid": "130203001001001", "community": "新景楼社区"},
            "community",
        ),  # fmt: skip
        ("/api/v1/stats/events", {**WINDOW, "limit": "0"}, "limit"),
        ("/api/v1/stats/events", {**WINDOW, "cursor": "!!"}, "cursor"),
        ("/api/v1/stats/events", {**WINDOW, "format": "pdf"}, "format"),
        ("/api/v1/stats/scorecard", {"since": "2020-01-01", "until": "2026-01-01"}, "until"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, token_for: Headers, path: str, params: dict[str, str], field: str
) -> None:
    r = client.get(path, params=params, headers=token_for("evaluator"))
    assert r.status_code == 422, r.text
    assert field in str(r.json()["detail"])


def test_unknown_indicator_is_a_404(client: TestClient, token_for: Headers) -> None:
    r = client.get(
        "/api/v1/stats/indicators/nonsense/events", params=WINDOW, headers=token_for("evaluator")
    )
    assert r.status_code == 404
    assert "nonsense" in str(r.json()["detail"])


def test_xlsx_is_typed_with_a_frozen_filtered_header(
    client: TestClient, token_for: Headers, made: World, db: Session
) -> None:
    """Dates and times are date cells in the service's time zone, booleans booleans, counts
    numbers; the header row is frozen, filtered and wide enough for its titles."""
    r = client.get(
        "/api/v1/stats/events",
        params={**WINDOW, "format": "xlsx", "headers": "zh"},
        headers=token_for("evaluator"),
    )
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content))["events"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}10"
    assert all(sheet.column_dimensions[c.column_letter].width >= 10 for c in sheet[1])
    column = {name: i for i, name in enumerate(header)}
    first = list(sheet[2])
    created = first[column["上报时间"]]
    assert created.data_type == "d" and created.is_date
    stored = db.execute(
        text("SELECT created_at FROM event WHERE id = :id"), {"id": first[column["事件编号"]].value}
    ).scalar_one()
    assert created.value == stored.astimezone(get_settings().tz).replace(tzinfo=None)
    assert first[column["按期结案"]].data_type == "b" and first[column["按期结案"]].value is True
    assert first[column["结案用时(分钟)"]].data_type == "n"
    # codes in Chinese first, the code itself in the next column; names beside staff ids
    assert header[column["状态"] + 1] == "状态代码" and header[column["来源"] + 1] == "来源代码"
    assert header[column["处置层级"] + 1] == "层级代码"
    assert header[column["上报人编号"] + 1] == "上报人"
    assert (first[column["状态"]].value, first[column["状态代码"]].value) == ("已结案", "closed")
    assert (first[column["处置层级"]].value, first[column["层级代码"]].value) == ("网格", 0)
    assert first[column["来源"]].value == "网格员上报"
    reporter = db.execute(
        text("SELECT s.name FROM event e JOIN staff s ON s.id = e.reporter_id WHERE e.id = :id"),
        {"id": first[column["事件编号"]].value},
    ).scalar_one()
    assert first[column["上报人"]].value == reporter


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_honour_limit_and_cursor(
    client: TestClient, token_for: Headers, made: World, fmt: str
) -> None:
    every = client.get(
        "/api/v1/stats/events", params={**WINDOW, "limit": 4}, headers=token_for("evaluator")
    ).json()
    ids = [i["id"] for i in every["items"]]

    def exported(**params: object) -> list[int]:
        r = client.get(
            "/api/v1/stats/events",
            params={**WINDOW, "format": fmt, **params},
            headers=token_for("evaluator"),
        )
        assert r.status_code == 200, r.text
        if fmt == "csv":
            return [int(row["id"]) for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))]
        sheet = load_workbook(io.BytesIO(r.content)).active
        assert sheet is not None
        return [int(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True)]

    assert exported(limit=3) == ids[:3]
    assert len(exported()) == 9
    page = client.get(
        "/api/v1/stats/events", params={**WINDOW, "limit": 2}, headers=token_for("evaluator")
    ).json()
    assert exported(cursor=page["next_cursor"], limit=2) == ids[2:4]


def test_a_page_limit_beyond_the_page_size_is_a_422(client: TestClient, token_for: Headers) -> None:
    r = client.get(
        "/api/v1/stats/events", params={**WINDOW, "limit": 501}, headers=token_for("evaluator")
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "limit"]


def test_csv_is_streamed_and_an_xlsx_past_a_sheet_is_a_413(
    client: TestClient, token_for: Headers, made: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_reply = client.get(
        "/api/v1/stats/events", params={**WINDOW, "format": "csv"}, headers=token_for("evaluator")
    )
    assert "content-length" not in csv_reply.headers  # sent as it is read, not built first
    monkeypatch.setattr("evaluation.exports.XLSX_MAX_ROWS", 5)
    r = client.get(
        "/api/v1/stats/events", params={**WINDOW, "format": "xlsx"}, headers=token_for("evaluator")
    )
    assert r.status_code == 413
    assert "export csv" in r.json()["detail"][0]["msg"]


def test_coverage_with_a_grid_filter_is_the_grids_own_area(
    client: TestClient, token_for: Headers, made: World, db: Session
) -> None:
    """Issue 18: with grid= every indicator is the grid's, coverage too (it was the whole
    map's 16.18 km² whatever the filter)."""
    code = made.grids[0].code
    area = db.execute(
        text("SELECT round((area_m2 / 1e6)::numeric, 4) FROM grid WHERE code = :c"), {"c": code}
    ).scalar_one()
    r = client.get(
        "/api/v1/stats/indicators", params={**WINDOW, "grid": code}, headers=token_for("evaluator")
    )
    assert r.status_code == 200, r.text
    figures = {i["code"]: i for i in r.json()["indicators"]}
    coverage = figures["coverage"]
    assert coverage["denominator"] == pytest.approx(float(area), abs=1e-3)
    assert coverage["numerator"] == pytest.approx(float(area), abs=1e-3)
    assert coverage["value"] == pytest.approx(1.0, abs=1e-3)
    assert figures["staffing"]["denominator"] == 1  # as staffing already was
    whole = client.get("/api/v1/stats/indicators", params=WINDOW, headers=token_for("evaluator"))
    assert {i["code"]: i for i in whole.json()["indicators"]}["coverage"]["denominator"] > 16
    community = made.grids[0].code[:12]
    r = client.get(
        "/api/v1/stats/indicators",
        params={**WINDOW, "community": community},
        headers=token_for("evaluator"),
    )
    own = db.execute(
        text(
            "SELECT round((sum(g.area_m2) / 1e6)::numeric, 4) FROM grid g"
            " JOIN community c ON c.id = g.community_id WHERE c.code = :c"
        ),
        {"c": community},
    ).scalar_one()
    assert {i["code"]: i for i in r.json()["indicators"]}["coverage"][
        "denominator"
    ] == pytest.approx(float(own), abs=1e-3)


def test_the_scorecard_grades_the_subdistrict_as_a_whole(
    client: TestClient, token_for: Headers, made: World
) -> None:
    """Issue 18: a whole-subdistrict score beside the grids' and the communities', in the
    JSON and in the export (its counters are every grid's summed)."""
    body = client.get(
        "/api/v1/stats/scorecard", params=WINDOW, headers=token_for("evaluator")
    ).json()
    (whole,) = body["subdistricts"]
    assert whole["kind"] == "subdistrict" and whole["grade"] in ("优", "良", "中", "差")
    assert whole["code"] == HOME_SUBDISTRICT
    lines = {line["indicator"]: line for line in whole["lines"]}
    assert lines["closure_rate"]["value"] == 1.0  # the 9 events of two grids, all closed
    assert lines["staffing"]["value"] == 1.0  # 44 of 44 grids staffed
    r = client.get(
        "/api/v1/stats/scorecard",
        params={**WINDOW, "format": "csv", "headers": "zh"},
        headers=token_for("evaluator"),
    )
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 44 + 6 + 1
    last = rows[-1]
    assert (last["类型"], last["类型代码"], last["得分"]) == (
        "街道",
        "subdistrict",
        str(whole["score"]),
    )


def test_grouped_statistics_count_reported_and_still_open_not_only_closed(
    client: TestClient, token_for: Headers, made: World, db: Session
) -> None:
    """Issue 18: per group, the events reported and those still open beside the closed ones."""
    from tests.kit.dispatch import report

    at = datetime(DAY.year, DAY.month, DAY.day, 15, tzinfo=get_settings().tz)
    report(db, "g01m1", now=at, grid=made.grids[0].code)  # registered, never closed
    db.flush()
    expect = {
        "grid": (made.grids[0].code, 4, 1, 3),
        "community": (made.grids[0].code[:12], None, 1, None),
        "category": ("exposed_garbage", 10, 1, 9),
        "day": (DAY.isoformat(), 10, 1, 9),
    }
    for group_by, (key, reported, still_open, closed) in expect.items():
        body = client.get(
            "/api/v1/stats/resolution",
            params={**WINDOW, "group_by": group_by},
            headers=token_for("evaluator"),
        ).json()
        group = next(g for g in body["groups"] if g["group"] == key)
        assert group["open"] == still_open, group_by
        if reported is not None:
            assert (group["reported"], group["count"]) == (reported, closed), group_by
        assert (body["total"]["reported"], body["total"]["open"], body["total"]["count"]) == (
            10, 1, 9,
        )  # fmt: skip
    by_level = client.get(
        "/api/v1/stats/resolution",
        params={**WINDOW, "group_by": "level"},
        headers=token_for("evaluator"),
    ).json()
    assert by_level["total"]["reported"] is None  # an event's level moves: not counted by it
    r = client.get(
        "/api/v1/stats/resolution",
        params={**WINDOW, "group_by": "grid", "format": "csv", "headers": "zh"},
        headers=token_for("evaluator"),
    )
    rows = {row["分组"]: row for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))}
    row = rows[made.grids[0].code]
    assert (row["上报数"], row["未结案数"], row["结案数"]) == ("4", "1", "3")


def test_drilldowns_list_the_misses_denominator_minus_numerator(
    client: TestClient, token_for: Headers, made: World
) -> None:
    """Issue 18: ``part=misses`` lists what kept an indicator below 1, beside its numerator."""
    figures = {
        i["code"]: i
        for i in client.get(
            "/api/v1/stats/indicators", params=WINDOW, headers=token_for("evaluator")
        ).json()["indicators"]
    }

    def ids(code: str, part: str) -> list[object]:
        r = client.get(
            f"/api/v1/stats/indicators/{code}/events",
            params={**WINDOW, "part": part, "limit": 200},
            headers=token_for("evaluator"),
        )
        assert r.status_code == 200, r.text
        return [item.get("id", item.get("grid_code")) for item in r.json()["items"]]

    on_time = figures["on_time_closure"]
    hits, misses = ids("on_time_closure", "numerator"), ids("on_time_closure", "misses")
    assert len(misses) == on_time["denominator"] - on_time["numerator"] > 0
    assert not set(hits) & set(misses) and len(set(hits) | set(misses)) == 9
    assert figures["on_time_closure"]["misses"].endswith("&part=misses")
    patrol = figures["patrol_coverage"]  # nobody patrolled: every grid-day is a miss
    assert len(ids("patrol_coverage", "misses")) == patrol["denominator"] == 44
    assert ids("staffing", "misses") == []  # every grid has 一长两员
    for code in ("closed_count", "coverage"):
        assert figures[code]["misses"] is None
        r = client.get(
            f"/api/v1/stats/indicators/{code}/events",
            params={**WINDOW, "part": "misses"},
            headers=token_for("evaluator"),
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "part"]
    r = client.get(
        "/api/v1/stats/indicators/on_time_closure/events",
        params={**WINDOW, "part": "misses", "format": "csv"},
        headers=token_for("evaluator"),
    )
    assert "on_time_closure_misses" in r.headers["content-disposition"]
    assert len(list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))) == len(misses)


def test_indicator_exports_give_the_formulas_in_chinese(
    client: TestClient, token_for: Headers, made: World
) -> None:
    """Issue 18: with Chinese headers the formula column is Chinese too (it was English)."""
    r = client.get(
        "/api/v1/stats/indicators",
        params={**WINDOW, "format": "xlsx", "headers": "zh"},
        headers=token_for("evaluator"),
    )
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    by_code = {row[header.index("编码")]: row for row in rows[1:]}
    formula = by_code["closure_rate"][header.index("计算公式")]
    assert formula == FORMULAS_ZH["closure_rate"] and "结案数 ÷ 应结案数" in str(formula)
    body = client.get("/api/v1/stats/indicators", params=WINDOW, headers=token_for("evaluator"))
    assert all(i["formula_zh"] == FORMULAS_ZH[i["code"]] for i in body.json()["indicators"])


def test_period_days_are_excel_date_cells(
    client: TestClient, token_for: Headers, made: World
) -> None:
    """Issue 18: every date of an export is a date cell (the periods' first and last days were
    text), and the report times of a drill-down are date cells in Asia/Shanghai."""
    r = client.get(
        "/api/v1/stats/resolution",
        params={**WINDOW, "group_by": "week", "format": "xlsx", "headers": "zh"},
        headers=token_for("evaluator"),
    )
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    first = sheet.cell(2, header.index("起始日") + 1)
    last = sheet.cell(2, header.index("截止日") + 1)
    assert first.is_date and last.is_date
    assert first.value.date() == DAY and last.value.date() == DAY  # clipped to the window
    body = client.get(
        "/api/v1/stats/resolution",
        params={**WINDOW, "group_by": "week"},
        headers=token_for("evaluator"),
    ).json()
    assert body["groups"][0]["first_day"] == DAY.isoformat()  # JSON keeps ISO dates
    r = client.get(
        "/api/v1/stats/indicators/on_time_closure/events",
        params={**WINDOW, "part": "misses", "format": "xlsx", "headers": "zh"},
        headers=token_for("evaluator"),
    )
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    created = sheet.cell(2, header.index("上报时间") + 1)
    assert created.is_date and created.value.date() == DAY and 9 <= created.value.hour <= 17
