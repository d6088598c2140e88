"""From a parse to a point: door plate, interpolation, building, place/POI, road, region. Pure Python.

Falls back level by level: the door plate itself; a door number missing from
the gazetteer interpolated along its road between the neighbouring numbers on
the same side (odd/even); the building; the place or POI; the road (or the
crossing of two roads); then the deepest region that has a point. Confidence
starts from the level reached and loses for every typo, skipped character,
alias, detail that could not be found, and for ambiguity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import shapely
from shapely.geometry import Point

from .gazetteer import Door, Entity, Gazetteer, Kind
from .parser import Parse, State

__all__ = ["LEVEL_NAMES", "Placement", "place"]

LEVEL_NAMES = {1: "province", 2: "city", 3: "district", 4: "street", 5: "community"}
_BASE = {
    "door": 0.98,
    "building": 0.97,
    "poi": 0.93,
    "interpolated": 0.88,
    "road": 0.8,
    "community": 0.72,
    "street": 0.68,
    "district": 0.62,
    "city": 0.5,
    "province": 0.4,
}
_COMPONENT = {
    "door": "door",
    "building": "building",
    "unit": "unit",
    "floor": "floor",
    "room": "room",
    "unknown_road": "road",
    "offset": "offset",
}
_M_PER_DEG = 111_320.0
Covers = Callable[[str], bool]


@dataclass
class Placement:
    status: str  # ok | not_found | ambiguous
    match_level: str | None = None
    match_kind: str | None = (
        None  # finer: door, interpolated, building, compound, poi, intersection, road, region
    )
    point: tuple[float, float] | None = None
    confidence: float = 0.0
    region: Entity | None = None  # deepest region understood from the text
    road: Entity | None = None
    door: Door | None = None
    entity: Entity | None = None  # place or POI
    building: str | None = None
    components: dict[str, str] = field(default_factory=dict)
    unit: str | None = None
    floor: str | None = None
    room: str | None = None
    grid_code: str = ""  # known from the gazetteer row (doors, places, POIs)
    region_code: str = ""
    message: str = ""
    candidates: list[dict] = field(default_factory=list)


def _components(st: State) -> dict[str, str]:
    out: dict[str, str] = {}
    rest = []
    for tok in st.tokens:
        if tok.kind == Kind.REGION:
            out[LEVEL_NAMES[tok.entity.level]] = tok.text
        elif tok.kind == Kind.ROAD:
            out["road" if "road" not in out else "cross_road"] = tok.text
        elif tok.kind == Kind.PLACE:
            out["compound" if tok.entity.category == "compound" else "area"] = tok.text
        elif tok.kind == Kind.POI:
            out["poi"] = tok.text
        elif tok.kind in _COMPONENT:
            out[_COMPONENT[tok.kind]] = tok.text
        elif tok.kind in ("skip", "conflict"):
            rest.append(tok.text)
    if rest:
        out["rest"] = "".join(rest)
    return out


def _interpolate(gaz: Gazetteer, road: Entity, number: int, doors: list[Door]) -> tuple[float, float] | None:
    """Between the nearest lower and higher numbers on the same side, along the centre line."""
    same_side = [d for d in doors if d.number % 2 == number % 2 and not d.suffix]
    lower = max((d for d in same_side if d.number < number), key=lambda d: d.number, default=None)
    higher = min((d for d in same_side if d.number > number), key=lambda d: d.number, default=None)
    if lower is None or higher is None:
        return None
    line = gaz.road_line(road)
    if line.geom_type == "MultiLineString":  # the part both neighbours are nearest to
        mid = Point((lower.point[0] + higher.point[0]) / 2, (lower.point[1] + higher.point[1]) / 2)
        line = min(line.geoms, key=lambda g: g.distance(mid))
    a, b = Point(lower.point), Point(higher.point)
    da, db = line.project(a), line.project(b)
    f = (number - lower.number) / (higher.number - lower.number)
    on_line = line.interpolate(da + (db - da) * f)
    # keep the side of the road: the neighbours' offsets from the centre line, interpolated too
    pa, pb = line.interpolate(da), line.interpolate(db)
    ox = (a.x - pa.x) + ((b.x - pb.x) - (a.x - pa.x)) * f
    oy = (a.y - pa.y) + ((b.y - pb.y) - (a.y - pa.y)) * f
    return (on_line.x + ox, on_line.y + oy)


def _intersection(gaz: Gazetteer, a: Entity, b: Entity) -> tuple[float, float] | None:
    cross = shapely.intersection(gaz.road_line(a), gaz.road_line(b))
    if cross.is_empty:
        return None
    pt = cross.centroid if cross.geom_type != "Point" else cross
    return (pt.x, pt.y)


def _offset(point: tuple[float, float], dx: float, dy: float) -> tuple[float, float]:
    lon, lat = point
    return (lon + dx / (_M_PER_DEG * math.cos(math.radians(lat))), lat + dy / _M_PER_DEG)


def _region_point(region: Entity | None, gaz: Gazetteer) -> tuple[Entity | None, tuple[float, float] | None]:
    if region is None:
        return None, None
    for r in reversed(gaz.chain(region.code)):
        if r.point is not None:
            return r, r.point
    return region, None


def _place_state(st: State, gaz: Gazetteer, covers: Covers | None) -> Placement:
    pl = Placement(status="ok", region=st.ctx, road=st.road, components=_components(st))
    lost = 1.0  # details asked for but not found
    values = {t.kind: t.value for t in st.tokens if t.value}
    door_v, building_v = values.get("door"), values.get("building")
    pl.unit = values.get("unit", {}).get("number")
    pl.floor = values.get("floor", {}).get("number")
    pl.room = values.get("room", {}).get("number")
    sub = st.sub
    if st.road is not None and st.road2 is not None:
        pt = _intersection(gaz, st.road, st.road2)
        if pt is not None:
            pl.point, pl.match_level, pl.match_kind = pt, "road", "intersection"
    if pl.point is None and st.road is not None and door_v:
        number, suffix = door_v["number"], door_v["suffix"]
        doors = [d for d in gaz.road_doors(st.road) if covers is None or covers(d.grid_code)]
        exact = next((d for d in doors if d.number == number and d.suffix == suffix), None)
        if exact is None and suffix:
            exact = next((d for d in doors if d.number == number and not d.suffix), None)
            lost *= 0.9
        if exact is not None:
            pl.door, pl.point, pl.match_level, pl.match_kind = exact, exact.point, "door", "door"
            pl.grid_code, pl.region_code = exact.grid_code, exact.region_code
        elif (pt := _interpolate(gaz, st.road, number, doors)) is not None:
            pl.point, pl.match_level, pl.match_kind = pt, "interpolated", "interpolated"
        else:
            lost *= 0.85
    if building_v:
        parent = None
        if sub is not None and sub.kind == Kind.PLACE:
            parent = ("place", sub.id)
        elif pl.door is not None:
            parent = ("door", pl.door.id)
        found = gaz.buildings.get(parent, {}).get(building_v["number"]) if parent else None
        if found is not None and covers is not None and not covers(found.grid_code):
            found = None
        if found is not None:
            pl.point, pl.match_level, pl.match_kind = found.point, "building", "building"
            pl.grid_code, pl.region_code = found.grid_code, found.region_code
            pl.building = building_v["number"]
        else:
            lost *= 0.9
    if sub is not None and pl.match_level not in ("building",):
        if pl.point is None or pl.match_kind in ("intersection",):
            pl.entity = sub
            pl.point, pl.match_level = sub.point, "poi"
            pl.match_kind = "compound" if sub.kind == Kind.PLACE else "poi"
            pl.grid_code, pl.region_code = sub.grid_code, sub.region_code
    elif sub is not None:
        pl.entity = sub
    if pl.point is None and st.road is not None:
        pl.point, pl.match_level, pl.match_kind = st.road.point, "road", "road"
    if pl.point is None:
        region, point = _region_point(st.ctx, gaz)
        if region is None:
            return Placement(
                status="not_found",
                components=pl.components,
                message="未能识别地址中的任何行政区划、道路或地名",
            )
        pl.match_level, pl.match_kind, pl.point = LEVEL_NAMES[region.level], "region", point
        if region is not st.ctx:
            lost *= 0.8  # the region named has no point on record: its ancestor's
        if point is None:
            pl.message = f"{region.name}无空间数据，只能给出行政区划"
        if "road" in pl.components and not st.road:
            pl.message = f"道路“{pl.components['road']}”不在地名库中，定位到{region.name}"
    offset = values.get("offset")
    if offset and pl.point is not None:
        pl.point = _offset(pl.point, offset["dx"], offset["dy"])
        pl.grid_code = pl.region_code = ""  # moved: to be located again
        lost *= 0.95
    conflicts = [t.text for t in st.tokens if t.kind == "conflict"]
    if conflicts:
        lost *= 0.6 ** len(conflicts)
        where = st.ctx.name if st.ctx is not None else ""
        pl.message = pl.message or f"“{'、'.join(conflicts)}”不在{where}内，已按{where}定位"
    typos = 0.85**st.typos
    skipped = 0.96 ** min(st.skipped, 10)
    alias = min((t.weight for t in st.tokens if t.entity is not None), default=1.0)
    pl.confidence = round(_BASE[pl.match_level] * lost * typos * skipped * alias, 3)
    return pl


def _identity(pl: Placement) -> tuple:
    if pl.door is not None:
        return ("door", pl.door.id)
    if pl.point is not None:
        return ("point", round(pl.point[0], 3), round(pl.point[1], 3), pl.match_level)
    return ("region", pl.region.code if pl.region else None)


def place(parsed: Parse, gaz: Gazetteer, *, covers: Covers | None = None) -> Placement:
    """Place the best parse; if the best parses disagree, answer with what they share.

    ``covers(grid_code)`` limits door plates and buildings to those a caller may see.
    """
    placements = [_place_state(st, gaz, covers) for st in parsed.best[:6]]
    distinct = {}
    for pl in placements:
        distinct.setdefault(_identity(pl), pl)
    if len(distinct) == 1:
        return placements[0]
    # ambiguous: keep the deepest region every reading agrees on
    codes = [pl.region.code if pl.region else "" for pl in distinct.values()]
    common = None
    for r in gaz.chain(codes[0]) if codes[0] else []:
        if all(c.startswith(r.prefix) for c in codes):
            common = r
    candidates = [
        {
            "address": gaz.chain_name(pl.region.code) if pl.region else "",
            "match_level": pl.match_level,
            "region_code": pl.region.code if pl.region else None,
        }
        for pl in distinct.values()
    ]
    first = placements[0]
    names = "、".join(c["address"] for c in candidates)
    if common is None:
        return Placement(
            status="ambiguous",
            components=first.components,
            message=f"地址有多种可能（{names}），请给出所在城市",
            candidates=candidates,
        )
    region, point = _region_point(common, gaz)
    return Placement(
        status="ambiguous",
        match_level=LEVEL_NAMES[region.level],
        match_kind="region",
        point=point,
        confidence=round(_BASE[LEVEL_NAMES[region.level]] * 0.5, 3),
        region=region,
        components=first.components,
        message=f"地址有多种可能（{names}），只定位到共同的{region.name}",
        candidates=candidates,
    )
