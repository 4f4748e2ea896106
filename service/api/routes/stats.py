"""Routes of the evaluation statistics (evaluators, the command centre, admins). Thin: parse,
call ``evaluation``, shape JSON or serve the table ``evaluation.exports`` wrote."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import IO, Annotated, Any, Literal, cast, get_args
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse

from dispatch.supervision import service as supervision
from domain.evaluation.days import GroupBy
from domain.evaluation.indicators import FORMULAS_ZH, INDICATORS, IndicatorValue, Kind, Source
from domain.evaluation.resolution import SMALL_SAMPLE
from domain.jurisdiction import Principal
from domain.lifecycle import Status
from domain.roles import Role
from evaluation import exports
from evaluation.bundle import write_bundle
from evaluation.drilldown import Part, drilldown, event_list, page, stream_rows
from evaluation.indicators import indicator_report
from evaluation.models import ResolutionClock
from evaluation.process import CASE_COUNTERS, GROUPS, process_counts
from evaluation.resolution import resolution_table
from evaluation.returns import returns_by_category
from evaluation.scope import Scope, bounds, window, with_category, with_place
from evaluation.scorecard import UNIT_LABELS, ScoredUnit, scorecard_units
from kernel.errors import Invalid, field_error
from kernel.paging import DEFAULT_LIMIT, MAX_BIGINT, MAX_ROWS_LIMIT
from service.api.deps import Now, ReadSessionDep, RolesAllowed
from service.api.docs import AUTHENTICATED, BINARY, EXPORTS, problems
from service.api.params import Cursor

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"], responses=AUTHENTICATED)
Reader = Annotated[Principal, Depends(RolesAllowed(Role.EVALUATOR, Role.DISPATCHER, Role.ADMIN))]
Since = Annotated[date, Query(description="first report day (service time zone), inclusive")]
Until = Annotated[date, Query(description="last report day (service time zone), inclusive")]
GridCode = Annotated[str | None, Query(max_length=15, description="grid code")]
SubdistrictCode = Annotated[
    str | None, Query(max_length=9, description="subdistrict (街道) code, 9 digits")
]
Community = Annotated[str | None, Query(max_length=64, description="community code or name")]
CategoryCode = Annotated[str | None, Query(max_length=32, description="category code")]
ExportLimit = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_BIGINT,
        description=f"json: rows per page (default {DEFAULT_LIMIT}, at most {MAX_ROWS_LIMIT}); "
        "csv / xlsx: only the first rows (default: all)",
    ),
]
Format = Annotated[
    Literal["json", "csv", "xlsx"], Query(description="json, or a csv / xlsx attachment")
]
Headers = Annotated[
    Literal["en", "zh"], Query(description="column headers of csv / xlsx: en or zh (中文)")
]


def whole_map(since: Since, until: Until) -> Scope:
    """The window of a request over the whole map (``Invalid`` names the bound at fault)."""
    return window(since, until)


Window = Annotated[Scope, Depends(whole_map)]


def place_window(
    session: ReadSessionDep,
    scope: Window,
    grid: GridCode = None,
    community: Community = None,
    subdistrict: SubdistrictCode = None,
) -> Scope:
    """The window narrowed to a grid, a community or a subdistrict."""
    return with_place(session, scope, grid=grid, community=community, subdistrict=subdistrict)


PlaceWindow = Annotated[Scope, Depends(place_window)]


def filtered_window(
    session: ReadSessionDep, scope: PlaceWindow, category: CategoryCode = None
) -> Scope:
    """The window narrowed to a place and a category."""
    return with_category(session, scope, category)


FilteredWindow = Annotated[Scope, Depends(filtered_window)]


@dataclass(frozen=True)
class Output:
    """How a table is answered: JSON, or a CSV / XLSX attachment with English or Chinese
    column headers."""

    format: Format = "json"
    headers: Headers = "en"

    @property
    def export(self) -> bool:
        return self.format != "json"


OutputDep = Annotated[Output, Depends()]


@dataclass(frozen=True)
class Rows:
    """Which rows of a listing: a page of ``limit`` after ``cursor`` as JSON, or every row
    after ``cursor`` (the first ``limit`` when given) as a streamed CSV / XLSX."""

    limit: int | None
    cursor: str | None


def rows_wanted(output: OutputDep, cursor: Cursor = None, limit: ExportLimit = None) -> Rows:
    if output.export:
        return Rows(limit, cursor)
    if limit is not None and limit > MAX_ROWS_LIMIT:
        raise Invalid(field_error("limit", f"a page holds at most {MAX_ROWS_LIMIT} rows"))
    return Rows(DEFAULT_LIMIT if limit is None else limit, cursor)


RowsDep = Annotated[Rows, Depends(rows_wanted)]

DEFINITIONS: dict[str, str] = {
    "window": "events reported on the calendar days since..until (inclusive) in the service's "
    "time zone (WANGGE_TIMEZONE), "
    "as they stand now",
    "reported": "events reported in the window in the group (a report linked as another's "
    "duplicate counts once, as the event it joined); open: of them, neither closed nor voided "
    "now; count: of them, closed (the figures below are over these)",
    "minutes": "whole minutes from report (created_at) to close (closed_at), rounded down; "
    "time=wall (default): wall-clock minutes; time=working: working minutes of that span on "
    "the category's working calendar (event.resolution_working_time, computed at the close; "
    "neither excludes suspensions or parking), over the events closed with it: all closed "
    "since migration 0028, and those closed before it on a 24x7 calendar (where it is the wall "
    "figure). A span reaching a year the calendar does not know counts those days whole "
    "(documented fallback) and the event's clock_fallback alarm is set",
    "percentiles": "nearest rank: the value at rank ceil(p*N/100) of the sorted minutes "
    "(= PostgreSQL percentile_disc(p/100))",
    "on_time": "closed within the category's resolve_minutes of the report",
    "small_sample": f"fewer than {SMALL_SAMPLE} closed events: shown, but flagged",
}


class ResolutionGroup(BaseModel):
    group: str
    name: str
    community: str | None = None
    first_day: date | None = None
    last_day: date | None = None
    reported: int | None = Field(
        default=None,
        description="events reported in the window in the group (null when grouped by level)",
    )
    open: int | None = Field(
        default=None, description="of them, neither closed nor voided now (null by level)"
    )
    count: int
    mean: float | None
    p50: int | None
    p90: int | None
    p95: int | None
    max: int | None
    on_time: int
    on_time_rate: float | None
    small_sample: bool


class ResolutionOut(BaseModel):
    since: date
    until: date
    group_by: GroupBy
    time: ResolutionClock = Field(description="wall: wall-clock minutes; working: working "
                                  "minutes on the category's calendar")  # fmt: skip
    filters: dict[str, str]
    definitions: dict[str, str]
    total: ResolutionGroup
    groups: list[ResolutionGroup]


class IndicatorOut(BaseModel):
    code: str
    name: str
    name_en: str
    formula: str
    formula_zh: str
    numerator: float
    denominator: float
    value: float | None = Field(
        description="numerator / denominator, or the numerator of a count; null when the "
        "denominator is 0 (``note`` says so)"
    )
    kind: Literal["ratio", "count"]
    note: str | None = Field(default=None, description="why value is null")
    higher_is_better: bool
    scope: Literal["window", "map"]
    events: str | None = Field(description="drill-down into the events behind the numerator")
    drilldown: str = Field(description="drill-down (events, grid-days or grids)")
    misses: str | None = Field(
        default=None,
        description="drill-down into the misses: the denominator's minus the numerator's "
        "(null for counts and for the map's coverage, an area)",
    )


class IndicatorsOut(BaseModel):
    since: date
    until: date
    filters: dict[str, str]
    definitions: dict[str, str]
    indicators: list[IndicatorOut]


class PageOut(BaseModel):
    columns: list[str]
    items: list[dict[str, Any]]
    next_cursor: str | None


class ScoreLineOut(BaseModel):
    indicator: str
    name: str
    value: float | None
    weight: float
    full_at: float
    zero_at: float
    points: float | None
    applicable: bool
    how: str


class ScoredOut(BaseModel):
    kind: Literal["grid", "community", "subdistrict"]
    code: str
    name: str
    community: str | None
    score: float | None
    grade: str | None
    notes: list[str]
    lines: list[ScoreLineOut]


class ScorecardOut(BaseModel):
    since: date
    until: date
    weights: str
    grades: list[dict[str, Any]]
    grids: list[ScoredOut]
    communities: list[ScoredOut]
    subdistricts: list[ScoredOut] = Field(
        description="each subdistrict (街道) graded as a whole (its grids' counters summed), as "
        "the seed's evaluation grades it"
    )


def _served(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    output: Output,
    *,
    kind: str,
    scope: Scope,
    title: str | None = None,
) -> Response:
    """A table as a CSV or XLSX attachment named after its kind and window, with an ASCII file
    name and its RFC 5987 twin. CSV is streamed as it is read; XLSX is written to a temporary
    file first (so a table too large for a sheet is a 413, not a cut file), then streamed."""
    basename = f"{kind}_{scope.since.isoformat()}_{scope.until.isoformat()}"
    zh = output.headers == "zh"
    if output.format == "csv":
        body: Iterator[bytes] = exports.csv_chunks(columns, rows, zh=zh)
        filename, media_type = f"{basename}.csv", exports.CSV_TYPE
    else:
        workbook = exports.xlsx_file(columns, rows, zh=zh, title=title or kind)
        body = _chunks(workbook)
        filename, media_type = f"{basename}.xlsx", exports.XLSX_TYPE
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return StreamingResponse(
        body, media_type=media_type, headers={"Content-Disposition": disposition}
    )


def _chunks(file: IO[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    with file:
        while chunk := file.read(size):
            yield chunk


@router.get("/resolution", response_model=ResolutionOut, responses={**EXPORTS, **problems(413)})
def resolution(
    session: ReadSessionDep,
    _: Reader,
    scope: FilteredWindow,
    output: OutputDep,
    group_by: GroupBy = GroupBy.grid,
    time: Annotated[
        ResolutionClock,
        Query(
            description="wall (default): wall-clock minutes; working: working minutes on "
            "each event's category calendar"
        ),  # fmt: skip
    ] = ResolutionClock.wall,
) -> Any:
    """Report → close minutes per group, in wall-clock or working time: count, mean, p50, p90,
    p95, max, on-time rate; and the group's reported and still-open events (not by level)."""
    table = resolution_table(session=session, scope=scope, group_by=group_by, clock=time)
    rows = [r.as_dict() for r in table.rows]
    if output.export:
        columns = ["group", "name"]
        if group_by is GroupBy.grid:
            columns.append("community")
        if group_by.is_time:
            columns += ["first_day", "last_day"]
        if group_by is not GroupBy.level:
            columns += ["reported", "open"]
        columns += [
            "count", "mean", "p50", "p90", "p95", "max", "on_time", "on_time_rate",
            "small_sample",
        ]  # fmt: skip
        return _served(
            columns,
            [*rows, table.total.as_dict()],
            output,
            kind=f"resolution_by_{group_by.value}"
            + ("_working" if time is ResolutionClock.working else ""),
            scope=scope,
            title=f"resolution by {group_by.value}",
        )
    return ResolutionOut(
        since=scope.since,
        until=scope.until,
        group_by=group_by,
        time=time,
        filters=scope.filters(),
        definitions=DEFINITIONS,
        total=ResolutionGroup(**table.total.as_dict()),
        groups=[ResolutionGroup(**r) for r in rows],
    )


