"""Write the seeded Chinese working calendar (data/calendars/cn.json) from ``chinesecalendar``.

    .venv/bin/python scripts/calendar_from_chinesecalendar.py > data/calendars/cn.json

Every year the library knows (it refuses the others instead of guessing); holidays are the
library's weekday holidays, workdays its 调休 Saturdays and Sundays. The working hours are the
common government ones (08:30–12:00, 13:30–17:30; 14:00–18:00 in the afternoon from May to
September); edit the file for local hours. ``tests/unit/test_calendar.py`` checks that the file
and the library agree, so an upgraded library that knows a new year shows up as a failing test.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

import chinese_calendar


def seed() -> dict[str, Any]:
    holidays = sorted(d for d in chinese_calendar.holidays if d.isoweekday() <= 5)
    workdays = sorted(d for d in chinese_calendar.workdays if d.isoweekday() > 5)
    years = sorted({d.year for d in chinese_calendar.holidays})
    return {
        "code": "cn",
        "name": "中国法定工作日（国务院办公厅放假安排）",
        "time_zone": "Asia/Shanghai",
        "weekly": [1, 2, 3, 4, 5],
        "hours": [["08:30", "12:00"], ["13:30", "17:30"]],
        "seasons": [
            {"from": "05-01", "to": "09-30", "hours": [["08:30", "12:00"], ["14:00", "18:00"]]}
        ],
        "years": years,
        "holidays": [d.isoformat() for d in holidays if isinstance(d, date)],
        "workdays": [d.isoformat() for d in workdays],
    }


if __name__ == "__main__":
    items = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in seed().items()]
    sys.stdout.write("{\n" + ",\n".join(items) + "\n}\n")
