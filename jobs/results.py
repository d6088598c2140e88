"""A job's results as a table: every input column in file order, then the
kind's result fields, then ``error``; one line per processed row, in row order.

CSV is UTF-8 with a BOM (Excel otherwise reads it as GBK) and is streamed.
Excel (.xlsx) is written by openpyxl in write-only mode, which is slow (about
3,500 rows/s without lxml: a minute for 200,000 rows), so the worker writes it
once when a job succeeds and downloads serve that file; for a cancelled or
failed job it is written on the first download. Input text that looks like a
formula (``=…``) or an error code stays text in the workbook; in the CSV, text that a
spreadsheet would run as a formula gets a leading apostrophe (:func:`gis_core.spreadsheet.inert`).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

from gis_core.spreadsheet import inert

from .models import Job
from .registry import get_kind
from .services import job_dir

__all__ = ["RESULT_FORMATS", "result_csv", "result_header", "result_records", "result_xlsx"]

RESULT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
XLSX_MAX_CHARS = 32_767  # Excel's limit for one cell


def result_header(job: Job) -> list[str]:
    return [*job.columns, *get_kind(job.kind).result_columns, "error"]


def result_records(job: Job) -> Iterator[list[Any]]:
    """Rows of values under :func:`result_header` (None where there is nothing)."""
    kind = get_kind(job.kind)
    width = len(job.columns)
    rows = job.rows.order_by("row_no").values_list("input", "result", "error")
    for values, result, error in rows.iterator(chunk_size=2000):
        flat = kind.flatten(result) if result else {}
        yield [
            *(list(values[:width]) + [""] * (width - len(values))),
            *(flat.get(c) for c in kind.result_columns),
            error or None,
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def result_csv(job: Job) -> Iterator[str]:
    """The CSV, line by line (for a streaming response)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(result_header(job))
    for record in result_records(job):
        yield writer.writerow(["" if v is None else inert(v) if isinstance(v, str) else v for v in record])


def _xlsx_value(sheet, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_MAX_CHARS]  # control characters: openpyxl refuses them
    if value.startswith("=") or value in ERROR_CODES:
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"  # text as text, not a formula or an error value
        return cell
    return value


def result_xlsx(job: Job) -> Path:
    """The workbook of a finished job (written once, then reused)."""
    path = job_dir(job.pk) / "result.xlsx"
    if path.exists():
        return path
    book = Workbook(write_only=True)
    sheet = book.create_sheet("结果")
    sheet.append([_xlsx_value(sheet, h) for h in result_header(job)])
    for record in result_records(job):
        sheet.append([_xlsx_value(sheet, v) for v in record])
    # written aside and renamed: a download never sees half a file, concurrent writers do no harm
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".xlsx.part")
    try:
        with os.fdopen(fd, "wb") as out:
            book.save(out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