def _indicator_out(v: IndicatorValue, scope: Scope) -> IndicatorOut:
    query = {"since": scope.since.isoformat(), "until": scope.until.isoformat(), **scope.filters()}
    link = f"/api/v1/stats/indicators/{v.indicator.code}/events?{urlencode(query)}"
    return IndicatorOut(
        code=v.indicator.code,
        name=v.indicator.name,
        name_en=v.indicator.name_en,
        formula=v.indicator.formula,
        formula_zh=FORMULAS_ZH[v.indicator.code],
        numerator=v.numerator,
        denominator=v.denominator,
        value=v.value,
        kind=v.indicator.kind.value,
        note=v.note,
        higher_is_better=v.indicator.higher_is_better,
        scope="window" if v.indicator.source is not Source.map else "map",
        events=link if v.indicator.source in (Source.events, Source.audit, Source.intake) else None,
        drilldown=link,
        misses=None
        if v.indicator.kind is Kind.COUNT or v.indicator.code == "coverage"
        else f"{link}&part=misses",
    )


class SupervisionCount(BaseModel):
    group: str = Field(description="grid (key: its id) or department")
    key: int | str | None
    raised: int
    acknowledged: int


@router.get("/supervision", response_model=list[SupervisionCount])
def supervision_counts(session: ReadSessionDep, _: Reader, scope: Window) -> list[SupervisionCount]:
    """督办 notices raised per grid and per department over the window's days, and how many
    are acknowledged."""
    start, end = bounds(scope)
    return [
        SupervisionCount(group=c.group, key=c.key, raised=c.raised, acknowledged=c.acknowledged)
        for c in supervision.counts(session, since=start, until=end)
    ]


