"""The gazetteer import/export layers, registered with gis_core in GeocodingConfig.ready.

``streets`` (centre lines), ``places`` (地片/小区), ``doors`` (门牌), ``buildings`` (楼牌) and
``pois`` (兴趣点). Columns are matched by their English names or common Chinese and pinyin-initial
ones (门牌号/mph, 道路名称/dlmc, 小区名称/xqmc, 楼号/lh, 类别/lb, 别名/bm …); aliases in one cell are
separated by any of ；;，,、|｜. ``clean_row`` parses a row, ``check_rows`` asks the layer's
service for every remaining problem (unknown street, compound or door plate, duplicates), and
``write`` calls the service, so an import checks exactly what the service would.

Each cleaned row carries ``code``: the grid (or region) the point lies in — for a street the
common region of the districts it runs through — which the import service tests against the
importer's jurisdiction. Exports carry the same ``code`` and the same columns, so an exported
file imports again unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from shapely import wkb

from gis_core.imports.registry import ImportLayer, RowError

from .models import Building, DoorPlate, Place, PlaceKind, Poi, Street, StreetKind
from .services.gazetteer import (
    BuildingInput,
    DoorInput,
    DoorRef,
    PlaceInput,
    PoiInput,
    PointWhere,
    RowProblem,
    buildings_check,
    buildings_upsert,
    door_suffix,
    doors_check,
    doors_upsert,
    places_check,
    places_upsert,
    points_locate,
    pois_check,
    pois_upsert,
)
from .services.gazetteer.resolve import as_point
from .services.streets import StreetInput, streets_check, streets_cut, streets_upsert

__all__ = ["BUILDING_LAYER", "DOOR_LAYER", "GAZETTEER_LAYERS", "PLACE_LAYER", "POI_LAYER", "STREET_LAYER"]

ALIAS_SEPARATORS = re.compile(r"[；;，,、|｜]")
_DOOR_NUMBER = re.compile(r"^(\d+)\s*(?:[-之附]\s*(\d+))?\s*号?$")
_BUILDING_NUMBER = re.compile(r"^(.+?)\s*(?:号楼|栋|幢|号|楼)$")
_KINDS_STREET = {"": "", **{v: v for v in StreetKind.values}, **{label: v for v, label in StreetKind.choices}}
_KINDS_PLACE = {
    "": PlaceKind.COMPOUND,
    "compound": PlaceKind.COMPOUND,
    "小区": PlaceKind.COMPOUND,
    "住宅小区": PlaceKind.COMPOUND,
    "area": PlaceKind.AREA,
    "地片": PlaceKind.AREA,
    "区片": PlaceKind.AREA,
    "地片/区片": PlaceKind.AREA,
}
_NAME = ("名称", "mc", "name")
_ALIASES = ("别名", "曾用名", "bm", "cym", "alias")
_STREET = ("道路名称", "路名", "街路巷名称", "街路巷", "道路", "dlmc", "jlxmc", "road")
_DOOR = {
    "street": _STREET,
    "door_number": ("门牌号", "门牌", "mph"),
    "door_suffix": ("门牌附号", "附号", "fh"),
}


@dataclass(frozen=True)
class Cleaned:
    """A parsed row: the service input, and the code the importer's jurisdiction must cover."""

    code: str
    item: Any


# --------------------------------------------------------------------------- parsing cells


