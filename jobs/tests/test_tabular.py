"""Reading uploaded tables: encodings, delimiters, ragged and blank rows, Excel cells, bad files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from gis_core.errors import InvalidInput
from jobs.tabular import find_column, open_table


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _read(path: Path):
    table = open_table(path)
    return table.columns, list(table.rows)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    text = "编号,详细地址\n1,四川省泸州市江阳区酒城大道一段12号\n2,泸州市龙马潭区春雨路\n"
    columns, rows = _read(_write(tmp_path, "a.csv", text.encode(encoding)))
    assert columns == ["编号", "详细地址"]
    assert [r.values for r in rows] == [
        ["1", "四川省泸州市江阳区酒城大道一段12号"],
        ["2", "泸州市龙马潭区春雨路"],
    ]
    assert [(r.row_no, r.line, r.error) for r in rows] == [(1, 2, ""), (2, 3, "")]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_delimiter_from_header(tmp_path, delimiter):
    text = f"id{delimiter}地址\n1{delimiter}江阳区, 酒城大道\n"
    columns, rows = _read(_write(tmp_path, "a.csv", text.encode()))
    assert columns == ["id", "地址"]
    assert rows[0].values == ["1", "江阳区, 酒城大道"]


def test_ragged_rows_are_row_errors_with_their_line(tmp_path):
    text = (
        "id,地址,备注\n"
        "1,江阳区,\n"  # fine
        "\n"  # blank: skipped, not numbered
        "2,江阳区,a,b\n"  # one cell too many
        "3,江阳区,x,,\n"  # trailing empty cells beyond the header: forgiven
        "4,江阳区\n"  # one cell short
        '5,"多行\n地址",c\n'  # a quoted newline: one record over two lines
        "6,龙马潭区,d\n"
    )
    _, rows = _read(_write(tmp_path, "a.csv", text.encode()))
    assert [r.row_no for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.line for r in rows] == [2, 4, 5, 6, 7, 9]
    assert rows[0].error == rows[2].error == rows[4].error == rows[5].error == ""
    assert rows[1].error == "第 4 行有 4 列，表头只有 3 列"
    assert rows[3].error == "第 6 行只有 2 列，表头有 3 列"
    assert all(len(r.values) == 3 for r in rows)
    assert rows[4].values[1] == "多行\n地址"


def test_xlsx_cells_become_text(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["编号", "地址", "电话", "日期", "比例"])
    sheet.append([1, "江阳区酒城大道12号", 13912345678, dt.date(2024, 5, 1), 0.25])
    sheet.append([None, None, None, None, None])  # blank row: skipped
    sheet.append([3, "龙马潭区", None, dt.datetime(2024, 5, 1, 8, 30), None])
    path = tmp_path / "a.xlsx"
    book.save(path)
    columns, rows = _read(path)
    assert columns == ["编号", "地址", "电话", "日期", "比例"]
    assert rows[0].values == ["1", "江阳区酒城大道12号", "13912345678", "2024-05-01 00:00:00", "0.25"]
    assert rows[1].values == ["3", "龙马潭区", "", "2024-05-01 08:30:00", ""]
    assert [(r.row_no, r.line) for r in rows] == [(1, 2), (2, 4)]


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("a.csv", b"", "empty_file"),
        ("a.csv", b"\r\n\r\n  \r\n", "empty_file"),
        ("a.xls", b"\xd0\xcf\x11\xe0", "unsupported_format"),
        ("a.json", b"[]", "unsupported_format"),
        ("a.xlsx", b"this is not a zip", "unreadable_file"),
        ("a.csv", b"id,addr\n1,\x00\x01\x02\n", "unreadable_file"),  # binary content
        ("a.csv", b"\xff\xfe\x00\x00binary", "bad_encoding"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path, name, data, code):
    path = _write(tmp_path, name, data)
    with pytest.raises(InvalidInput) as caught:
        _read(path)
    assert caught.value.code == code


def test_header_only_has_no_rows(tmp_path):
    columns, rows = _read(_write(tmp_path, "a.csv", "地址\n".encode()))
    assert columns == ["地址"] and rows == []


def test_find_column():
    columns = ["ID", "详细地址", " Address ", "备注", "备注"]
    assert find_column(columns, "详细地址", param="column") == "详细地址"
    assert find_column(columns, "address", param="column") == " Address "
    assert find_column(columns, "id", param="column") == "ID"
    with pytest.raises(InvalidInput) as missing:
        find_column(columns, "地址", param="column")
    assert missing.value.code == "missing_column"
    assert "“详细地址”" in missing.value.message and missing.value.details["columns"] == columns
    with pytest.raises(InvalidInput) as duplicate:
        find_column(columns, "备注", param="column")
    assert duplicate.value.code == "duplicate_column"