class ProcessActionsOut(BaseModel):
    request_extension: int = Field(description="延期申请 rows")
    approve_extension: int = Field(description="延期批准 rows (each names its approver)")
    refuse_extension: int = Field(description="延期驳回 rows")
    request_parking: int = Field(description="挂账申请 rows")
    approve_parking: int = Field(description="挂账批准 rows")
    refuse_parking: int = Field(description="挂账驳回 rows")
    unpark: int = Field(description="挂账解除 rows")
    return_: int = Field(alias="return", description="回退 rows")
    reopen: int = Field(description="重开 rows")

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class ProcessCasesOut(BaseModel):
    extended: int = Field(description="cases with at least one approved extension")
    parked: int = Field(description="cases parked with approval at least once")
    returned: int = Field(description="cases returned to the command centre at least once")
    reopened: int = Field(description="cases reopened after closing at least once")


class ProcessRatesOut(BaseModel):
    extension_rate: float | None = Field(description="延期率: extended / dispatched_cases")
    parking_rate: float | None = Field(description="挂账率: parked / dispatched_cases")
    return_rate: float | None = Field(description="回退率: returned / dispatched_cases")
    reopen_rate: float | None = Field(description="重开率: reopened / dispatched_cases")


class ProcessParkingOut(BaseModel):
    """挂账时长: parked time, reported apart (it never counts against the handler)."""

    cases: int = Field(description="cases with at least one parking period")
    periods: int = Field(description="parking periods (approve_parking → unpark or void)")
    open: int = Field(description="periods not lifted yet (counted up to now)")
    minutes_total: float = Field(description="wall-clock minutes parked, all periods")
    minutes_p50: float | None = Field(description="median minutes of a period")
    minutes_p90: float | None = Field(description="90th percentile minutes of a period")


