"""Statistics (统计) of a point layer, and CSV / Excel export of any list of rows.

Every function takes a queryset already scoped and range-filtered, so a
statistic counts exactly what the same caller would get as features. Counts by
region read the codes stored on the row, as the range filter does: the first
``n`` digits of the grid code, or of the region code for a row without a grid
(``substr(code, 1, n)``, n = 2/4/6/9/12 for province … community). Trends are
cut in the project's time zone (Asia/Shanghai: ``date_trunc`` at local
midnight, weeks start on Monday). Where the layer keeps counts per cell
(:class:`~gis_core.selectors.density.CellCounts`, events) and the filters are ones
the cells keep, counts by region and trends by the cells' own period sum the cells.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, NullIf, Substr, Trunc

from ..codes import LEVEL_WIDTHS
from ..errors import InvalidInput
from ..models import LocatorLayer, LocatorPart, Region
from .density import registered_cells
from .ranges import stored_code_fields

__all__ = [
    "TREND_UNITS",
    "area_names",
    "count_by",
    "count_by_grid",
    "count_by_region",
    "region_key",
    "rows_to_csv",
    "rows_to_xlsx",
    "top_n",
    "trend",
]

TREND_UNITS = ("day", "week", "month")
MAX_PERIODS = 3_700  # ten years of days
UNLOCATED = "（无区划）"
Columns = Sequence[tuple[str, str]]


def count_by(qs: QuerySet, field: str, *, limit: int | None = None) -> list[dict]:
    """``[{"key": value, "count": n}]`` of a field (or a ``__`` path), most frequent first."""
    rows = (
        qs.order_by()
        .values(rq_key=F(field))
        .annotate(rq_count=Count("pk"))
        .order_by("-rq_count", "rq_key")
        .values_list("rq_key", "rq_count")
    )
    if limit is not None:
        rows = rows[:limit]
    return [{"key": key, "count": n} for key, n in rows]


def top_n(qs: QuerySet, field: str, n: int = 10) -> list[dict]:
    """The ``n`` most frequent values of ``field`` with their counts (排名)."""
    return count_by(qs, field, limit=n)


def region_key(model, width: int, *, prefix: str = ""):
    """The first ``width`` digits of a row's stored grid code (or of its region code, for a row
    without a grid); ``width`` 15 is the grid code itself. ``prefix`` reaches the row through a
    relation (``"event__"``)."""
    grid, region = stored_code_fields(model)
    if width == 15:
        if grid is None:
            raise InvalidInput("该图层不记录单元网格，不能按网格统计", code="unsupported_filter")
        return NullIf(F(prefix + grid), Value(""))
    parts = [NullIf(Substr(prefix + f, 1, width), Value("")) for f in (grid, region) if f]
    if not parts:
        raise InvalidInput("该图层不记录区划代码，不能按区划统计", code="unsupported_filter")
    return Coalesce(*parts) if len(parts) > 1 else parts[0]


def area_names(keys: Iterable[str | None], width: int) -> dict[str, str]:
    """Names of the keys :func:`region_key` gives: unit grids (width 15) or regions."""
    keys = [k for k in keys if k]
    if width == 15:
        found = LocatorPart.objects.filter(layer=LocatorLayer.GRID, code__in=keys).values_list("code", "name")
        return dict(found.distinct())
    names = dict(Region.objects.filter(code__in=[k.ljust(12, "0") for k in keys]).values_list("code", "name"))
    return {k: names.get(k.ljust(12, "0"), "") for k in keys}


def count_by_region(qs: QuerySet, level: int, *, limit: int | None = None) -> list[dict]:
    """``[{"code", "name", "count"}]`` per region of ``level`` (1 province … 5 community).

    Rows with no stored code come last as ``code: None``.
    """
    if level not in LEVEL_WIDTHS:
        raise InvalidInput(f"区划级别应为 1–5，实际为 {level}", details={"level": level})
    width = LEVEL_WIDTHS[level]
    if (found := registered_cells(qs)) is not None:  # the cells keep the grid and region codes
        _, cells = found
        counted = (
            cells.annotate(rq_key=region_key(cells.model, width))
            .values("rq_key")
            .annotate(rq_count=Sum("n"))
            .filter(rq_count__gt=0)
        )
    else:
        counted = (
            qs.order_by()
            .annotate(rq_key=region_key(qs.model, width))
            .values("rq_key")
            .annotate(rq_count=Count("pk"))
        )
    rows = list(counted.order_by("-rq_count", "rq_key").values_list("rq_key", "rq_count"))
    names = area_names((key for key, _ in rows), width)
    located = [{"code": key.ljust(12, "0"), "name": names[key], "count": n} for key, n in rows if key]
    missing = [{"code": None, "name": UNLOCATED, "count": n} for key, n in rows if not key]
    return located[:limit] + missing


def count_by_grid(qs: QuerySet, *, limit: int | None = None) -> list[dict]:
    """``[{"code", "name", "count"}]`` per unit grid (rows without a grid: ``code: None``)."""
    rows = count_by(qs.annotate(rq_grid=region_key(qs.model, 15)), "rq_grid")
    names = area_names((r["key"] for r in rows), 15)
    located = [
        {"code": r["key"], "name": names.get(r["key"], ""), "count": r["count"]} for r in rows if r["key"]
    ]
    missing = [{"code": None, "name": "（无网格）", "count": r["count"]} for r in rows if not r["key"]]
    return located[:limit] + missing


def _next_period(day: date, unit: str) -> date:
    if unit == "day":
        return day + timedelta(days=1)
    if unit == "week":
        return day + timedelta(days=7)
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _period_start(moment: datetime, unit: str, tz: ZoneInfo) -> date:
    day = moment.astimezone(tz).date()
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _grouped_periods(periods: QuerySet) -> list[tuple[datetime, int]]:
    """Rows per ``rq_period``, grouped in a ``MATERIALIZED`` CTE (as the heatmap bins are).

    Grouped by the ORM (``GROUP BY date_trunc(…) ORDER BY date_trunc(…)``) the planner,
    guessing one group per row, sorts every row to group the sorted stream: at 10 M events
    an external merge of 254 MB and 4 s for 12 months (BENCHMARKS.md, "Events"). Planned on
    its own, the aggregate is a hash over the scan and only the periods are sorted.
    """
    try:
        sql, params = periods.query.sql_with_params()
    except EmptyResultSet:
        return []
    with connections[periods.db].cursor() as cursor:
        cursor.execute(
            f"""WITH pts AS ({sql}),
                periods AS MATERIALIZED (SELECT rq_period, count(*) AS n FROM pts GROUP BY rq_period)
            SELECT rq_period, n FROM periods ORDER BY rq_period""",
            params,
        )
        return cursor.fetchall()


def trend(
    qs: QuerySet,
    time_field: str,
    unit: str = "day",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    fill: bool = True,
) -> list[dict]:
    """``[{"period": "2024-05-01", "count": n}]`` by day, week (Monday) or month, in local time.

    With ``fill``, periods without rows count 0, from ``since`` (or the first
    row) to ``until`` (exclusive, or the last row).
    """
    if unit not in TREND_UNITS:
        raise InvalidInput(f"趋势粒度应为 day、week 或 month，实际为“{unit}”", details={"unit": unit})
    tz = ZoneInfo(settings.TIME_ZONE)
    found = registered_cells(qs, period=(time_field, unit, settings.TIME_ZONE))
    if found is not None:  # the cells are kept per period already: sum them
        rows = (
            found[1]
            .exclude(**{f"{time_field}__isnull": True})
            .values(rq_period=F(time_field))
            .annotate(rq_count=Sum("n"))
            .filter(rq_count__gt=0)
            .values_list("rq_period", "rq_count")
        )
    else:
        rows = _grouped_periods(
            qs.order_by()
            .exclude(**{f"{time_field}__isnull": True})
            .values(rq_period=Trunc(time_field, unit, tzinfo=tz))
        )
    counts = {period.astimezone(tz).date(): n for period, n in rows}
    if not fill or not (counts or (since and until)):
        return [{"period": day.isoformat(), "count": n} for day, n in sorted(counts.items())]
    first = _period_start(since, unit, tz) if since else min(counts)
    last = _period_start(until - timedelta(microseconds=1), unit, tz) if until else max(counts)
    out, day = [], first
    while day <= last:
        if len(out) >= MAX_PERIODS:
            raise InvalidInput(
                f"时间段过多（超过 {MAX_PERIODS} 个）：请缩短时间范围或改用更粗的粒度",
                code="too_many_periods",
            )
        out.append({"period": day.isoformat(), "count": counts.get(day, 0)})
        day = _next_period(day, unit)
    return out


# ------------------------------------------------------------------ export

_FORMULA = re.compile(r"^[=+\-@\t\r]")


def _cell(value, blank=""):
    """A value as written to a spreadsheet; text that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return blank
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _table(rows: Iterable[Mapping], columns: Columns, blank="") -> Iterable[list]:
    yield [header for _, header in columns]
    for row in rows:
        yield [_cell(row.get(key), blank) for key, _ in columns]


def rows_to_csv(rows: Iterable[Mapping], columns: Columns) -> bytes:
    """CSV in UTF-8 with a byte-order mark (Excel on Windows opens it as UTF-8), CRLF line ends.

    ``columns`` are ``(key, header)`` pairs: which keys of each row, in which order, under which heading.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(_table(rows, columns))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def rows_to_xlsx(rows: Iterable[Mapping], columns: Columns, *, title: str = "统计") -> bytes:
    """An Excel workbook (.xlsx) with one sheet of the rows (see :func:`rows_to_csv` for ``columns``)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "Sheet1")
    for line in _table(rows, columns, blank=None):
        sheet.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
