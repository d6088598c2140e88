"""Forward geocoding: address text → point, unit grid, region chain, standard address.

The gazetteer is read from PostGIS into an in-memory :class:`Gazetteer` once
per process and reloaded when the gazetteer revision changes (a trigger bumps
it on any write; the row's ``xmin`` covers rolled-back writes). Parsing and
placement are pure (:mod:`geocoding.engine`); this module turns their answer
into JSON, locates the point in its unit grid (the in-memory locator) and
applies the caller's jurisdiction: a scoped caller only gets answers inside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from django.conf import settings
from django.db import connection

from accounts.scoping import Jurisdiction
from gis_core.crs import from_wgs84
from gis_core.errors import InvalidInput
from gis_core.revisions import RevisionCache
from gis_core.selectors.locate import deepest_code, locate_points, region_json

from ..engine.gazetteer import Building, Door, Entity, Gazetteer, Kind
from ..engine.normalize import normalize
from ..engine.parser import parse
from ..engine.placement import Placement, place
from ..models import Building as BuildingRow
from ..models import DoorPlate, GazetteerRevision, Place, Poi, Street

__all__ = [
    "check_text",
    "gazetteer",
    "geocode",
    "geocode_batch",
    "resolve_context",
    "standard_address",
    "visibility",
]

NATIONWIDE = Jurisdiction(nationwide=True)


# ---------------------------------------------------------------------------------------- loading
def _load(revision: tuple[int, str]) -> Gazetteer:
    gaz = Gazetteer()
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT r.code, r.name, r.level, p.code, r.short_name, r.aliases,
                   ST_X(ST_PointOnSurface(r.geom)), ST_Y(ST_PointOnSurface(r.geom))
            FROM gis_core_region r LEFT JOIN gis_core_region p ON p.id = r.parent_id
            ORDER BY r.level, r.code
            """
        )
        for code, name, level, parent, short, aliases, x, y in cur.fetchall():
            gaz.add_region(code, name, level, parent, short, aliases or (), (x, y) if x is not None else None)
    for row in Street.objects.values_list("id", "name", "district_code", "geom", "kind", "aliases"):
        gaz.add_road(row[0], row[1], row[2], shapely.from_wkb(bytes(row[3].wkb)), row[4], row[5])
    common = ("grid_code", "region_code", "district_code")
    for p in Place.objects.values("id", "name", "kind", "aliases", "geom", "door_id", *common):
        gaz.add_place(
            p["id"], p["name"], p["district_code"], p["geom"].coords, kind=p["kind"], aliases=p["aliases"],
            grid_code=p["grid_code"], region_code=p["region_code"], door_id=p["door_id"],
        )  # fmt: skip
    for p in Poi.objects.values("id", "name", "category", "aliases", "geom", "door_id", *common):
        gaz.add_poi(
            p["id"], p["name"], p["district_code"], p["geom"].coords, category=p["category"],
            aliases=p["aliases"], grid_code=p["grid_code"], region_code=p["region_code"],
            door_id=p["door_id"],
        )  # fmt: skip
    for d in DoorPlate.objects.values_list(
        "id", "street_id", "number", "suffix", "geom", "grid_code", "region_code"
    ):
        gaz.add_door(Door(d[0], d[1], d[2], d[3], d[4].coords, d[5], d[6]))
    for b in BuildingRow.objects.values_list(
        "id", "place_id", "door_id", "number", "geom", "grid_code", "region_code"
    ):
        gaz.add_building(Building(b[0], b[1], b[2], b[3], b[4].coords, b[5], b[6]))
    gaz.revision = revision
    return gaz.finish()


_cache = RevisionCache(GazetteerRevision, _load)


def gazetteer() -> Gazetteer:
    """The current in-memory gazetteer (reloaded after any gazetteer write)."""
    return _cache.get()


# ---------------------------------------------------------------------------------------- answers
def resolve_context(gaz: Gazetteer, city: str | None) -> Entity | None:
    """``city=`` as a region code (any level) or name (泸州, 泸州市, 南京市鼓楼区)."""
    if city is None or not str(city).strip():
        return None
    value = str(city).strip()
    if value.isdigit():
        from gis_core.codes import pad_code

        try:
            region = gaz.regions.get(pad_code(value))
        except ValueError:
            region = None
        if region is None:
            raise InvalidInput(f"city 参数中的区划代码 {value} 不存在", code="invalid_city")
        return region
    # a name on its own (南京, 鼓楼区): the highest level carrying it, if only one region there does
    exact = [(e, w) for e, w in gaz.names.get(normalize(value), ()) if e.kind == Kind.REGION]
    if exact:
        top = min(e.level for e, _ in exact)
        at_top = {id(e): e for e, _ in exact if e.level == top}
        if len(at_top) == 1:
            return next(iter(at_top.values()))
    parsed = parse(normalize(value), gaz)
    st = parsed.state
    if st.ctx is None or len(parsed.best) > 1 or st.skipped or st.typos or st.stage:
        raise InvalidInput(f"无法识别 city 参数“{value}”，请给出城市名称或区划代码", code="invalid_city")
    return st.ctx


def standard_address(gaz: Gazetteer, pl: Placement, regions: Sequence[dict]) -> str:
    """GB/T 37149 order: 行政区划 + 街路巷 + 门牌号 + 小区/地片 + 楼栋 + 单元 + 层 + 户室 (or the POI)."""
    parts = [r["name"] for r in regions if r["name"] != "市辖区"]
    if pl.road is not None:
        parts.append(pl.road.name)
    if pl.door is not None:
        parts.append(pl.door.label)
    elif pl.match_level == "interpolated" and "door" in pl.components:
        parts.append(pl.components["door"])
    if pl.entity is not None:
        parts.append(pl.entity.name)
    if pl.building:
        parts.append(f"{pl.building}栋")
    if pl.building and pl.unit:
        parts.append(f"{pl.unit}单元")
    if pl.building and pl.floor:
        parts.append(f"{pl.floor}层")
    if pl.building and pl.room:
        parts.append(f"{pl.room}室")
    return "".join(parts)