class ProcessRowOut(BaseModel):
    code: str
    name: str
    dispatched_cases: int = Field(description="events of the group reported in the window and "
                                  "dispatched (per department: that it held; the rates' "
                                  "denominator)")  # fmt: skip
    actions: ProcessActionsOut
    cases: ProcessCasesOut
    rates: ProcessRatesOut
    parking: ProcessParkingOut


class ProcessOut(BaseModel):
    group_by: str
    rows: list[ProcessRowOut]
    definitions: dict[str, str] = Field(
        description="each rate's formula (FORMULAS_ZH, as /stats/indicators shows it), the "
        "department attribution and the parked minutes"
    )


ProcessGroup = Literal["grid", "community", "subdistrict", "category", "department"]
assert set(get_args(ProcessGroup)) == set(GROUPS)

#: What ``/stats/process`` counts beside the rates (their formulas are FORMULAS_ZH).
PROCESS_DEFINITIONS: Mapping[str, str] = {
    "department": "按部门：每个动作归于动作发生时持有该案件的职能部门（事件在该动作之前最近一次"
    "变更的 department）；部门的已派遣案件数 = 窗口内曾由该部门持有的案件数；网格、社区、"
    "街道指挥中心持有时的动作不计入任何部门，经两个部门的案件两处都计",
    "parked_minutes": "挂账时长 = 每个挂账期从挂账批准（approve_parking）到离开挂账状态（unpark "
    "解除或 void 作废）的自然时间（分钟）；尚未解除的计到当前时刻；统计窗口内上报的事件的所有"
    "挂账期：合计、中位数（p50）、90 分位（p90）；挂账时间不计入处置时限",
}


