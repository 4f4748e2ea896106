"""CSV and XLSX of any statistics table or event list, with English or Chinese headers.

CSV is UTF-8 with a byte-order mark (Excel then reads the Chinese right) and is produced as a
stream of chunks, so memory stays flat however many rows there are. XLSX is typed (dates and
times as date cells in the service's time zone, booleans as booleans, numbers as numbers),
with a frozen header row, filters and column widths; openpyxl writes it in write-only mode to
a temporary file (flat memory too), which is then served; a sheet holds at most
``XLSX_MAX_ROWS`` rows, as Excel does.

Text from users (a category's name, a grid's) never becomes a formula in the reader's
spreadsheet: in XLSX such a text is a text cell; in CSV, which has no cell types, a text that
begins with a formula character gets a leading apostrophe (OWASP's advice on CSV injection).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from domain.evaluation.indicators import INDICATORS
from kernel.errors import TooLarge
from kernel.settings import get_settings

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Excel's last row is 1,048,576; one of them is the header.
XLSX_MAX_ROWS = 1_048_575
#: CSV is sent in chunks of about this many bytes.
CSV_CHUNK_BYTES = 64 * 1024
#: A text beginning with one of these is a formula to some spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

HEADERS_ZH: Mapping[str, str] = {
    # resolution tables
    "group": "分组",
    "name": "名称",
    "community": "所属社区",
    "first_day": "起始日",
    "last_day": "截止日",
    "reported": "上报数",
    "open": "未结案数",
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
    "formula_zh": "计算公式",
    # events
    "id": "事件编号",
    "client_id": "客户端编号",
    "grid_code": "网格编码",
    "grid_name": "网格名称",
    "category": "类别代码",
    "category_name": "事件类别",
    "status_name": "状态",
    "status": "状态代码",
    "level_name": "处置层级",
    "level": "层级代码",
    "source_name": "来源",
    "source": "来源代码",
    "reporter_id": "上报人编号",
    "reporter_name": "上报人",
    "assignee_id": "处置人编号",
    "assignee_name": "处置人",
    "assignee_role_name": "处置人角色",
    "assignee_role": "角色代码",
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
    "kind_name": "类型",
    "kind": "类型代码",
    "score": "得分",
    "grade": "等级",
    **{f"points_{i.code}": f"{i.name}得分" for i in INDICATORS},
    **{f"value_{i.code}": i.name for i in INDICATORS},
}


def header(key: str, zh: bool) -> str:
    return HEADERS_ZH.get(key, key) if zh else key


def _local(value: datetime) -> datetime:
    """An instant as the service's wall-clock time (Excel has no time zones)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(get_settings().tz).replace(tzinfo=None)


def _csv_cell(value: Any, zh: bool) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return ("是" if value else "否") if zh else ("true" if value else "false")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, zh: bool
) -> Iterator[bytes]:
    """The table as CSV, in chunks of about ``CSV_CHUNK_BYTES``: the first starts with the
    byte-order mark and the header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([header(c, zh) for c in columns])
    for row in rows:
        writer.writerow([_csv_cell(row.get(c), zh) for c in columns])
        if buffer.tell() >= CSV_CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, zh: bool) -> bytes:
    return b"".join(csv_chunks(columns, rows, zh=zh))


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """Typed as it is: openpyxl gives dates and times their number formats."""
    if isinstance(value, datetime):
        return _local(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def _width(key: str, title: str) -> float:
    """A column's width in characters: enough for its title (CJK characters count twice) and
    for the values its name says it holds."""
    shown = sum(2 if ord(ch) > 0x2E80 else 1 for ch in title)
    if key.endswith("_at"):
        least = 20  # 2026-01-02 03:04:05
    elif key in ("day", "first_day", "last_day") or key.endswith("_day"):
        least = 12
    elif key.endswith("name") or key in ("community", "formula", "formula_zh", "indicator"):
        least = 18
    else:
        least = 10
    return float(min(max(shown + 2, least), 60))


def write_xlsx(
    out: IO[bytes],
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    zh: bool,
    title: str,
) -> int:
    """Write the table as an XLSX workbook into ``out``; the number of rows written.
    ``TooLarge`` past ``XLSX_MAX_ROWS`` rows (nothing useful is left in ``out`` then)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "sheet")
    titles = [header(c, zh) for c in columns]
    for i, (key, name) in enumerate(zip(columns, titles, strict=True), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = _width(key, name)
    sheet.freeze_panes = "A2"
    sheet.append(titles)
    count = 0
    for row in rows:
        count += 1
        if count > XLSX_MAX_ROWS:
            sheet.close()  # finishes the sheet's temporary file instead of leaving it open
            raise TooLarge(
                f"more than {XLSX_MAX_ROWS} rows, the most a sheet holds: narrow the window or "
                "the filters, pass a limit, or export csv"
            )
        sheet.append([_xlsx_cell(sheet, row.get(c)) for c in columns])
    last = get_column_letter(max(len(columns), 1))
    sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    book.save(out)
    return count


def to_xlsx(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, zh: bool, title: str
) -> bytes:
    out = io.BytesIO()
    write_xlsx(out, columns, rows, zh=zh, title=title)
    return out.getvalue()


def xlsx_file(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], *, zh: bool, title: str
) -> IO[bytes]:
    """The workbook in a temporary file (deleted when closed), rewound for reading: what a
    large export is served from."""
    spool: IO[bytes] = tempfile.TemporaryFile(prefix="wangge-export-")  # noqa: SIM115
    try:
        write_xlsx(spool, columns, rows, zh=zh, title=title)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool
