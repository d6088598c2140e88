"""CSV / Excel answers of any list or statistic, one call each.

``export=csv`` (UTF-8 with a byte-order mark, so Excel on Windows opens it as
UTF-8) or ``export=xlsx`` on any list or statistics endpoint of a point layer;
spreadsheet formulas in text cells are neutralised (:mod:`gis_core.selectors.stats`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db.models import F, FloatField, Func, QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter

from .. import crs as crs_mod
from ..errors import InvalidInput
from ..selectors import stats

__all__ = ["EXPORTS", "EXPORT_PARAMETER", "ListExport", "export_format", "export_response"]

EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXPORT_PARAMETER = OpenApiParameter(
    "export", str, enum=list(EXPORTS), description="导出为文件（CSV 或 Excel）"
)


def export_format(params: Mapping) -> str | None:
    """The ``export`` parameter checked: ``csv``, ``xlsx`` or None."""
    value = params.get("export") or None
    if value is not None and value not in EXPORTS:
        raise InvalidInput(f"export 应为 {' 或 '.join(EXPORTS)}，实际为“{value}”", details={"export": value})
    return value


def export_response(
    rows: Iterable[Mapping], columns: Sequence[tuple[str, str]], fmt: str, *, title: str, filename: str
) -> HttpResponse:
    """The rows as a downloadable CSV or Excel file (``columns``: ``(key, heading)`` pairs)."""
    if fmt == "csv":
        content = stats.rows_to_csv(rows, columns)
    else:
        content = stats.rows_to_xlsx(rows, columns, title=title)
    response = HttpResponse(content, content_type=EXPORTS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


@dataclass(frozen=True)
class ListExport:
    """How a layer's features are written as spreadsheet rows.

    ``columns``: ``(field path, heading)`` pairs read with ``QuerySet.values`` (``__``
    paths follow relations); ``labels`` turns stored codes into their names per field
    (e.g. ``{"state": dict(EventState.choices)}``). ``lon``/``lat`` columns in the
    request's crs are added after them.
    """

    columns: Sequence[tuple[str, str]]
    title: str
    filename: str
    labels: Mapping[str, Mapping] = field(default_factory=dict)
    point_field: str = "geom"

    def rows(self, qs: QuerySet, crs: str) -> list[dict]:
        limit = settings.CIVGRID["EXPORT_MAX_ROWS"]
        paths = [path for path, _ in self.columns]
        x = Func(F(self.point_field), function="ST_X", output_field=FloatField())
        y = Func(F(self.point_field), function="ST_Y", output_field=FloatField())
        rows = list(qs.annotate(rq_x=x, rq_y=y).values(*paths, "rq_x", "rq_y")[: limit + 1])
        if len(rows) > limit:
            raise InvalidInput(
                f"导出超过 {limit} 行上限，请缩小范围或时间窗口后分批导出",
                code="export_too_large",
                details={"limit": limit},
            )
        if rows:
            lons, lats = crs_mod.from_wgs84(
                np.array([r["rq_x"] for r in rows], dtype=float),
                np.array([r["rq_y"] for r in rows], dtype=float),
                crs,
            )
            for row, lon, lat in zip(rows, np.atleast_1d(lons), np.atleast_1d(lats), strict=True):
                row["lon"], row["lat"] = round(float(lon), 7), round(float(lat), 7)
                for path, names in self.labels.items():
                    row[path] = names.get(row[path], row[path])
        return rows

    def headings(self, crs: str) -> list[tuple[str, str]]:
        return [*self.columns, ("lon", f"经度（{crs}）"), ("lat", f"纬度（{crs}）")]