@router.get("/process", response_model=ProcessOut, response_model_by_alias=True)
def process(
    session: ReadSessionDep,
    _: Reader,
    scope: PlaceWindow,
    now: Now,
    group_by: ProcessGroup = "grid",
) -> ProcessOut:
    """延期 (extension), 挂账 (parking), 回退 (return) and 重开 (reopen) per grid, community,
    category or department: the actions in the audit log of the events reported in the window
    (as the indicators count them: every action of those events, whenever it came), the cases
    with each, and their rates per dispatched case — the indicators 延期率, 挂账率, 回退率,
    重开率 per group (a grid's, community's or category's rows sum to the indicators' numerators
    and denominators). Per department, an action belongs to the department that held the case
    when it was taken. ``parking``: the parked time of the group's parking periods (挂账时长,
    reported apart; a period not lifted yet counts up to now). ``definitions`` says each."""
    rows = process_counts(session, scope, group_by, now=now)
    return ProcessOut(
        group_by=group_by,
        rows=[
            ProcessRowOut(
                code=r.code,
                name=r.name,
                dispatched_cases=r.dispatched_cases,
                actions=ProcessActionsOut.model_validate(dict(r.actions)),
                cases=ProcessCasesOut(
                    extended=r.cases["extended_cases"],
                    parked=r.cases["parked_cases"],
                    returned=r.cases["returned_cases"],
                    reopened=r.cases["reopened_cases"],
                ),
                rates=ProcessRatesOut.model_validate(
                    {rate: r.rate(counter) for rate, counter in CASE_COUNTERS.items()}
                ),
                parking=ProcessParkingOut(
                    cases=r.parking.cases,
                    periods=r.parking.periods,
                    open=r.parking.open,
                    minutes_total=r.parking.minutes_total,
                    minutes_p50=r.parking.minutes_p50,
                    minutes_p90=r.parking.minutes_p90,
                ),
            )
            for r in rows
        ],
        definitions={
            **{rate: FORMULAS_ZH[rate] for rate in CASE_COUNTERS},
            **PROCESS_DEFINITIONS,
        },
    )


class CategoryReturnsOut(BaseModel):
    category: str
    name: str
    returns: int = Field(description="回退: sent back to the command centre as not theirs")
    dispatches: int = Field(description="dispatches of the category recorded in the window")
    rate: float | None = Field(description="returns / dispatches (误派率)")


@router.get("/returns", response_model=list[CategoryReturnsOut])
def returns(session: ReadSessionDep, _: Reader, scope: Window) -> list[CategoryReturnsOut]:
    """回退 per category over the window's days: the mis-dispatches, beside the dispatches."""
    return [
        CategoryReturnsOut(
            category=r.category, name=r.name, returns=r.returns, dispatches=r.dispatches,
            rate=r.rate,
        )
        for r in returns_by_category(session, scope)
    ]  # fmt: skip


