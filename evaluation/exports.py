"""CSV and XLSX of any statistics table or event list, with English or Chinese headers.

CSV is UTF-8 with a byte-order mark (Excel then reads the Chinese right); XLSX is written by
openpyxl in write-only mode. The API serves both as attachments.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook

from domain.evaluation.indicators import INDICATORS

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

HEADERS_ZH: Mapping[str, str] = {
    # resolution tables
    "group": "分组",
    "name": "名称",
    "community": "所属社区",
    "first_day": "起始日",
    "last_day": "截止日",
    "count": "结案数",
    "mean": "平均用时(分钟)",
    "p50": "中位数P50(分钟)",
    "p90": "P90(分钟)",
    "p95": "P95(分钟)",
    "max": "最长用时(分钟)",
    "on_time": "按期结案数",
    "on_time_rate": "按期结案率",
    "small_sample": "样本不足",
    # indicators
    "code": "编码",
    "indicator": "指标",
    "numerator": "分子",
    "denominator": "分母",
    "value": "指标值",
    "formula": "计算公式",
    # events
    "id": "事件编号",
    "client_id": "客户端编号",
    "grid_code": "网格编码",
    "grid_name": "网格名称",
    "category": "类别代码",
    "category_name": "事件类别",
    "status": "状态",
    "level": "处置层级",
    "source": "来源",
    "reporter_id": "上报人",
    "assignee_id": "处置人",
    "assignee_role": "处置人角色",
    "department": "职能部门",
    "created_at": "上报时间",
    "dispatched_at": "派遣时间",
    "acknowledged_at": "签收时间",
    "resolved_at": "处置时间",
    "closed_at": "结案时间",
    "voided_at": "作废时间",
    "due_at": "处置时限",
    "resolution_minutes": "结案用时(分钟)",
    "closed_on_time": "按期结案",
    "rework_count": "返工次数",
    "redispatch_count": "改派次数",
    "escalation_count": "升级次数",
    # drill-downs of patrols and the map
    "day": "日期",
    "patrols": "巡查次数",
    "area_km2": "面积(km²)",
    "staffed": "一长两员配齐",
    # scorecard
    "kind": "类型",
    "score": "得分",
    "grade": "等级",
    **{f"points_{i.code}": f"{i.name}得分" for i in INDICATORS},
    **{f"value_{i.code}": i.name for i in INDICATORS},
}


def header(key: str, zh: bool) -> str:
    return HEADERS_ZH.get(key, key) if zh else key


def _cell(value: Any, zh: bool) -> Any:
    if isinstance(value, bool):
        return ("是" if value else "否") if zh else ("true" if value else "false")
    return value


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, zh: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([header(c, zh) for c in columns])
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row.get(c), zh) for c in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, zh: bool, title: str
) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "sheet")
    sheet.append([header(c, zh) for c in columns])
    for row in rows:
        sheet.append([_cell(row.get(c), zh) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class Export:
    """A table written as a file: its bytes, media type and file name."""

    body: bytes
    media_type: str
    filename: str


def export(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    fmt: str,
    zh: bool,
    basename: str,
    title: str,
) -> Export:
    """The table as CSV or XLSX (``fmt`` is ``csv`` or ``xlsx``)."""
    if fmt == "csv":
        return Export(to_csv(columns, rows, zh=zh), CSV_TYPE, f"{basename}.csv")
    if fmt == "xlsx":
        return Export(to_xlsx(columns, rows, zh=zh, title=title), XLSX_TYPE, f"{basename}.xlsx")
    raise ValueError(f"unknown export format {fmt!r}")
