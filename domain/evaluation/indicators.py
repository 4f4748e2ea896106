"""The indicators as data: each a ratio of linear combinations of named counters (or a count).

DESIGN §7's indicators plus those of national practice (GB/T 30428 数字化城市管理信息系统,
CJ/T 292 城市市政综合监管信息系统 评价 style: 立案数, 按时立案率, 准确立案率, 派遣数, 按时派遣率,
准确派遣率, 结案数, 应结案数, 结案率, 按期结案率 over 应结案数 or over 结案数, 返工率, 按时核查率,
有效上报率), each with its stated numerator and denominator (``formula``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    """Where an indicator's counters come from (and what its drill-down lists)."""

    events = "events"  # stats_daily counters of the events reported in the window
    audit = "audit"  # the audit log of the events reported in the window (AUDIT_COUNTERS)
    patrols = "patrols"  # grid-days with a patrol that walked
    map = "map"  # grids.service.coverage (the map and the roster, not the window)
    intake = "intake"  # the reports received in the window and their verification


class Kind(StrEnum):
    RATIO = "ratio"  # numerator / denominator, None when the denominator is 0
    COUNT = "count"  # the numerator itself (no denominator)


#: Counters of the audit log (``evaluation.auditcounts``; kept per report day like the others,
#: migrations 0024 and 0028), per event reported in the window: it was registered (立案: reached
#: ``registered``), registered within ``register_limit_minutes`` of the report, registered and
#: then voided; its reviews (核查 of a fix), and those by the review deadline of the fix (its
#: stored ``review_due_at``; for a fix from before migration 0027, within
#: ``review_limit_minutes`` of it: ``stats_setting``); whether it was dispatched (the
#: denominator of the process rates), had an extension approved (延期), was parked with
#: approval (挂账), was returned to the command centre (回退), was reopened (重开).
AUDIT_COUNTERS: tuple[str, ...] = (
    "ever_registered", "registered_on_time", "voided_after_registration", "reviews",
    "reviews_on_time", "dispatched_cases", "extended_cases", "parked_cases", "returned_cases",
    "reopened_cases",
)  # fmt: skip


@dataclass(frozen=True)
class Indicator:
    """A ratio ``sum(numerator) / sum(denominator)`` of named counters (coefficient per name),
    or a count (``kind``: the numerator). For event and audit indicators, the drill-down lists
    the events whose own numerator contribution is positive. ``national``: the name national
    practice gives it, when it is one of those."""

    code: str
    name: str
    name_en: str
    numerator: Mapping[str, int]
    denominator: Mapping[str, int]
    source: Source
    formula: str
    higher_is_better: bool = True
    kind: Kind = Kind.RATIO