@router.get("/indicators", response_model=IndicatorsOut)
def indicators(
    session: ReadSessionDep, _: Reader, scope: PlaceWindow, output: OutputDep, now: Now
) -> Any:
    """Every DESIGN §7 indicator with numerator, denominator, value and its drill-down."""
    report = indicator_report(session=session, scope=scope, now=now)
    out = [_indicator_out(v, scope) for v in report.values]
    if output.export:
        # the formula in the headers' language: Chinese beside Chinese headers
        formula = "formula_zh" if output.headers == "zh" else "formula"
        columns = ["code", "name", "numerator", "denominator", "value", formula]
        return _served(
            columns, [o.model_dump() for o in out], output, kind="indicators", scope=scope
        )
    return IndicatorsOut(
        since=scope.since,
        until=scope.until,
        filters=scope.filters(),
        definitions={
            "window": DEFINITIONS["window"],
            "on_time_dispatch": "first dispatch by the event's dispatch deadline "
            "(dispatch_due_at, the 派遣 stage clock on the category's calendar); events "
            "registered before migration 0027 have none: within "
            "stats_setting.dispatch_limit_minutes of the report",
            "coverage": "coverage and staffing describe the map and the roster now; with grid= "
            "or community=, those grids: the part of their own area within the jurisdiction / "
            "their own area, and their staffing",
            "on_time_handling": "按期处置率 measures the last fix against the original promise "
            "(promised_due_at: the resolve deadline of the first dispatch, moved only by a "
            "suspension); on_time_handling_stage measures it against the stage clock it was "
            "made on (due_at, restarted by rework, re-dispatch, escalation and each breach)",
            "audit": "立案, 核查 and process indicators count the audit log: registration "
            "within stats_setting.register_limit_minutes of the report; a review by the review "
            "deadline of the fix it decides (review_due_at, the 核查 stage clock on the "
            "category's calendar; a fix from before migration 0027 has none: within "
            "stats_setting.review_limit_minutes of it)",
            "stages": "the national stages 立案/核实 → 派遣 → 处置 → 核查 → 结案 and their "
            "on-time rates: 按时核实率 (on_time_verification, against the 立案/核实 stage "
            "clock's deadline, verify_due_at), 按时派遣率, 按期处置率, 按时核查率 "
            "(on_time_review). 结案 is the review's approval, timed by the review clock: "
            "按时核查率 is the closure stage's on-time rate; 按期结案率 is the whole case, "
            "report → close within the category's resolve time",
        },
        indicators=out,
    )


IndicatorCode = Annotated[
    str,
    Path(
        description="indicator code: " + ", ".join(i.code for i in INDICATORS),
        max_length=32,
    ),
]


@router.get(
    "/indicators/{code}/events", response_model=PageOut, responses={**EXPORTS, **problems(404, 413)}
)
def indicator_events(
    session: ReadSessionDep,
    _: Reader,
    code: IndicatorCode,
    scope: PlaceWindow,
    output: OutputDep,
    wanted: RowsDep,
    now: Now,
    part: Annotated[
        Part,
        Query(
            description="numerator: what stands behind it; misses: the denominator's minus the "
            "numerator's (events due that did not make it, grid-days without a patrol, grids "
            "not fully staffed)"
        ),
    ] = Part.numerator,
) -> Any:
    """What stands behind an indicator's numerator, or its misses (``part=misses``): events
    (or grid-days for patrol coverage, grids for coverage and staffing), by id, paginated;
    csv/xlsx export all of them (or the first ``limit``), streamed."""
    listing = drilldown(code=code, scope=scope, cursor=wanted.cursor, now=now, part=part)
    if output.export:
        return _served(
            listing.columns,
            stream_rows(session, listing, wanted.limit),
            output,
            kind=f"{code}_{part.value}",
            scope=scope,
            title=code,
        )
    table = page(session, listing, wanted.limit or DEFAULT_LIMIT)
    return PageOut(columns=list(table.columns), items=table.items, next_cursor=table.next_cursor)


@router.get(
    "/events", response_model=PageOut, name="stats_events", responses={**EXPORTS, **problems(413)}
)
def events(
    session: ReadSessionDep,
    _: Reader,
    scope: FilteredWindow,
    output: OutputDep,
    wanted: RowsDep,
    status: Status | None = None,
) -> Any:
    """The event list of a window (reported since..until), by id; csv/xlsx export all of it
    (or the first ``limit``), streamed."""
    listing = event_list(
        scope=scope, status=None if status is None else status.value, cursor=wanted.cursor
    )
    if output.export:
        found = stream_rows(session, listing, wanted.limit)
        return _served(listing.columns, found, output, kind="events", scope=scope)
    table = page(session, listing, wanted.limit or DEFAULT_LIMIT)
    return PageOut(columns=list(table.columns), items=table.items, next_cursor=table.next_cursor)


