"""Area draws (连续区域抽样): random points inside polygons (a district, street or community
boundary, or a polygon drawn on the map) or along road centre lines (a district's streets
from the geocoding gazetteer), balanced the same way as site draws.

Each stratum is one shape, clipped to the caller's jurisdiction, stored with the draw as
GeoJSON (WGS84, coordinates on a 1e-7° grid, so a rerun from the stored frame draws the same
points). The shapes are projected to the UTM zone of their centre and drawn by
:func:`gis_core.sampling.area_sample` from a hexagonal (polygons) or regular (lines) point frame
of ``AREA_DENSITY`` points per site asked (the approximation is stated there). The drawn
points are located on write (grid, community, subdistrict, district) like any site.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from accounts.scoping import Jurisdiction
from geocoding.selectors.geocode import gazetteer
from gis_core.codes import InvalidCode, pad_code, prefix_of
from gis_core.errors import InvalidInput
from gis_core.ground import utm_zone
from gis_core.models import Region
from gis_core.sampling import SamplingError, area_sample
from gis_core.sampling.area import DEFAULT_DENSITY
from gis_core.selectors.ranges import region_geometry

from .sampling import SAMPLERS, balance, sampling_error, srs_balance_mean, stratum_seed
from .units import units_locate

__all__ = ["AREA_DENSITY", "AreaInput", "AreaPoint", "AreaStratumDraw", "area_frame_build", "run_areas"]

#: frame points per site asked (base + reserve): sites lie on a lattice ~1/7 of their spacing
AREA_DENSITY = DEFAULT_DENSITY
#: most points (base + reserve) one area stratum may ask
AREA_MAX_SITES = 2_000
SOURCES = ("region", "polygon", "roads")


@dataclass(frozen=True)
class AreaInput:
    """One area stratum: exactly one of ``region`` (a region code), ``polygon`` (shapely, WGS84)
    or ``roads`` (a district code: its street centre lines)."""

    type: str
    n: int
    reserves: int | None = None
    region: str | None = None
    polygon: BaseGeometry | None = None
    roads: str | None = None


@dataclass(frozen=True)
class AreaPoint:
    frame_index: int
    lon: float
    lat: float
    probability: float
    name: str


@dataclass
class AreaStratumDraw:
    spec: dict
    base: list[AreaPoint]
    over: list[AreaPoint]
    balance: float | None = None
    srs_balance_mean: float | None = None


# ------------------------------------------------------------------ frame


def _code(value: str, what: str) -> str:
    try:
        return pad_code(str(value).strip())
    except InvalidCode as exc:
        raise InvalidInput(str(exc), details={what: value}) from None


def _reach(code: str, jurisdiction: Jurisdiction) -> bool:
    """The region lies in the jurisdiction, or holds it (then it is clipped to it)."""
    if jurisdiction.nationwide or jurisdiction.covers_code(code):
        return True
    prefix = prefix_of(code)
    return bool(jurisdiction.prefixes) and all(p.startswith(prefix) for p in jurisdiction.prefixes)


def _jurisdiction_region(jurisdiction: Jurisdiction) -> str:
    if jurisdiction.nationwide:
        return ""
    if jurisdiction.region_code:
        return pad_code(jurisdiction.region_code)
    codes = {g[:12] for g in jurisdiction.grid_codes}
    return codes.pop() if len(codes) == 1 else next(iter(sorted(codes)))[:6].ljust(12, "0")


def _deeper(a: str, b: str) -> str:
    """The deeper of two nested region codes ("" is the whole country)."""
    if not a or not b:
        return a or b
    return a if len(prefix_of(a)) >= len(prefix_of(b)) else b


def _shapely(geom) -> BaseGeometry:
    return shapely.from_wkb(bytes(geom.wkb))


def _keep(geom: BaseGeometry, kinds: tuple[str, ...]) -> BaseGeometry:
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in kinds and not g.is_empty]
    return shapely.union_all(parts) if parts else shapely.GeometryCollection()


def _region_shape(code: str, label: str) -> tuple[BaseGeometry, str]:
    geom = region_geometry(code)
    if geom is None:
        raise InvalidInput(f"区划 {code} 不存在或没有边界", code="area_no_boundary", details={"region": code})
    return _shapely(geom), code


def _roads_shape(district: str, label: str) -> tuple[BaseGeometry, str]:
    lines = [
        e.line
        for e in sorted(gazetteer().roads.values(), key=lambda e: e.id)
        if e.code == district and e.line is not None and not e.line.is_empty
    ]
    if not lines:
        raise InvalidInput(
            f"层 {label}：区县 {district} 没有道路中心线", code="area_no_roads", details={"roads": district}
        )
    return shapely.MultiLineString([p for g in lines for p in shapely.get_parts(g)]), district


def area_frame_build(areas: Sequence[AreaInput], *, jurisdiction: Jurisdiction) -> list[dict]:
    """One frame item per stratum: its shape clipped to the jurisdiction, as GeoJSON (WGS84)."""
    if not areas:
        raise InvalidInput("请给出抽样区域 areas", code="no_strata")
    reach = jurisdiction.geometry if not jurisdiction.nationwide else None
    reach_shape = _shapely(reach) if reach is not None else None
    home = _jurisdiction_region(jurisdiction)
    items: list[dict] = []
    for i, area in enumerate(areas):
        kind = (area.type or "").strip()
        given = [s for s in SOURCES if getattr(area, s) not in (None, "")]
        label = kind or f"第 {i + 1} 个区域"
        if not kind:
            raise InvalidInput(f"区域 {i + 1} 缺少类型 type", details={"areas": i + 1})
        if len(given) != 1:
            raise InvalidInput(
                f"层 {label} 应恰给出 region、polygon、roads 之一",
                code="bad_area",
                details={"areas": i + 1, "given": given},
            )
        source = given[0]
        if source == "polygon":
            geom, ref, region = area.polygon, f"polygon-{i + 1}", home
            if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty or geom.area <= 0:
                raise InvalidInput(f"层 {label} 的 polygon 应为有面积的面", code="bad_area")
        else:
            code = _code(getattr(area, source), source)
            if source == "roads":
                code = code[:6].ljust(12, "0")
            if not _reach(code, jurisdiction):
                raise InvalidInput(
                    f"层 {label}：区划 {code} 不在您的管辖范围内",
                    code="area_out_of_scope",
                    details={source: code},
                )
            geom, region = (_region_shape if source == "region" else _roads_shape)(code, label)
            ref, region = (code if source == "region" else f"roads-{code}"), _deeper(region, home)
        kinds = ("LineString", "MultiLineString") if source == "roads" else ("Polygon", "MultiPolygon")
        geom = _keep(shapely.make_valid(geom), kinds)
        if reach_shape is not None:
            geom = _keep(geom.intersection(reach_shape), kinds)
        geom = _keep(shapely.set_precision(geom, 1e-7), kinds)
        if geom.is_empty:
            raise InvalidInput(
                f"层 {label} 在您的管辖范围内没有可抽样的{'道路' if source == 'roads' else '面积'}",
                code="area_out_of_scope",
                details={"areas": i + 1},
            )
        items.append(
            {
                "key": f"{kind}|{ref}",
                "type": kind,
                "source": source,
                "ref": ref,
                "region_code": region,
                "geometry": mapping(geom),
            }
        )
    keys = [it["key"] for it in items]
    if len(set(keys)) != len(keys):
        raise InvalidInput("有重复的抽样层（同一类型与区域）", code="duplicate_stratum")
    return items


def area_strata(areas: Sequence[AreaInput], items: list[dict], *, default_reserves: int, count) -> list[dict]:
    """The stored spec of each area stratum; ``count`` checks a count (draws' ``_count``)."""
    names = dict(
        Region.objects.filter(code__in={it["region_code"] for it in items if it["region_code"]}).values_list(
            "code", "name"
        )
    )
    specs = []
    for i, (area, item) in enumerate(zip(areas, items, strict=True)):
        n = count(area.n, f"层 {item['type']} 的抽取数 n ", minimum=1)
        reserves = (
            default_reserves
            if area.reserves is None
            else count(area.reserves, "备选点数 reserves ", minimum=0)
        )
        if n + reserves > AREA_MAX_SITES:
            raise InvalidInput(
                f"层 {item['type']} 抽取数与备选数之和不能超过 {AREA_MAX_SITES}",
                code="stratum_too_large",
                details={"stratum": item["key"]},
            )
        specs.append(
            {
                "key": item["key"],
                "type": item["type"],
                "source": item["source"],
                "ref": item["ref"],
                "district": item["region_code"][:6].ljust(12, "0") if item["region_code"] else "",
                "district_name": names.get(item["region_code"], ""),
                "frame_item": i,
                "density": AREA_DENSITY,
                "n": n,
                "reserves": reserves,
                "n_over": reserves,
            }
        )
    return specs


# ------------------------------------------------------------------ drawing


def _transformers(items: list[dict]) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    minx, miny, maxx, maxy = shapely.bounds(shapely.union_all([shape(it["geometry"]) for it in items]))
    epsg = utm_zone((minx + maxx) / 2, (miny + maxy) / 2)
    return (
        pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True),
        pyproj.Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True),
    )


