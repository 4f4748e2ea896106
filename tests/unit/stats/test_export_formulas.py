"""Exports never turn a user's text into a formula (issue 19, finding 7): a category named
``=HYPERLINK(...)`` is a text cell in XLSX and an apostrophe-led text in CSV."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from evaluation.exports import to_csv, to_xlsx

HOSTILE = ['=HYPERLINK("http://evil.example/","点这里")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"]


@pytest.mark.parametrize("name", HOSTILE)
def test_xlsx_writes_formula_leading_text_as_text(name: str) -> None:
    data = to_xlsx(["id", "category_name"], [{"id": 1, "category_name": name}], zh=False, title="t")
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    cell = sheet.cell(row=2, column=2)
    assert cell.data_type == "s" and cell.value == name


@pytest.mark.parametrize("name", HOSTILE)
def test_csv_prefixes_formula_leading_text(name: str) -> None:
    text = to_csv(["category_name"], [{"category_name": name}], zh=False).decode("utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["category_name"] == "'" + name