def _how(value: float | None, weight: float, full: float, zero: float, points: float | None) -> str:
    if value is None or points is None:
        return "no data in the window: left out, the rest rescaled to 100"
    direction = "≥" if full > zero else "≤"
    return (
        f"{value:.4f}: full {weight:g} points at {direction} {full:g}, none at {zero:g}, "
        f"linear between → {points:g}"
    )


def _scored_out(unit: ScoredUnit) -> ScoredOut:
    names = {i.code: i.name for i in INDICATORS}
    return ScoredOut(
        kind=cast(Literal["grid", "community", "subdistrict"], unit.kind),
        code=unit.code,
        name=unit.name,
        community=unit.community,
        score=unit.result.score,
        grade=unit.result.grade,
        notes=list(unit.result.notes),
        lines=[
            ScoreLineOut(
                indicator=line.rule.indicator,
                name=names[line.rule.indicator],
                value=line.value,
                weight=line.rule.weight,
                full_at=line.rule.full_at,
                zero_at=line.rule.zero_at,
                points=line.points,
                applicable=line.applicable,
                how=_how(
                    line.value, line.rule.weight, line.rule.full_at, line.rule.zero_at, line.points
                ),
            )
            for line in unit.result.lines
        ],
    )


@router.get("/scorecard", response_model=ScorecardOut, responses={**EXPORTS, **problems(413)})
def scorecard(
    session: ReadSessionDep, _: Reader, scope: Window, output: OutputDep, now: Now
) -> Any:
    """Each grid's and community's 100-point score, and each subdistrict's as a whole (weights:
    data/scorecard.json), graded 优 ≥ 90, 良 80–90, 中 60–80, 差 < 60, with how each point was
    earned."""
    units, card = scorecard_units(session=session, scope=scope, now=now)
    if output.export:
        codes = [r.indicator for r in card.rules]
        columns = ["kind_name", "kind", "code", "name", "community", "score", "grade"]
        columns += [f"value_{c}" for c in codes] + [f"points_{c}" for c in codes]
        rows = []
        for u in units:
            row: dict[str, Any] = {
                "kind_name": UNIT_LABELS[u.kind], "kind": u.kind, "code": u.code, "name": u.name,
                "community": u.community,
                "score": u.result.score, "grade": u.result.grade,
            }  # fmt: skip
            for line in u.result.lines:
                row[f"value_{line.rule.indicator}"] = line.value
                row[f"points_{line.rule.indicator}"] = line.points
            rows.append(row)
        return _served(columns, rows, output, kind="scorecard", scope=scope)
    return ScorecardOut(
        since=scope.since,
        until=scope.until,
        weights="data/scorecard.json",
        grades=[{"grade": g, "min": m} for m, g in card.grades],
        grids=[_scored_out(u) for u in units if u.kind == "grid"],
        communities=[_scored_out(u) for u in units if u.kind == "community"],
        subdistricts=[_scored_out(u) for u in units if u.kind == "subdistrict"],
    )


Evaluator = Annotated[Principal, Depends(RolesAllowed(Role.EVALUATOR))]


@router.get(
    "/bundle",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {"schema": BINARY}}, "description": "the bundle (zip)"}
    },
)
def bundle(session: ReadSessionDep, _: Evaluator, scope: Window) -> Any:
    """The evaluation bundle of the window (evaluators only): the scorecard's raw tables as CSV,
    definitions, published figures, day heads, a manifest of SHA-256 and ``check.py``, which
    recomputes everything with standard-library Python. Built in a temporary file, then sent."""
    out = tempfile.TemporaryFile()
    write_bundle(session, scope, out)
    out.seek(0)
    name = f"wangge-bundle-{scope.since.isoformat()}-{scope.until.isoformat()}.zip"
    return StreamingResponse(
        _chunks(out),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