def _c(**coefficients: int) -> Mapping[str, int]:
    return dict(coefficients)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "coverage", "网格化管理覆盖率", "grid coverage",
        _c(covered_area_km2=1), _c(jurisdiction_area_km2=1), Source.map,
        "area covered by grids / jurisdiction area (km²)",
    ),
    Indicator(
        "staffing", "一长两员配备率", "staffing",
        _c(staffed_grids=1), _c(grids=1), Source.map,
        "grids with one head and two members / grids",
    ),
    Indicator(
        "patrol_coverage", "巡查覆盖率", "patrol coverage",
        _c(patrolled_grid_days=1), _c(grid_days=1), Source.patrols,
        "grid-days with at least one patrol (track or GPS point) / grid-days in the window",
    ),
    Indicator(
        "valid_report", "有效上报率", "valid-report rate",
        _c(reported=1, voided=-1), _c(reported=1), Source.events,
        "reports not voided / reports",
    ),
    Indicator(
        "on_time_dispatch", "按时派遣率", "on-time dispatch",
        _c(dispatched_on_time=1), _c(dispatched=1), Source.events,
        "events whose first dispatch came by their dispatch deadline (dispatch_due_at: the 派遣 "
        "stage clock, the category's dispatch_minutes of working time on its calendar from "
        "registration; an event registered before migration 0027 has none: within "
        "stats_setting.dispatch_limit_minutes of the report) / events dispatched",
    ),
    Indicator(
        "accurate_dispatch", "准确派遣率", "accurate dispatch",
        _c(dispatched=1), _c(dispatched=1, redispatches=1), Source.events,
        "(派遣数 − 返工数) / 派遣数: dispatches = first dispatches + re-dispatches, 返工数 = "
        "re-dispatches (a wrong dispatch is sent back and dispatched again)",
    ),
    Indicator(
        "on_time_handling", "按期处置率", "on-time handling",
        _c(handled_on_promise=1), _c(handled=1), Source.events,
        "resolved or closed events whose (last) fix came at or before the original promise — the "
        "resolve deadline set at the first dispatch, moved only by a pause (suspension, parking) "
        "and to an approved extension's deadline; a reopened case's new cycle makes a new one — / "
        "resolved or closed events",
    ),
    Indicator(
        "on_time_handling_stage", "按期处置率（按当前阶段时限）", "on-time handling (stage clock)",
        _c(handled_on_time=1), _c(handled=1), Source.events,
        "resolved or closed events whose (last) fix came at or before the deadline of the stage "
        "clock it was made on — restarted by rework, re-dispatch, escalation and each breach — "
        "/ resolved or closed events (on_time_handling measures against the original promise)",
    ),
    Indicator(
        "closure_rate", "结案率", "closure rate",
        _c(closed=1), _c(reported=1, voided=-1), Source.events,
        "结案数 / 应结案数 (closed / reports not voided)",
    ),
    Indicator(
        "on_time_closure", "按期结案率", "on-time closure",
        _c(closed_on_time=1), _c(reported=1, voided=-1), Source.events,
        "closed within the category's resolve time of the report / 应结案数",
    ),
    Indicator(
        "rework_rate", "返工率", "rework rate",
        _c(reworks=1), _c(reworks=1, handled=1), Source.events,
        "rework count (fixes rejected at review + closed cases reopened) / fixes submitted "
        "(rework count + resolved or closed events)",
        higher_is_better=False,
    ),
    Indicator(
        "kept_in_grid", "小事不出网格", "kept in grid",
        _c(closed_level0=1), _c(closed=1), Source.events,
        "closed at level 0 (grid) / closed",
    ),
    Indicator(
        "kept_in_subdistrict", "大事不出街道", "kept in subdistrict",
        _c(closed_le2=1), _c(closed=1), Source.events,
        "closed at level ≤ 2 (grid, community, command centre) / closed",
    ),
    Indicator(
        "escalation_rate", "升级率", "escalation rate",
        _c(escalations=1), _c(dispatched=1), Source.events,
        "escalations up the ladder (a handler's request, a missed deadline, and a dispatch to a "
        "department) / events dispatched",
        higher_is_better=False,
    ),
    Indicator(
        "registered_count", "立案数", "cases registered",
        _c(ever_registered=1), _c(), Source.audit,
        "reports of the window that were registered (reached 立案 registered)", kind=Kind.COUNT,
    ),
    Indicator(
        "on_time_registration", "按时立案率", "on-time registration",
        _c(registered_on_time=1), _c(ever_registered=1), Source.audit,
        "registered within stats_setting.register_limit_minutes of the report / 立案数",
    ),
    Indicator(
        "accurate_registration", "准确立案率", "accurate registration",
        _c(ever_registered=1, voided_after_registration=-1), _c(ever_registered=1), Source.audit,
        "(立案数 − registered then voided) / 立案数",
    ),
    Indicator(
        "dispatch_count", "派遣数", "dispatches",
        _c(dispatched=1, redispatches=1), _c(), Source.events,
        "first dispatches + re-dispatches", kind=Kind.COUNT,
    ),
    Indicator(
        "closed_count", "结案数", "cases closed",
        _c(closed=1), _c(), Source.events, "closed events", kind=Kind.COUNT,
    ),
    Indicator(
        "due_count", "应结案数", "cases due to close",
        _c(reported=1, voided=-1), _c(), Source.events,
        "reports not voided (the denominator of 结案率 and 按期结案率)", kind=Kind.COUNT,
    ),
    Indicator(
        "on_time_closure_of_closed", "按期结案率（按结案数）", "on-time closure of closed",
        _c(closed_on_time=1), _c(closed=1), Source.events,
        "closed within the category's resolve time of the report / 结案数 (the variant over "
        "closed cases; on_time_closure is over 应结案数)",
    ),
    Indicator(
        "on_time_review", "按时核查率", "on-time review",
        _c(reviews_on_time=1), _c(reviews=1), Source.audit,
        "reviews (核查) of a fix that came by the fix's review deadline (review_due_at: the 核查 "
        "stage clock, the category's review_minutes of working time on its calendar from the "
        "fix; a fix from before migration 0027 has none: within "
        "stats_setting.review_limit_minutes of it) / reviews. An approving review is the close "
        "(结案), so this is also the closure stage's on-time rate; 按期结案率 measures the "
        "whole case (report → close)",
    ),
    Indicator(
        "missed_report", "漏报率", "missed-report rate",
        _c(public_registered=1), _c(registered=1), Source.events,
        "events first reported by the public or the hotline (registered, not linked to a staff "
        "report) / registered events",
        higher_is_better=False,
    ),
    Indicator(
        "extension_rate", "延期率", "extension rate",
        _c(extended_cases=1), _c(dispatched_cases=1), Source.audit,
        "dispatched events with at least one approved extension (延期) / dispatched events",
        higher_is_better=False,
    ),
    Indicator(
        "parking_rate", "挂账率", "parking rate",
        _c(parked_cases=1), _c(dispatched_cases=1), Source.audit,
        "dispatched events parked (挂账) with approval at least once / dispatched events",
        higher_is_better=False,
    ),
    Indicator(
        "return_rate", "回退率", "return rate",
        _c(returned_cases=1), _c(dispatched_cases=1), Source.audit,
        "dispatched events returned (回退) to the command centre at least once as not the "
        "holder's / dispatched events",
        higher_is_better=False,
    ),
    Indicator(
        "reopen_rate", "重开率", "reopen rate",
        _c(reopened_cases=1), _c(dispatched_cases=1), Source.audit,
        "dispatched events reopened (重开) after closing at least once / dispatched events",
        higher_is_better=False,
    ),
    Indicator(
        "on_time_verification", "按时核实率", "on-time verification",
        _c(verified_on_time=1), _c(verifications_due=1), Source.intake,
        "public and hotline reports verified on site (confirmed, rejected or linked) by their "
        "deadline (public_report.verify_due_at: the 立案/核实 stage clock's deadline, the "
        "category's verify_minutes of working time on the grid level's calendar from receipt, "
        "the same instant as event.verify_due_at; a report from before migration 0032: "
        "verify_minutes of wall time) / those verified or past their deadline",
    ),
    Indicator(
        "valid_public_report", "公众有效上报率", "valid public reports",
        _c(public_valid=1), _c(public_decided=1), Source.intake,
        "public and hotline reports found real on site (confirmed, or a duplicate of an open "
        "event) / those verified",
    ),
    Indicator(
        "duplicate_share", "重复上报占比", "duplicate share",
        _c(linked_reports=1), _c(all_reports=1), Source.intake,
        "reports linked to an open event they duplicate / all reports (each source)",
        higher_is_better=False,
    ),
)  # fmt: skip