def _apply(transformer: pyproj.Transformer, geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1])))


def _road_names(item: dict, forward: pyproj.Transformer) -> tuple[shapely.STRtree, list[str]] | None:
    """Each centre line of a roads stratum with its street's name (to name the points)."""
    if item["source"] != "roads":
        return None
    district = item["ref"].removeprefix("roads-")
    roads = [e for e in gazetteer().roads.values() if e.code == district and e.line is not None]
    if not roads:
        return None
    return shapely.STRtree([_apply(forward, e.line) for e in roads]), [e.name for e in roads]


def run_areas(
    items: list[dict],
    strata: list[dict],
    *,
    method: str,
    seed: int,
    min_distance_m: float | None,
    allow_partial: bool,
    replicates: int = 0,
) -> list[AreaStratumDraw]:
    """Draw every area stratum from the stored frame items (pure apart from the road names)."""
    forward, back = _transformers(items)
    out = []
    for spec in strata:
        item = items[spec["frame_item"]]
        projected = _apply(forward, shape(item["geometry"]))
        label = spec["type"]
        try:
            drawn = area_sample(
                projected,
                spec["n"],
                seed=stratum_seed(seed, spec["key"]),
                design=SAMPLERS[method],
                n_over=spec["n_over"],
                min_dist=min_distance_m or None,
                density=spec["density"],
                allow_fewer=allow_partial,
            )
        except SamplingError as exc:
            raise sampling_error(exc, label, spec, min_distance_m) from None
        names = _road_names(item, forward)
        probs = drawn.sample.probs

        def points(idx: Sequence[int], drawn=drawn, names=names, probs=probs, spec=spec) -> list[AreaPoint]:
            xy = drawn.frame[list(idx)].reshape(-1, 2)
            lon, lat = back.transform(xy[:, 0], xy[:, 1])
            if names is not None:
                nearest = names[0].query_nearest(shapely.points(xy), return_distance=False)[1]
                labels = [names[1][j] for j in nearest]
            else:
                labels = [spec["district_name"] or spec["type"]] * len(idx)
            return [
                AreaPoint(
                    int(i),
                    round(float(x), 7),
                    round(float(y), 7),
                    float(probs[i]),
                    f"{label}（{spec['type']}）",
                )
                for i, x, y, label in zip(idx, np.atleast_1d(lon), np.atleast_1d(lat), labels, strict=True)
            ]

        result = AreaStratumDraw(spec, points(drawn.sample.base), points(drawn.sample.over))
        if replicates:
            result.balance = balance(drawn.frame, drawn.sample.base, None)
            result.srs_balance_mean = srs_balance_mean(
                drawn.frame, len(drawn.sample.base), seed=seed, key=spec["key"], replicates=replicates
            )
        out.append(result)
    return out


def locate_area_points(
    points: Sequence[tuple[AreaPoint, dict]], jurisdiction: Jurisdiction | None
) -> list[dict]:
    """Grid and region chain of each drawn point (with its stratum's spec); a point on a grid
    outside the jurisdiction (grid and region boundaries that differ by a few metres) or in no
    grid keeps its stratum's region."""
    wheres = units_locate([(p.lon, p.lat) for p, _ in points])
    out = []
    for (_, spec), where in zip(points, wheres, strict=True):
        if where is not None and (jurisdiction is None or jurisdiction.covers_code(where.grid_code)):
            out.append(
                {
                    "grid_code": where.grid_code,
                    "region_code": where.region_code,
                    "district_code": where.district_code,
                }
            )
        else:
            district = spec["district"] or "0" * 12
            out.append({"grid_code": "", "region_code": district, "district_code": district})
    return out
