"""Statistics and exports (gis_core/selectors/stats.py) on the demo city's door plates."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from accounts.scoping import Jurisdiction, scope_queryset
from geocoding.models import DoorPlate
from gis_core.errors import InvalidInput
from gis_core.selectors import stats
from gis_core.selectors.ranges import RangeFilter

pytestmark = pytest.mark.django_db

A, B = "510502", "510504"


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_counts_by_region_add_up_and_agree_with_the_range_filter(level):
    qs = DoorPlate.objects.all()
    rows = stats.count_by_region(qs, level)
    assert sum(r["count"] for r in rows) == qs.count()
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)
    for row in rows[:6]:
        assert len(row["code"]) == 12 and row["name"]
        assert row["count"] == RangeFilter(region=row["code"]).apply(qs).count()


def test_districts_are_named_and_counted():
    rows = {r["code"]: r for r in stats.count_by_region(DoorPlate.objects.all(), 3)}
    assert rows[A + "000000"]["name"] == "江阳区"
    assert rows[A + "000000"]["count"] == DoorPlate.objects.filter(grid_code__startswith=A).count()


def test_rows_without_a_code_come_last():
    DoorPlate.objects.filter(pk__in=DoorPlate.objects.values("pk")[:2]).update(grid_code="", region_code="")
    rows = stats.count_by_region(DoorPlate.objects.all(), 3, limit=2)
    assert len(rows) == 3 and rows[-1] == {"code": None, "name": "（无区划）", "count": 2}


def test_counts_by_grid():
    qs = DoorPlate.objects.all()
    rows = stats.count_by_grid(qs)
    assert sum(r["count"] for r in rows) == qs.count()
    assert Counter({r["code"]: r["count"] for r in rows}) == Counter(qs.values_list("grid_code", flat=True))
    assert all(r["name"].endswith("网格") for r in rows)
    assert len(stats.count_by_grid(qs, limit=5)) == 5


def test_count_by_a_field_and_top_n():
    qs = DoorPlate.objects.all()
    rows = stats.count_by(qs, "street__name")
    assert sum(r["count"] for r in rows) == qs.count()
    assert dict(Counter(qs.values_list("street__name", flat=True))) == {r["key"]: r["count"] for r in rows}
    top = stats.top_n(qs, "street__name", 3)
    assert top == rows[:3] and top[0]["count"] >= top[1]["count"] >= top[2]["count"]


def _dates(*moments: datetime) -> list[int]:
    pks = list(DoorPlate.objects.order_by("pk").values_list("pk", flat=True)[: len(moments)])
    DoorPlate.objects.update(updated_at=datetime(2024, 3, 10, 4, 0, tzinfo=UTC))
    for pk, moment in zip(pks, moments, strict=True):
        DoorPlate.objects.filter(pk=pk).update(updated_at=moment)
    return pks


def test_trend_by_month_cuts_at_beijing_midnight():
    _dates(datetime(2024, 5, 31, 15, 59, tzinfo=UTC), datetime(2024, 5, 31, 16, 0, tzinfo=UTC))
    total = DoorPlate.objects.count()
    rows = stats.trend(DoorPlate.objects.all(), "updated_at", "month")
    assert rows == [
        {"period": "2024-03-01", "count": total - 2},
        {"period": "2024-04-01", "count": 0},
        {"period": "2024-05-01", "count": 1},  # 23:59 in Beijing
        {"period": "2024-06-01", "count": 1},  # 00:00 in Beijing, still May in UTC
    ]
    assert len(stats.trend(DoorPlate.objects.all(), "updated_at", "month", fill=False)) == 3


def test_trend_by_week_starts_on_monday_and_by_day_fills_the_window():
    _dates(datetime(2024, 3, 17, 15, 0, tzinfo=UTC))  # Sunday 23:00 Beijing → week of Monday 11 March
    weeks = stats.trend(DoorPlate.objects.all(), "updated_at", "week")
    assert weeks == [
        {"period": "2024-03-04", "count": DoorPlate.objects.count() - 1},
        {"period": "2024-03-11", "count": 1},
    ]
    rf = RangeFilter.from_params({"from": "2024-03-09", "to": "2024-03-12"})
    days = stats.trend(rf.apply(DoorPlate.objects.all(), time_field="updated_at"), "updated_at", "day",
                       since=rf.since, until=rf.until)  # fmt: skip
    assert [d["period"] for d in days] == ["2024-03-09", "2024-03-10", "2024-03-11", "2024-03-12"]
    assert [d["count"] for d in days] == [0, DoorPlate.objects.count() - 1, 0, 0]


def test_trend_refuses_bad_units_and_too_many_periods():
    with pytest.raises(InvalidInput, match="day、week 或 month"):
        stats.trend(DoorPlate.objects.all(), "updated_at", "year")
    rf = RangeFilter.from_params({"from": "1990-01-01", "to": "2024-01-01"})
    with pytest.raises(InvalidInput) as caught:
        stats.trend(DoorPlate.objects.none(), "updated_at", "day", since=rf.since, until=rf.until)
    assert caught.value.code == "too_many_periods"


def test_scoped_statistics_stay_scoped():
    scoped = scope_queryset(DoorPlate.objects.all(), Jurisdiction(region_code=A))
    for level in (3, 4, 5):
        rows = stats.count_by_region(scoped, level)
        assert rows and all(r["code"].startswith(A) for r in rows)
        assert sum(r["count"] for r in rows) == scoped.count()
    assert all(r["code"].startswith(A) for r in stats.count_by_grid(scoped))
    assert sum(r["count"] for r in stats.count_by(scoped, "street__name")) == scoped.count()
    assert sum(r["count"] for r in stats.trend(scoped, "updated_at", "day")) == scoped.count()


# ------------------------------------------------------------------ export

COLUMNS = [("code", "区划代码"), ("name", "名称"), ("count", "数量")]
ROWS = [
    {"code": "510502000000", "name": "江阳区", "count": 65},
    {"code": None, "name": '=HYPERLINK("http://x")', "count": 3},
    {"code": "510504000000", "name": "-1+1", "count": -2},
]


def test_csv_is_utf8_with_bom_and_quotes_formulas():
    data = stats.rows_to_csv(ROWS, COLUMNS)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0] == ["区划代码", "名称", "数量"]
    assert lines[1] == ["510502000000", "江阳区", "65"]
    assert lines[2] == ["", '\'=HYPERLINK("http://x")', "3"]
    assert lines[3] == ["510504000000", "'-1+1", "-2"]  # numbers stay numbers
    assert b"\r\n" in data


def test_xlsx_holds_the_rows():
    book = load_workbook(io.BytesIO(stats.rows_to_xlsx(ROWS, COLUMNS, title="门牌/统计")))
    sheet = book.active
    assert sheet.title == "门牌_统计"
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == ["区划代码", "名称", "数量"]
    assert values[1] == ["510502000000", "江阳区", 65]
    assert values[2][0] is None and values[2][1].startswith("'=")
    assert len(values) == 4