def _text(row: dict[str, Any], field: str) -> str:
    value = row.get(field)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _aliases(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(a.strip() for a in ALIAS_SEPARATORS.split(_text(row, "aliases")) if a.strip())


def _door_number(row: dict[str, Any], number_field: str, suffix_field: str) -> tuple[int, str] | None:
    """(number, suffix) of a door plate; "12", "12号", "１２", "12-1号" and "12之1" all read."""
    text = unicodedata.normalize("NFKC", _text(row, number_field)).replace("—", "-")
    text = re.sub(r"^(\d+)\.0+$", r"\1", text)  # a number column that spreadsheets made float
    if not text:
        return None
    match = _DOOR_NUMBER.match(text)
    if match is None or int(match[1]) < 1:
        raise RowError(number_field, f"门牌号应为正整数（可带附号，如 12-1），实际为“{text}”")
    suffix = door_suffix(unicodedata.normalize("NFKC", _text(row, suffix_field)))
    if match[2] and suffix and suffix != f"-{match[2]}":
        raise RowError(suffix_field, f"附号“{suffix}”与门牌号“{text}”不一致")
    return int(match[1]), suffix or door_suffix(match[2] or "")


def _door_ref(row: dict[str, Any]) -> DoorRef | None:
    street = _text(row, "street")
    number = _door_number(row, "door_number", "door_suffix")
    if not street and number is None:
        return None
    if not street:
        raise RowError("street", "有门牌号时需要道路名称")
    if number is None:
        raise RowError("door_number", "有道路名称时需要门牌号")
    return DoorRef(street, *number)


def _prepare_points(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Locate every row's point once for the whole file (one pass through the locator index)."""
    points = [as_point(r.get("geometry")) for r in rows]
    wheres = points_locate(points)
    return {"where": {(p.x, p.y): w for p, w in zip(points, wheres, strict=True) if p is not None}}


def _point(row: dict[str, Any], ctx: dict[str, Any]) -> tuple[Any, PointWhere]:
    geom = row.get("geometry")
    point = as_point(geom)
    if point is None:
        kind = "无（CSV 需要 lon/lat 或 wkt 列）" if geom is None else geom.geom_type
        raise RowError("geometry", f"位置应为一个点（Point），实际为 {kind}")
    where = ctx["where"].get((point.x, point.y))
    if where is None:
        raise RowError("geometry", f"位置 ({point.x:.6f}, {point.y:.6f}) 不在任何区县内")
    return point, where


def _checked(check: Callable[..., list[RowProblem]]) -> Callable[[list[Cleaned]], Iterable]:
    def check_rows(cleaned: list[Cleaned]) -> Iterable[tuple[int, str, str]]:
        for problem in check(items=[c.item for c in cleaned]):
            yield problem.index, problem.field, problem.message

    return check_rows


def _written(upsert: Callable[..., tuple[int, int]]) -> Callable[[list[Cleaned]], dict[str, int]]:
    def write(cleaned: list[Cleaned]) -> dict[str, int]:
        created, updated = upsert(items=[c.item for c in cleaned])
        return {"created": created, "updated": updated}

    return write


# --------------------------------------------------------------------------- exporting


def _located(qs: QuerySet) -> QuerySet:
    """``code`` for region filters and jurisdiction checks: the grid code, else the region code."""
    return qs.annotate(code=Coalesce(NullIf(F("grid_code"), Value("")), F("region_code")))


def _location_props(obj: Any) -> dict[str, Any]:
    return {"grid_code": obj.grid_code, "region_code": obj.region_code, "district_code": obj.district_code}


def _door_props(door: DoorPlate | None) -> dict[str, Any]:
    if door is None:
        return {"street": "", "door_number": None, "door_suffix": ""}
    return {"street": door.street.name, "door_number": door.number, "door_suffix": door.suffix}


def _geometry(geom: Any) -> Any:
    return wkb.loads(bytes(geom.wkb)) if geom is not None else None


# --------------------------------------------------------------------------- streets


def _common_code(codes: Iterable[str]) -> str:
    """The deepest region code shared by some district codes (the city's for two of one city)."""
    codes = sorted(codes)
    for width in (6, 4, 2):
        if len({c[:width] for c in codes}) == 1:
            return codes[0][:width].ljust(12, "0")
    return "0" * 12


def _prepare_streets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    geoms = [r.get("geometry") for r in rows]
    cuts = streets_cut(geoms=[g if g is not None and "Line" in g.geom_type else None for g in geoms])
    return {"districts": {g.wkb: set(c) for g, c in zip(geoms, cuts, strict=True) if g is not None}}


def _clean_street(row: dict[str, Any], ctx: dict[str, Any]) -> Cleaned:
    name = _text(row, "name")
    if not name:
        raise RowError("name", "缺少道路名称")
    kind = _KINDS_STREET.get(_text(row, "kind").lower())
    if kind is None:
        raise RowError(
            "kind", f"道路类型“{_text(row, 'kind')}”无效，可选：大道/路/街/巷（avenue/road/street/lane）"
        )
    geom = row.get("geometry")
    if geom is None or geom.geom_type not in ("LineString", "MultiLineString"):
        kind_text = "无" if geom is None else geom.geom_type
        raise RowError("geometry", f"道路中心线应为线（LineString），实际为 {kind_text}")
    districts = ctx["districts"].get(geom.wkb)
    if not districts:
        raise RowError("geometry", "道路不在任何有边界的区县内")
    return Cleaned(
        _common_code(districts), StreetInput(name=name, kind=kind, geom=geom, aliases=_aliases(row))
    )


def _street_record(street: Street) -> tuple[dict[str, Any], Any]:
    props = {
        "code": street.code,
        "name": street.name,
        "kind": street.kind,
        "aliases": "；".join(street.aliases),
        "district_code": street.district_code,
        "length_m": round(street.length_m, 1),
    }
    return props, _geometry(street.geom)


STREET_LAYER = ImportLayer(
    name="streets",
    title="道路（街路巷）",
    columns={
        "name": (*_STREET, *_NAME),
        "kind": ("道路类型", "类型", "dllx", "lx", "type"),
        "aliases": _ALIASES,
    },
    clean_row=_clean_street,
    write=_written(streets_upsert),
    export_queryset=lambda: Street.objects.annotate(code=F("district_code")),
    export_record=_street_record,
    check_rows=_checked(streets_check),
    prepare=_prepare_streets,
)

# --------------------------------------------------------------------------- places


def _clean_place(row: dict[str, Any], ctx: dict[str, Any]) -> Cleaned:
    point, where = _point(row, ctx)
    kind = _KINDS_PLACE.get(_text(row, "kind").lower())
    if kind is None:
        raise RowError("kind", f"类型“{_text(row, 'kind')}”无效，可选：小区、地片/区片（compound/area）")
    outline = None
    if _text(row, "outline"):
        try:
            outline = shapely.from_wkt(_text(row, "outline"))
        except shapely.errors.GEOSException as exc:
            raise RowError("outline", f"范围 WKT 无法解析：{exc}") from None
    item = PlaceInput(
        name=_text(row, "name"),
        point=point,
        kind=kind,
        aliases=_aliases(row),
        outline=outline,
        door=_door_ref(row),
    )
    return Cleaned(where.code, item)


def _place_record(place: Place) -> tuple[dict[str, Any], Any]:
    props = {
        "code": place.code,
        "name": place.name,
        "kind": place.kind,
        "aliases": "；".join(place.aliases),
        **_door_props(place.door),
        "outline": place.outline.wkt if place.outline is not None else "",
        **_location_props(place),
    }
    return props, _geometry(place.geom)


PLACE_LAYER = ImportLayer(
    name="places",
    title="地片/小区",
    columns={
        "name": ("小区名称", "地片名称", "小区", "xqmc", "dpmc", *_NAME),
        "kind": ("类型", "lx", "type"),
        "aliases": _ALIASES,
        **_DOOR,
        "outline": ("范围", "轮廓", "fw"),
    },
    clean_row=_clean_place,
    write=_written(places_upsert),
    export_queryset=lambda: _located(Place.objects.select_related("door__street")),
    export_record=_place_record,
    check_rows=_checked(places_check),
    prepare=_prepare_points,
)

# --------------------------------------------------------------------------- door plates


def _clean_door(row: dict[str, Any], ctx: dict[str, Any]) -> Cleaned:
    point, where = _point(row, ctx)
    number = _door_number(row, "number", "suffix")
    if number is None:
        raise RowError("number", "缺少门牌号")
    return Cleaned(
        where.code, DoorInput(street=_text(row, "street"), number=number[0], suffix=number[1], point=point)
    )


def _door_record(door: DoorPlate) -> tuple[dict[str, Any], Any]:
    props = {
        "code": door.code,
        "street": door.street.name,
        "number": door.number,
        "suffix": door.suffix,
        **_location_props(door),
    }
    return props, _geometry(door.geom)


DOOR_LAYER = ImportLayer(
    name="doors",
    title="门牌",
    columns={
        "street": _STREET,
        "number": ("门牌号", "门牌", "mph", "号"),
        "suffix": ("门牌附号", "附号", "fh"),
    },
    clean_row=_clean_door,
    write=_written(doors_upsert),
    export_queryset=lambda: _located(DoorPlate.objects.select_related("street")),
    export_record=_door_record,
    check_rows=_checked(doors_check),
    prepare=_prepare_points,
)

# --------------------------------------------------------------------------- building plates


def _clean_building(row: dict[str, Any], ctx: dict[str, Any]) -> Cleaned:
    point, where = _point(row, ctx)
    number = unicodedata.normalize("NFKC", _text(row, "number"))
    match = _BUILDING_NUMBER.match(number)
    item = BuildingInput(
        number=match[1] if match else number, point=point, place=_text(row, "place"), door=_door_ref(row)
    )
    return Cleaned(where.code, item)


def _building_record(building: Building) -> tuple[dict[str, Any], Any]:
    props = {
        "code": building.code,
        "number": building.number,
        "place": building.place.name if building.place else "",
        **_door_props(building.door),
        **_location_props(building),
    }
    return props, _geometry(building.geom)


BUILDING_LAYER = ImportLayer(
    name="buildings",
    title="楼牌",
    columns={
        "number": ("楼号", "楼栋号", "栋号", "楼牌号", "lh", "ldh"),
        "place": ("小区名称", "小区", "xqmc"),
        **_DOOR,
    },
    clean_row=_clean_building,
    write=_written(buildings_upsert),
    export_queryset=lambda: _located(Building.objects.select_related("place", "door__street")),
    export_record=_building_record,
    check_rows=_checked(buildings_check),
    prepare=_prepare_points,
)

# --------------------------------------------------------------------------- POIs


def _clean_poi(row: dict[str, Any], ctx: dict[str, Any]) -> Cleaned:
    point, where = _point(row, ctx)
    item = PoiInput(
        name=_text(row, "name"),
        category=_text(row, "category"),
        point=point,
        aliases=_aliases(row),
        door=_door_ref(row),
    )
    return Cleaned(where.code, item)


def _poi_record(poi: Poi) -> tuple[dict[str, Any], Any]:
    props = {
        "code": poi.code,
        "name": poi.name,
        "category": poi.category,
        "aliases": "；".join(poi.aliases),
        **_door_props(poi.door),
        **_location_props(poi),
    }
    return props, _geometry(poi.geom)


POI_LAYER = ImportLayer(
    name="pois",
    title="兴趣点",
    columns={
        "name": ("兴趣点名称", "poi名称", "poimc", *_NAME),
        "category": ("类别", "分类", "类型", "lb", "fl", "lx"),
        "aliases": _ALIASES,
        **_DOOR,
    },
    clean_row=_clean_poi,
    write=_written(pois_upsert),
    export_queryset=lambda: _located(Poi.objects.select_related("door__street")),
    export_record=_poi_record,
    check_rows=_checked(pois_check),
    prepare=_prepare_points,
)

GAZETTEER_LAYERS: Sequence[ImportLayer] = (STREET_LAYER, PLACE_LAYER, DOOR_LAYER, BUILDING_LAYER, POI_LAYER)