INDICATOR_BY_CODE: Mapping[str, Indicator] = {i.code: i for i in INDICATORS}

#: Each indicator's formula as an evaluator reads it (the exports with Chinese headers show it).
FORMULAS_ZH: Mapping[str, str] = {
    "coverage": "网格覆盖面积 ÷ 辖区面积（km²）；按网格或社区筛选时为所选网格："
    "其在辖区内的面积 ÷ 其自身面积",
    "staffing": "配齐一名网格长、两名网格员的网格数 ÷ 网格数",
    "patrol_coverage": "有巡查（轨迹或GPS点）的网格日数 ÷ 统计期内网格日数",
    "valid_report": "（上报数 − 作废数）÷ 上报数",
    "on_time_dispatch": "在派遣时限（派遣阶段时限：立案起按类别工作日历计的派遣时长；"
    "迁移0027之前立案的事件无此时限，按上报后 dispatch_limit_minutes）内首次派遣的事件数"
    " ÷ 已派遣事件数",
    "accurate_dispatch": "（派遣数 − 改派数）÷ 派遣数；派遣数 = 首次派遣数 + 改派数",
    "on_time_handling": "在原始承诺时限（首次派遣时的处置时限，仅挂起、挂账可顺延，批准延期后为"
    "延期时限，重开后按新周期重定）前提交处置的事件数 ÷ 已处置或已结案事件数",
    "on_time_handling_stage": "在当时所处阶段时限（返工、改派、升级、超时后重新起算）前提交处置的"
    "事件数 ÷ 已处置或已结案事件数",
    "closure_rate": "结案数 ÷ 应结案数（上报数 − 作废数）",
    "on_time_closure": "自上报起在类别处置时限内结案的事件数 ÷ 应结案数",
    "rework_rate": "返工次数（核查不通过退回 + 结案后重开）÷（返工次数 + 已处置或已结案事件数）",
    "kept_in_grid": "在网格层级（0级）结案的事件数 ÷ 结案数",
    "kept_in_subdistrict": "在街道及以下层级（0–2级：网格、社区、街道指挥中心）结案的事件数"
    " ÷ 结案数",
    "escalation_rate": "升级次数（处置人申请、超时升级、派往职能部门）÷ 已派遣事件数",
    "registered_count": "统计期内上报且已立案（到达“已立案”状态）的事件数",
    "on_time_registration": "上报后在立案时限（register_limit_minutes）内立案的事件数 ÷ 立案数",
    "accurate_registration": "（立案数 − 立案后作废数）÷ 立案数",
    "dispatch_count": "首次派遣数 + 改派数",
    "closed_count": "已结案事件数",
    "due_count": "上报数 − 作废数（结案率、按期结案率的分母）",
    "on_time_closure_of_closed": "自上报起在类别处置时限内结案的事件数 ÷ 结案数",
    "on_time_review": "在核查时限（核查阶段时限：处置提交起按类别工作日历计的核查时长；"
    "迁移0027之前提交的处置无此时限，按处置后 review_limit_minutes）内完成核查的次数"
    " ÷ 核查次数；核查通过即结案，故亦为结案阶段的按时率（按期结案率按上报至结案的全过程计）",
    "missed_report": "由公众或12345热线首先上报的已立案事件数 ÷ 已立案事件数",
    "extension_rate": "至少一次获批延期的已派遣事件数 ÷ 已派遣事件数",
    "parking_rate": "至少一次获批挂账的已派遣事件数 ÷ 已派遣事件数",
    "return_rate": "至少一次回退指挥中心（非本单位职责）的已派遣事件数 ÷ 已派遣事件数",
    "reopen_rate": "结案后至少重开一次的已派遣事件数 ÷ 已派遣事件数",
    "on_time_verification": "在核实时限（立案/核实阶段时限：收到上报起按网格层级工作日历计的"
    "核实时长；迁移0032之前的上报按自然时间）内完成现场核实（确认、驳回或关联）的公众及热线上报数"
    " ÷ 已核实或已超过核实时限的上报数",
    "valid_public_report": "经现场核实属实（确认，或为在办事件的重复上报）的公众及热线上报数"
    " ÷ 已核实数",
    "duplicate_share": "关联为在办事件重复上报的上报数 ÷ 全部上报数（各渠道）",
}
assert set(FORMULAS_ZH) == set(INDICATOR_BY_CODE), "every indicator has its Chinese formula"


@dataclass(frozen=True)
class IndicatorValue:
    """``note`` says why ``value`` is None (a published figure is never blank unexplained)."""

    indicator: Indicator
    numerator: float
    denominator: float
    value: float | None
    note: str | None = None


def combine(coefficients: Mapping[str, int], totals: Mapping[str, float]) -> float:
    return sum(k * totals.get(name, 0) for name, k in coefficients.items())


def evaluate(indicator: Indicator, totals: Mapping[str, float]) -> IndicatorValue:
    """The indicator's numerator, denominator and value (None when the denominator is 0)."""
    num = combine(indicator.numerator, totals)
    if indicator.kind is Kind.COUNT:
        return IndicatorValue(indicator, num, 0.0, num)
    den = combine(indicator.denominator, totals)
    if den:
        return IndicatorValue(indicator, num, den, round(num / den, 6))
    terms = " + ".join(indicator.denominator)
    note = f"no data: the denominator ({terms}) is 0 in the window"
    return IndicatorValue(indicator, num, den, None, note)
