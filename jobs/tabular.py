"""Read an uploaded table (CSV or Excel .xlsx) as a header and numbered rows.

The same reader runs when the file is uploaded (to check it and count rows)
and in the worker (to process it), so row numbers are stable across restarts.
CSV text is UTF-8 (with or without BOM) or GBK/GB 18030, as for imports; the
delimiter is whichever of ``, ; tab |`` the header line uses most. Blank rows
are skipped and not numbered. A CSV row with more or fewer cells than the
header is *ragged*: it keeps its number and carries an error, and the job goes
on (only trailing empty cells beyond the header are forgiven).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gis_core.errors import InvalidInput

# one decoder for every uploaded text file in the project: UTF-8 (BOM or not), else GB 18030
from gis_core.imports.readers import decode_text

__all__ = ["TABLE_SUFFIXES", "Table", "TableRow", "find_column", "open_table", "table_format"]

TABLE_SUFFIXES = {".csv": "CSV", ".txt": "CSV", ".tsv": "CSV", ".xlsx": "Excel", ".xlsm": "Excel"}
DELIMITERS = (",", "\t", ";", "|")


@dataclass(frozen=True)
class TableRow:
    row_no: int  # 1-based among the data rows
    line: int  # line number in the file (CSV) or spreadsheet row; the header is line 1 usually
    values: list[str]  # aligned with the header (ragged rows: as read)
    error: str = ""


@dataclass
class Table:
    format: str
    columns: list[str]
    rows: Iterator[TableRow]  # lazy: read once


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 13912345678.0 is a phone number, not a float
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _blank(values: list[str]) -> bool:
    return not any(v.strip() for v in values)


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, cells) of every record, blank ones skipped."""
    if "\x00" in text:  # no text file holds NUL (and PostgreSQL could not store it)
        raise InvalidInput("文件含有二进制内容（NUL 字符），不是 CSV 文本", code="unreadable_file")
    first_line = next((line for line in io.StringIO(text) if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    previous_end = 0
    try:
        for cells in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not _blank(cells):
                yield start, [c.strip() for c in cells]
    except csv.Error as exc:
        raise InvalidInput(f"CSV 第 {reader.line_num} 行无法解析：{exc}", code="unreadable_file") from None


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
        rows = book.worksheets[0].iter_rows(values_only=True)
    except Exception as exc:  # any damage in an untrusted zip of XML: the answer is a 400, never a 500
        raise InvalidInput(f"无法读取 Excel 文件（需为 .xlsx）：{exc}", code="unreadable_file") from None
    try:
        line = 0
        while True:
            try:
                cells = next(rows, None)
            except Exception as exc:
                raise InvalidInput(f"Excel 第 {line + 1} 行无法读取：{exc}", code="unreadable_file") from None
            if cells is None:
                return
            line += 1
            values = [_cell_text(c) for c in cells]
            if not _blank(values):
                yield line, values
    finally:
        book.close()


def _rows(records: Iterator[tuple[int, list[str]]], width: int, check_width: bool) -> Iterator[TableRow]:
    for row_no, (line, values) in enumerate(records, start=1):
        error = ""
        if len(values) > width and not _blank(values[width:]):
            error = f"第 {line} 行有 {len(values)} 列，表头只有 {width} 列"
        elif len(values) < width and check_width:
            error = f"第 {line} 行只有 {len(values)} 列，表头有 {width} 列"
        values = values[:width] + [""] * (width - len(values))
        yield TableRow(row_no=row_no, line=line, values=values, error=error)


def table_format(suffix: str) -> str:
    """ "CSV" or "Excel" for a file name suffix; InvalidInput for anything else."""
    fmt = TABLE_SUFFIXES.get(suffix.lower())
    if fmt is None:
        hint = "（旧版 .xls 请另存为 .xlsx）" if suffix.lower() == ".xls" else ""
        raise InvalidInput(
            f"不支持的文件类型“{suffix}”：请上传 CSV 或 Excel（.xlsx）文件{hint}", code="unsupported_format"
        )
    return fmt


def open_table(path: Path, *, encoding: str | None = None) -> Table:
    """The header and the (lazy) rows of a CSV or .xlsx file; raises InvalidInput for file-level problems."""
    path = Path(path)
    fmt = table_format(path.suffix)
    if path.stat().st_size == 0:
        raise InvalidInput("文件为空", code="empty_file")
    records = _csv_records(decode_text(path.read_bytes(), encoding)) if fmt == "CSV" else _xlsx_records(path)
    header = next(records, None)
    if header is None:
        raise InvalidInput("文件为空：没有表头，也没有数据行", code="empty_file")
    columns = header[1]
    # an Excel row is always as wide as the sheet: only CSV rows can be short
    return Table(format=fmt, columns=columns, rows=_rows(records, len(columns), check_width=fmt == "CSV"))


def find_column(columns: list[str], name: str, *, param: str) -> str:
    """The header cell the user means by ``name`` (exact, else ignoring case and spaces)."""
    wanted = name.strip()
    matches = [c for c in columns if c == wanted] or [
        c for c in columns if c.strip().casefold() == wanted.casefold()
    ]
    if not matches:
        shown = "、".join(f"“{c}”" for c in columns if c) or "（无）"
        raise InvalidInput(
            f"文件中没有列“{wanted}”（{param}）；文件中的列：{shown}",
            code="missing_column",
            details={param: wanted, "columns": columns},
        )
    if len(matches) > 1:
        raise InvalidInput(
            f"列名“{wanted}”在表头中出现了 {len(matches)} 次，请改名后再上传",
            code="duplicate_column",
            details={param: wanted, "columns": columns},
        )
    return matches[0]
