"""The one range filter (范围查询) every point layer shares.

A :class:`RangeFilter` says *where* and *when*: within a region of any level or
a unit grid, a bbox, a circle, a drawn polygon, a buffer along a line, and a
time window. Every part given must hold (they are ANDed). It is applied to any
queryset whose model has a point field, after the jurisdiction scoping, so it
narrows what the caller may see and never widens it.

Distances are on the ground. A circle and a line buffer are ``ST_DWithin`` on
``geography`` (metres on the WGS84 spheroid, exact), preceded by a bbox test
(``&&``) on the geometry column so the GiST index still chooses the
candidates; the bbox is a conservative superset of the shape. Segments of a
line are geodesics: a 10 km segment drawn straight on a web-mercator map near
29°N is up to ~1 m away from its geodesic. Polygon areas are geodesic
(pyproj.Geod); the buffer of a line is drawn in the local UTM zone for its
area check and display (its round caps have 64 segments: < 0.15 % inside the
true buffer), but filtering uses the exact distance.

A region is matched by the codes stored on the row (``region_match="code"``,
the default, an indexed prefix lookup), the same way the jurisdiction scoping
reads the model's ``Scope``: a row with a unit grid belongs to the regions its
grid code starts with, a row without one to those of its stored region code.
``region_match="spatial"`` tests the point against the region's current
boundary instead (for rows whose codes may be stale).

The parameters of the HTTP API are parsed in :mod:`gis_core.api.ranges`.
Values are checked when the filter is built, so a RangeFilter made in Python
(a service, a benchmark) is held to the same limits as one from a request.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from typing import Any

import shapely
from django.conf import settings
from django.contrib.gis.db.models import Union
from django.contrib.gis.geos import GEOSGeometry
from django.contrib.gis.geos import Polygon as GEOSPolygon
from django.core.exceptions import FieldDoesNotExist
from django.db.models import BooleanField, F, Func, Q, QuerySet
from shapely.geometry.base import BaseGeometry

from ..cellcover import Area
from ..codes import InvalidCode, pad_code, prefix_of
from ..errors import InvalidInput
from ..geometry import geodesic_area_m2
from ..ground import GEOD, GroundDisc, corridor, envelope, ground_buffer
from ..models import Region
from .density import area_count

__all__ = [
    "Circle",
    "LineBuffer",
    "RangeFilter",
    "check_shape",
    "invalid_reason",
    "region_code_q",
    "region_geometry",
    "stored_code_fields",
]

_INVALID_REASONS = {
    "Self-intersection": "自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points in geometry component": "点数过少",
    "Hole lies outside shell": "内环位于外环之外",
    "Nested holes": "内环嵌套",
    "Nested shells": "多边形相互嵌套",
    "Interior is disconnected": "内部不连通",
    "Duplicate Rings": "环重复",
    "Invalid Coordinate": "坐标无效",
}


def _limit(name: str) -> float:
    return settings.CIVGRID[name]


# ------------------------------------------------------------------ SQL on the ground


class _GroundDWithin(Func):
    """``ST_DWithin(field::geography, shape, metres)``: distance on the spheroid.

    Raw SQL because Django's ``dwithin`` lookup takes degrees on a geometry field
    in 4326; the shape is bound as WKB, never formatted into the statement.
    """

    output_field = BooleanField()

    def __init__(self, field: str, shape: BaseGeometry, metres: float) -> None:
        super().__init__(F(field))
        self.wkb = shapely.to_wkb(shape)
        self.metres = float(metres)

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        sql = f"ST_DWithin({column}::geography, ST_GeogFromWKB(%s), %s)"
        return sql, (*params, self.wkb, self.metres)


class _PlainIntersects(Func):
    """``ST_Intersects`` of a point column and a shape, written so that no index serves it
    (the column is wrapped): for rows another index condition has chosen already, where a
    second bitmap over the whole shape would cost more than the test itself."""

    output_field = BooleanField()

    def __init__(self, field: str, shape: BaseGeometry) -> None:
        super().__init__(F(field))
        self.wkb = shapely.to_wkb(shape)

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        return f"ST_Intersects(ST_Force2D({column}), ST_GeomFromWKB(%s, 4326))", (*params, self.wkb)


def _geos(geom: BaseGeometry) -> GEOSGeometry:
    return GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=4326)


# ------------------------------------------------------------------ codes and regions


def stored_code_fields(model) -> tuple[str | None, str | None]:
    """(grid field, region field) a model stores, read from its ``Scope`` as the scoping does.

    The region field is ``Scope.region_field`` if declared, else a field called
    ``region_code`` (every table the map reads stores one, see ARCHITECTURE).
    """
    spec = getattr(model, "Scope", None)
    grid = getattr(spec, "grid_field", None)
    region = getattr(spec, "region_field", None)
    if region is None:
        try:
            model._meta.get_field("region_code")
            region = "region_code"
        except FieldDoesNotExist:
            pass
    return grid, region


def _blank(model, field: str) -> Q:
    q = Q(**{field: ""})
    if model._meta.get_field(field).null:
        q |= Q(**{f"{field}__isnull": True})
    return q


def region_code_q(model, code: str) -> Q:
    """Rows whose stored codes put them in the region ``code`` (12 digits): grid first, as scoping does."""
    grid, region = stored_code_fields(model)
    prefix = prefix_of(code)
    if grid and region:
        return Q(**{f"{grid}__startswith": prefix}) | (
            _blank(model, grid) & Q(**{f"{region}__startswith": prefix})
        )
    if grid or region:
        return Q(**{f"{grid or region}__startswith": prefix})
    raise InvalidInput(
        f"该图层不记录区划代码，请用 region_match=spatial 按边界筛选（区划 {code}）",
        code="unsupported_filter",
        details={"region": code},
    )


def region_geometry(code: str) -> GEOSGeometry | None:
    """Current boundary of a region; for one without its own, the union of its shallowest mapped
    descendants (a city whose districts are mapped). None if nothing under it is mapped."""
    region = Region.objects.filter(code=code).only("geom").first()
    if region is not None and region.geom is not None:
        return region.geom
    below = Region.objects.filter(code__startswith=prefix_of(code), geom__isnull=False)
    level = below.order_by("level").values_list("level", flat=True).first()
    if level is None:
        return None
    return below.filter(level=level).aggregate(u=Union("geom"))["u"]


# ------------------------------------------------------------------ the filter


@dataclass(frozen=True)
class Circle:
    """Centre (WGS84) and radius in metres on the ground."""

    lon: float
    lat: float
    radius_m: float

    def __post_init__(self) -> None:
        for name, value, lo, hi in (("lon", self.lon, -180, 180), ("lat", self.lat, -90, 90)):
            if not (isinstance(value, int | float) and math.isfinite(value) and lo <= value <= hi):
                raise InvalidInput(f"圆心{name} {value} 超出范围 [{lo}, {hi}]", details={name: value})
        top = _limit("RANGE_MAX_RADIUS_M")
        r = self.radius_m
        if not (isinstance(r, int | float) and math.isfinite(r) and 0 < r <= top):
            raise InvalidInput(
                f"radius 应在 (0, {top:g}] 米之间，实际为 {r}", code="bad_radius", details={"radius": r}
            )


@dataclass(frozen=True)
class LineBuffer:
    """A (multi)line (WGS84) and a distance in metres on the ground around it."""

    line: BaseGeometry
    distance_m: float

    def __post_init__(self) -> None:
        check_shape(self.line, "line", ("LineString", "MultiLineString"))
        top = _limit("RANGE_MAX_BUFFER_M")
        d = self.distance_m
        if not (isinstance(d, int | float) and math.isfinite(d) and 0 < d <= top):
            raise InvalidInput(
                f"buffer 应在 (0, {top:g}] 米之间，实际为 {d}", code="bad_buffer", details={"buffer": d}
            )
        _check_area(geodesic_area_m2(self.area), "line 缓冲区")

    @cached_property
    def area(self) -> BaseGeometry:
        """The buffer as a polygon (WGS84), for display and the area limit."""
        return ground_buffer(self.line, self.distance_m)


def invalid_reason(geom: BaseGeometry) -> str | None:
    """Why a geometry is invalid (GEOS, the same as ST_IsValidReason), in Chinese and GEOS words."""
    if geom.is_valid:
        return None
    reason = shapely.is_valid_reason(geom)
    name = reason.split("[", 1)[0]
    return f"{_INVALID_REASONS[name]}（{reason}）" if name in _INVALID_REASONS else reason


def check_shape(geom: BaseGeometry, name: str, kinds: tuple[str, ...]) -> None:
    """A drawn shape fit to filter with: the right type, not empty, not too big, lon/lat, valid."""
    if not isinstance(geom, BaseGeometry) or geom.geom_type not in kinds:
        kind = getattr(geom, "geom_type", type(geom).__name__)
        raise InvalidInput(f"{name} 应为 {' 或 '.join(kinds)}，实际为 {kind}", details={name: kind})
    if geom.is_empty:
        raise InvalidInput(f"{name} 为空几何", details={name: "empty"})
    top = _limit("RANGE_MAX_VERTICES")
    if (n := shapely.get_num_coordinates(geom)) > top:
        raise InvalidInput(f"{name} 顶点过多（{n} 个，上限 {top}）", details={name: n})
    x0, y0, x1, y1 = geom.bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InvalidInput(f"{name} 的坐标超出经纬度范围", details={name: list(geom.bounds)})
    if reason := invalid_reason(geom):
        raise InvalidInput(f"{name} 无效：{reason}", code="invalid_geometry", details={name: reason})


def _check_area(area_m2: float, name: str) -> None:
    top = _limit("RANGE_MAX_AREA_KM2")
    if area_m2 / 1e6 > top:
        raise InvalidInput(
            f"{name}面积 {area_m2 / 1e6:,.1f} km² 超过上限 {top:,g} km²",
            code="area_too_large",
            details={"area_km2": round(area_m2 / 1e6, 3), "max_km2": top},
        )


@dataclass(frozen=True)
class RangeFilter:
    """Where and when; every part that is set must hold. All coordinates WGS84.

    ``until`` is exclusive, ``since`` inclusive. ``region`` is a 12-digit division
    code (shorter forms are padded), ``grid`` a 15-digit unit-grid code.
    """

    region: str | None = None
    region_match: str = "code"
    grid: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    circle: Circle | None = None
    polygon: BaseGeometry | None = None
    line: LineBuffer | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.region is not None:
            try:
                object.__setattr__(self, "region", pad_code(self.region))
            except InvalidCode as exc:
                raise InvalidInput(str(exc), details={"region": self.region}) from None
        if self.region_match not in ("code", "spatial"):
            raise InvalidInput(
                f"region_match 应为 code 或 spatial，实际为“{self.region_match}”",
                details={"region_match": self.region_match},
            )
        if self.grid is not None and not (
            len(self.grid) == 15 and self.grid.isascii() and self.grid.isdigit()
        ):
            raise InvalidInput(
                f"“{self.grid}” 不是单元网格代码（应为 15 位数字）", details={"grid": self.grid}
            )
        if self.bbox is not None:
            x0, y0, x1, y1 = self.bbox
            if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
                raise InvalidInput(
                    "bbox 应为 minlon,minlat,maxlon,maxlat 且最小值小于最大值", details={"bbox": self.bbox}
                )
        if self.polygon is not None:
            check_shape(self.polygon, "polygon", ("Polygon", "MultiPolygon"))
            _check_area(geodesic_area_m2(self.polygon), "polygon ")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise InvalidInput(f"{name} 应带时区", details={name: str(value)})
        if self.since and self.until and self.since >= self.until:
            raise InvalidInput(
                "时间范围的起点应早于终点（from < to）",
                code="bad_time_window",
                details={"from": self.since.isoformat(), "to": self.until.isoformat()},
            )

    # -------------------------------------------------------------- entry points

    @classmethod
    def from_request(cls, request) -> RangeFilter:
        """Parsed from a DRF request: query parameters, or a JSON body on POST."""
        from ..api.ranges import range_filter_from_request  # the API layer parses; this is a shortcut

        return range_filter_from_request(request)

    @classmethod
    def from_params(cls, params, *, crs: str | None = None) -> RangeFilter:
        """Parsed from a mapping of parameters (see :mod:`gis_core.api.ranges`)."""
        from ..api.ranges import range_filter_from_params

        return range_filter_from_params(params, crs=crs)

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self) if f.name != "region_match")

    @property
    def has_time(self) -> bool:
        return self.since is not None or self.until is not None

    @property
    def reference_lat(self) -> float | None:
        """Latitude the filter is centred on (None without a shape): where metres map to degrees."""
        if self.circle:
            return self.circle.lat
        for geom in (self.polygon, self.line.line if self.line else None):
            if geom is not None:
                return (geom.bounds[1] + geom.bounds[3]) / 2
        if self.bbox:
            return (self.bbox[1] + self.bbox[3]) / 2
        return None

    def apply(self, qs: QuerySet, *, point_field: str = "geom", time_field: str | None = None) -> QuerySet:
        """``qs`` narrowed to the range. ``time_field`` names the datetime field ``since``/``until`` use."""
        model = qs.model
        if self.region:
            if self.region_match == "spatial":
                area = region_geometry(self.region)
                if area is None:
                    raise InvalidInput(
                        f"区划 {self.region} 没有边界数据，不能按边界筛选（可用 region_match=code）",
                        code="no_boundary",
                        details={"region": self.region},
                    )
                qs = qs.filter(**{f"{point_field}__intersects": area})
            else:
                qs = qs.filter(region_code_q(model, self.region))
        if self.grid:
            grid_field, _ = stored_code_fields(model)
            if grid_field is None:
                raise InvalidInput("该图层不记录单元网格，不能按 grid 筛选", code="unsupported_filter")
            qs = qs.filter(**{grid_field: self.grid})
        if self.bbox:
            qs = qs.filter(**{f"{point_field}__intersects": GEOSPolygon.from_bbox(self.bbox)})
        if self.circle:
            c = self.circle
            centre = shapely.Point(c.lon, c.lat)
            box = envelope((c.lon, c.lat, c.lon, c.lat), c.radius_m)
            qs = qs.filter(**{f"{point_field}__bboverlaps": GEOSPolygon.from_bbox(box)}).filter(
                _GroundDWithin(point_field, centre, c.radius_m)
            )
        if self.polygon is not None:
            qs = qs.filter(**{f"{point_field}__intersects": _geos(self.polygon)})
        if self.line:
            line, d = self.line.line, self.line.distance_m
            qs = qs.filter(**{f"{point_field}__intersects": _geos(corridor(line, d))}).filter(
                _GroundDWithin(point_field, line, d)
            )
        if self.has_time:
            if time_field is None:
                raise InvalidInput("该图层没有时间字段，不能按 from/to 筛选", code="unsupported_filter")
            if self.since:
                qs = qs.filter(**{f"{time_field}__gte": self.since})
            if self.until:
                qs = qs.filter(**{f"{time_field}__lt": self.until})
        return qs

    def count(self, qs: QuerySet, *, point_field: str = "geom", time_field: str | None = None) -> int:
        """``self.apply(qs).count()``, summed from the layer's pre-aggregated cells inside the
        shape plus the points along its edge where the layer keeps cells and the other filters
        allow (:func:`gis_core.selectors.density.area_count`)."""
        split = self.split()
        if split is None:
            return self.apply(qs, point_field=point_field, time_field=time_field).count()
        rest, area = split
        return area_count(
            rest.apply(qs, point_field=point_field, time_field=time_field), area, point_field=point_field
        )

    def split(self) -> tuple[RangeFilter, Area] | None:
        """The filter without its shape, and the shape as an :class:`~gis_core.cellcover.Area`
        (for counts and heatmaps summed from pre-aggregated cells), when it has exactly one
        bbox, circle or polygon; None otherwise (no shape, several, or a line buffer: its
        geodesic segments are not bounded tightly enough by a UTM buffer to split cells).

        ``rest.apply(qs)`` narrowed by ``area.narrow`` is exactly ``self.apply(qs)``. A
        circle's inner and outer polygons are its UTM buffers at 99 % and 102 % of the radius
        (UTM scale is within 0.1 % near the point, round caps 0.12 % inside the circle); its
        cells are classified by :class:`~gis_core.ground.GroundDisc` (within 0.05 % of the
        radius) where that is checked (radius ≤ 50 km, latitude ≤ 70°)."""
        shapes = [name for name in ("bbox", "circle", "polygon", "line") if getattr(self, name) is not None]
        if len(shapes) != 1 or shapes[0] == "line":
            return None
        name = shapes[0]
        only = RangeFilter(**{name: getattr(self, name)})
        rest = dataclasses.replace(self, **{name: None})

        def narrow(qs: QuerySet, point_field: str) -> QuerySet:
            return only.apply(qs, point_field=point_field)

        if self.circle is not None:
            c = self.circle
            centre = shapely.Point(c.lon, c.lat)
            inner, outer = ground_buffer(centre, c.radius_m * 0.99), ground_buffer(centre, c.radius_m * 1.02)
            disc = GroundDisc.usable(c.lon, c.lat, c.radius_m)  # a tighter test of its own, where checked
            classify = disc.classify if disc is not None else None

            def exact(qs: QuerySet, point_field: str) -> QuerySet:
                return qs.filter(_GroundDWithin(point_field, centre, c.radius_m))
        else:
            inner = outer = shapely.box(*self.bbox) if self.bbox is not None else self.polygon
            classify = None

            def exact(qs: QuerySet, point_field: str) -> QuerySet:
                return qs.filter(_PlainIntersects(point_field, inner))

        return rest, Area(inner, outer, narrow, exact, refine=self.bbox is None, classify=classify)

    def describe(self) -> dict[str, Any]:
        """What the filter holds, as JSON (WGS84; areas in km²): echoed to the caller."""
        out: dict[str, Any] = {}
        if self.region:
            out["region"] = self.region
            out["region_match"] = self.region_match
        if self.grid:
            out["grid"] = self.grid
        if self.bbox:
            out["bbox"] = list(self.bbox)
        if self.circle:
            c = self.circle
            out["circle"] = {"lon": c.lon, "lat": c.lat, "radius_m": c.radius_m}
        if self.polygon is not None:
            out["polygon"] = {"area_km2": round(geodesic_area_m2(self.polygon) / 1e6, 6)}
        if self.line:
            length = GEOD.geometry_length(self.line.line)
            out["line"] = {"length_m": round(length, 2), "buffer_m": self.line.distance_m}
        if self.since:
            out["from"] = self.since.isoformat()
        if self.until:
            out["to"] = self.until.isoformat()
        return out