def visibility(jurisdiction: Jurisdiction):
    """(entity predicate, grid-code predicate) for a scoped caller; (None, None) nationwide."""
    if jurisdiction.nationwide:
        return None, None

    def covers(code: str) -> bool:
        return bool(code) and jurisdiction.covers_code(code)

    prefixes = jurisdiction.prefixes

    def visible(e: Entity) -> bool:
        if e.kind == Kind.ROAD:  # a road is seen in the district(s) it runs through
            return any(p.startswith(e.district) or e.district.startswith(p) for p in prefixes)
        return covers(e.grid_code or e.region_code)

    return visible, covers


def check_text(text) -> str | None:
    """The reason a query cannot be geocoded, or None."""
    if not isinstance(text, str):
        return "地址应为文本"
    if not text.strip():
        return "地址为空"
    if len(text) > settings.CIVGRID["GEOCODE_MAX_CHARS"]:
        return f"地址过长（{len(text)} 个字符，上限 {settings.CIVGRID['GEOCODE_MAX_CHARS']}）"
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return "地址含有控制字符（二进制内容？）"
    return None


def _invalid(text, message: str) -> dict:
    return {
        "query": text if isinstance(text, str) else None,
        "status": "invalid",
        "match_level": None,
        "confidence": 0.0,
        "location": None,
        "message": message,
    }


def geocode_batch(
    texts: Sequence[str],
    *,
    city: str | None = None,
    crs: str = "wgs84",
    jurisdiction: Jurisdiction | None = None,
) -> list[dict]:
    """Geocode many addresses; results in input order. Bad items get ``status: invalid``, never raise."""
    jurisdiction = jurisdiction or NATIONWIDE
    gaz = gazetteer()
    context = resolve_context(gaz, city)
    visible, covers = visibility(jurisdiction)
    results: list[dict | None] = [None] * len(texts)
    placed: list[tuple[int, Placement]] = []
    for i, text in enumerate(texts):
        problem = check_text(text)
        if problem:
            results[i] = _invalid(text, problem)
            continue
        norm = normalize(text)
        if not norm:
            results[i] = _invalid(text, "地址中没有可识别的文字")
            continue
        pl = place(parse(norm, gaz, context=context, visible=visible), gaz, covers=covers)
        placed.append((i, pl))
    # grid and region chain of every placed point, in one pass of the in-memory locator
    pts = [(i, pl) for i, pl in placed if pl.point is not None]
    locations = {}
    if pts:
        lons = np.array([pl.point[0] for _, pl in pts])
        lats = np.array([pl.point[1] for _, pl in pts])
        locations = {i: loc for (i, _), loc in zip(pts, locate_points(lons, lats), strict=True)}
    for i, pl in placed:
        results[i] = _answer(texts[i], pl, locations.get(i), gaz, jurisdiction, crs)
    return results


def geocode(
    text: str, *, city: str | None = None, crs: str = "wgs84", jurisdiction: Jurisdiction | None = None
) -> dict:
    return geocode_batch([text], city=city, crs=crs, jurisdiction=jurisdiction)[0]


def _answer(text: str, pl: Placement, loc, gaz: Gazetteer, jurisdiction: Jurisdiction, crs: str) -> dict:
    body = {
        "query": text,
        "status": pl.status,
        "match_level": pl.match_level,
        "match_kind": pl.match_kind,
        "confidence": pl.confidence,
        "location": None,
        "address": "",
        "grid": None,
        "regions": [],
        "components": pl.components,
    }
    if pl.status == "not_found":
        body["message"] = pl.message
        return body
    if pl.match_kind == "region" or pl.status == "ambiguous":
        # placed at a region's representative point: the answer is the region understood, not the
        # grid or community that point happens to fall in
        loc = None
    regions = list(loc.regions) if loc is not None and loc.regions else []
    if not regions and pl.region is not None:
        regions = [region_json(e.code, e.name, e.level) for e in gaz.chain(pl.region.code)]
    grid = loc.grid if loc is not None else None
    deepest = deepest_code(grid, regions)
    if not jurisdiction.nationwide and (deepest is None or not jurisdiction.covers_code(deepest)):
        return {
            "query": text,
            "status": "outside",
            "match_level": None,
            "match_kind": None,
            "confidence": 0.0,
            "location": None,
            "components": {},
            "message": "该地址不在您的管辖范围内",
        }
    # the text named one district, the point lies in another: say so, trust the point less
    if pl.region is not None and regions and pl.region.level <= 3:
        level = pl.region.level
        found = next((r for r in regions if r["level"] == level), None)
        if found is not None and found["code"] != pl.region.code:
            body["confidence"] = round(body["confidence"] * 0.7, 3)
            pl.message = pl.message or f"地址写的是{pl.region.name}，但位置在{found['name']}"
    if pl.point is not None:
        x, y = from_wgs84(pl.point[0], pl.point[1], crs)
        body["location"] = {"lon": round(float(x), 7), "lat": round(float(y), 7), "crs": crs}
    body["grid"] = grid
    body["regions"] = regions
    body["address"] = standard_address(gaz, pl, regions)
    if pl.message:
        body["message"] = pl.message
    if pl.candidates:
        body["candidates"] = pl.candidates if jurisdiction.nationwide else []
    return body
