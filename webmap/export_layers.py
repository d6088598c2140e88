"""The layers a map export can show, each built from the same selectors as its API.

A layer takes the query parameters of its API (what the page is showing: filters,
``bbox``/``region`` of the view, ``zoom``) and the caller's jurisdiction, and returns a
self-contained page made with :mod:`gis_core.mapexport`:

``event_heatmap``
    Event counts per square bin (the bins of ``GET /api/v1/events/heatmap`` with the
    same range and event filters; ``zoom`` + ``bin_px`` or ``size`` in metres, else a
    ~1/60 of the area's width), coloured on a yellow→red ramp, over the district and
    subdistrict outlines of the jurisdiction.
``draw_sites``
    An assessment draw's sites, reserves and balance figure (``civilization.mapexport``).
``unit_density``
    Civilization units per 10,000 residents (or per km²) by district as a choropleth
    (``GET /api/v1/civilization/density``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import folium
from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.contrib.gis.geos import Polygon
from shapely.geometry import mapping

from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.api.params import parse_float
from gis_core.api.ranges import range_filter_from_params
from gis_core.errors import InvalidInput
from gis_core.mapexport import (
    add_boundaries,
    add_box,
    add_meta,
    boundary_features,
    legend_ramp,
    offline_map,
    ramp,
    render,
)
from gis_core.models import Region
from gis_core.selectors.density import BinGrid, heatmap

__all__ = ["EXPORT_LAYERS", "ExportLayer", "get_layer"]

MAX_PARAMS = 40  # query parameters of one export, a guard against junk bodies
AUTO_BINS_ACROSS = 60  # without zoom or size: bins of 1/60 of the area's width


@dataclass(frozen=True)
class ExportLayer:
    name: str
    title: str
    scope: str  # the scope the caller needs besides export:read
    # (params, jurisdiction) → (page HTML, a short Chinese name for the file)
    build: Callable[[Mapping[str, Any], Jurisdiction], tuple[str, str]]


def _region_rows(jurisdiction: Jurisdiction, extent: Polygon | None, levels: tuple[int, ...]):
    qs = scope_queryset(Region.objects.filter(level__in=levels, geom__isnull=False), jurisdiction)
    if extent is not None:
        qs = qs.filter(geom__intersects=extent)
    return qs.order_by("level", "code").values_list("code", "name", "geom", "level")


def _outlines(jurisdiction: Jurisdiction, extent: Polygon | None, levels=(3, 4)) -> list[dict]:
    """District (thick) and subdistrict outlines of the jurisdiction within ``extent``."""
    weights = {3: 2.5, 4: 1.0, 5: 0.6}
    rows = list(_region_rows(jurisdiction, extent, levels))
    features = []
    for level in levels:
        level_rows = [(c, n, g) for c, n, g, lv in rows if lv == level]
        features += boundary_features(level_rows, weight=weights.get(level, 1.0))
    return features


# ------------------------------------------------------------------ event heatmap
def _bin_grid(params: Mapping[str, Any], extent: tuple[float, float, float, float]) -> BinGrid:
    lat = (extent[1] + extent[3]) / 2
    if params.get("zoom") not in (None, ""):
        zoom = parse_float(params["zoom"], "zoom")
        bin_px = parse_float(params.get("bin_px") or 32, "bin_px")
        if not (0 <= zoom <= 24 and 4 <= bin_px <= 256):
            raise InvalidInput("zoom 应在 0–24、bin_px 应在 4–256 之间")
        return BinGrid.for_zoom("square", zoom, bin_px)
    if params.get("size") not in (None, ""):
        size = parse_float(params["size"], "size")
    else:  # about AUTO_BINS_ACROSS bins across the area, on the ground
        width_m = (extent[2] - extent[0]) * 111_320 * math.cos(math.radians(lat))
        size = width_m / AUTO_BINS_ACROSS
    return BinGrid.for_ground("square", min(max(size, 10.0), 100_000.0), lat)


def event_heatmap(params: Mapping[str, Any], jurisdiction: Jurisdiction) -> tuple[str, str]:
    from events.api.filters import TIME_FIELD, filter_events
    from events.selectors.events import events_visible

    rf = range_filter_from_params(params, crs="wgs84")
    qs = rf.apply(
        filter_events(events_visible(jurisdiction), params), point_field="geom", time_field=TIME_FIELD
    )
    view = None
    if bbox := params.get("bbox"):
        values = bbox if isinstance(bbox, list | tuple) else str(bbox).split(",")
        view = Polygon.from_bbox(tuple(parse_float(v, "bbox") for v in values))
    elif params.get("region"):
        area = _region_rows(jurisdiction, None, (1, 2, 3, 4, 5)).filter(code=str(params["region"]).strip())
        view = next((g.envelope for _, _, g, _ in area), None)
    if view is None and (geometry := jurisdiction.geometry) is not None:  # the whole jurisdiction
        view = geometry.envelope
    if view is None:  # nationwide: where the events are
        found = qs.aggregate(e=Extent("geom"))["e"]
        view = Polygon.from_bbox(found) if found else None
    extent = view.extent if view is not None else (105.0, 28.0, 106.0, 29.0)
    grid = _bin_grid(params, extent)
    result = heatmap(qs, grid, polygons=True, max_bins=settings.CIVGRID["RANGE_MAX_BINS"])
    top = max((b.count for b in result.bins), default=0)
    window = " – ".join(str(params[k])[:10] for k in ("from", "to") if params.get(k)) or "全部时间"
    title = str(params.get("title") or f"事件热力图（{window}）")[:80]
    fmap = offline_map(title=title, location=((extent[1] + extent[3]) / 2, (extent[0] + extent[2]) / 2))
    add_boundaries(fmap, _outlines(jurisdiction, view))
    features = [
        {
            "type": "Feature",
            "geometry": mapping(b.polygon),
            "properties": {"count": b.count, "colour": ramp(b.count, top)},
        }
        for b in result.bins
    ]
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name="事件热力图",
            style_function=lambda f: {
                "color": f["properties"]["colour"],
                "weight": 0.5,
                "fillColor": f["properties"]["colour"],
                "fillOpacity": 0.75,
            },
            tooltip=folium.GeoJsonTooltip(fields=["count"], aliases=["事件数"]),
        ).add_to(fmap)
    add_box(
        fmap,
        f"<b>{html.escape(title)}</b><div>事件 {result.count} 件，{len(result.bins)} 个分箱，"
        f"分箱边长约 {grid.ground_size_m((extent[1] + extent[3]) / 2):.0f} 米</div>"
        f"{legend_ramp(top, unit='件', integer=True)}",
    )
    fmap.fit_bounds([[extent[1], extent[0]], [extent[3], extent[2]]])
    add_meta(fmap, "export-meta", {"layer": "event_heatmap", "count": result.count, "bins": len(result.bins)})
    return render(fmap), "事件热力图"


# ------------------------------------------------------------------ a draw's sites
def draw_sites(params: Mapping[str, Any], jurisdiction: Jurisdiction) -> tuple[str, str]:
    from civilization.mapexport import draw_map_html
    from civilization.services.draws import draw_get

    text = str(params.get("draw") or "").strip()
    if not text.isdigit():
        raise InvalidInput("draw 应为抽取记录编号", details={"draw": params.get("draw")})
    draw = draw_get(int(text), jurisdiction)
    return draw_map_html(draw), f"测评点位-{draw.pk}"


# ------------------------------------------------------------------ unit density choropleth
def unit_density(params: Mapping[str, Any], jurisdiction: Jurisdiction) -> tuple[str, str]:
    from civilization.selectors.units import density_by_region, units_filter, units_layer

    measure = str(params.get("measure") or "per_10k")
    if measure not in ("per_10k", "per_km2"):
        raise InvalidInput(
            "measure 应为 per_10k（每万人）或 per_km2（每平方公里）", details={"measure": measure}
        )
    layer = units_layer(jurisdiction=jurisdiction, scopes=frozenset())  # counts only: the public layer
    rows = density_by_region(units_filter(layer.queryset, params), level=3, jurisdiction=jurisdiction)
    by_code = {r["code"]: r for r in rows}
    top = max((r[measure] or 0 for r in rows), default=0)
    unit = "个/万人" if measure == "per_10k" else "个/平方公里"
    title = str(params.get("title") or f"文明创建单位密度（{unit}）")[:80]
    outlines = [f for f in _outlines(jurisdiction, None, (3,)) if f["properties"]["code"] in by_code]
    fmap = offline_map(title=title)
    for feature in outlines:
        row = by_code[feature["properties"]["code"]]
        feature["properties"].update(
            count=row["count"], value=row[measure] or 0, colour=ramp(row[measure] or 0, top)
        )
    if outlines:
        layer_json = folium.GeoJson(
            {"type": "FeatureCollection", "features": outlines},
            name="单位密度",
            style_function=lambda f: {
                "color": "#555",
                "weight": 1.5,
                "fillColor": f["properties"]["colour"],
                "fillOpacity": 0.8,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "count", "value"], aliases=["区县", "单位数", unit]
            ),
        ).add_to(fmap)
        fmap.fit_bounds(layer_json.get_bounds())
    ranking = "".join(
        f"<div>{k + 1}. {html.escape(r['name'])} {r[measure] or 0:.2f}</div>" for k, r in enumerate(rows[:5])
    )
    add_box(fmap, f"<b>{html.escape(title)}</b>{legend_ramp(top, unit=unit)}{ranking}")
    add_meta(fmap, "export-meta", {"layer": "unit_density", "regions": [r["code"] for r in rows]})
    return render(fmap), "文明创建单位密度"


EXPORT_LAYERS: dict[str, ExportLayer] = {
    layer.name: layer
    for layer in (
        ExportLayer("event_heatmap", "事件热力图", "events:read", event_heatmap),
        ExportLayer("draw_sites", "测评点位抽取", "civilization:read", draw_sites),
        ExportLayer("unit_density", "文明创建单位密度", "civilization:read", unit_density),
    )
}


def get_layer(name: str) -> ExportLayer:
    try:
        return EXPORT_LAYERS[name]
    except KeyError:
        raise InvalidInput(
            f"未知导出图层“{name}”，可选：{'、'.join(EXPORT_LAYERS)}",
            code="unknown_layer",
            details={"layer": name},
        ) from None


def clean_params(params: Any) -> dict[str, Any]:
    """The layer's query parameters as a flat JSON object of strings and numbers."""
    if params in (None, ""):
        return {}
    if not isinstance(params, Mapping) or len(params) > MAX_PARAMS:
        raise InvalidInput(
            "params 应为查询参数对象（同图层 API 的查询参数）", details={"params": str(params)[:200]}
        )
    clean = {}
    for key, value in params.items():
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple) and all(isinstance(v, int | float) for v in value):
            value = ",".join(str(v) for v in value)
        if not isinstance(value, str | int | float | bool) or len(str(value)) > 20_000:
            raise InvalidInput(f"参数 {key} 的值应为文本或数字", details={"param": key})
        clean[str(key)[:40]] = value
    return clean
