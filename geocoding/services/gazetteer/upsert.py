"""The bulk upserts (and dry checks) of 地片/小区, door plates, building plates and POIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from shapely.geometry.base import BaseGeometry

from gis_core.errors import InvalidInput
from gis_core.geometry import GeometryProblem, polygonal
from gis_core.signals import model_values, rows_written

from ...models import Building, DoorPlate, Place, PlaceKind, Poi, Street
from .inputs import (
    BuildingInput,
    DoorInput,
    PlaceInput,
    PoiInput,
    PointWhere,
    RowProblem,
    clean_aliases,
    door_suffix,
    raise_problems,
)
from .resolve import ByName, as_point, district_names, door_refs, duplicates, locate_items, point_where

__all__ = [
    "buildings_check",
    "buildings_upsert",
    "doors_check",
    "doors_upsert",
    "places_check",
    "places_upsert",
    "pois_check",
    "pois_upsert",
    "row_locate",
]


def _set_location(obj: Any, point: BaseGeometry, where: PointWhere) -> None:
    p = as_point(point)
    obj.geom = GEOSGeometry(f"POINT ({p.x!r} {p.y!r})", srid=4326)  # type: ignore[union-attr]
    obj.grid_code = where.grid_code
    obj.region_code = where.region_code
    obj.district_code = where.district_code


def _save(model: type[models.Model], rows: list[Any], fields: list[str], before: dict) -> tuple[int, int]:
    """Insert new rows and update the others in bulk; report the change to the audit trail."""
    now = timezone.now()
    new = [r for r in rows if r.pk is None]
    old = [r for r in rows if r.pk is not None]
    for row in old:
        row.updated_at = now
    model._default_manager.bulk_create(new, batch_size=2000)
    model._default_manager.bulk_update(old, [*fields, "updated_at"], batch_size=2000)
    rows_written.send(
        model,
        changes=[(r.pk, r.grid_code or r.region_code, before.get(r.pk), model_values(r)) for r in rows],
    )
    return len(new), len(old)


_LOCATED = ["geom", "grid_code", "region_code", "district_code"]


def _row(problem: RowProblem) -> int:
    return problem.index


def _named_rows(model: type[models.Model], items: Sequence[Any], wheres: Sequence[Any]) -> dict:
    """The stored rows of a model keyed by (district, name) that the items may update."""
    names = {i.name.strip() for i in items}
    found = model._default_manager.filter(district_code__in={w.district_code for w in wheres}, name__in=names)
    return {(r.district_code, r.name): r for r in found}


def _name_key(name: str, where: PointWhere | None) -> tuple[str, str] | None:
    """The upsert key of a named row ((district, name)), None if it has none."""
    name = (name or "").strip()
    return (where.district_code, name) if where and name else None


def row_locate(*, obj: Place | DoorPlate | Building | Poi) -> None:
    """Fill one hand-edited row's grid, region and district from its point (the admin saves it).

    InvalidInput if the point lies outside every district, or a door plate outside the district
    of its street's row.
    """
    if obj.geom is None:
        raise InvalidInput("缺少位置", details={"geometry": None})
    where = point_where(shapely.from_wkb(bytes(obj.geom.wkb)))
    if isinstance(obj, DoorPlate):
        obj.suffix = door_suffix(obj.suffix)
        if obj.street_id and obj.street.district_code != where.district_code:
            raise InvalidInput(
                f"门牌位置不在道路“{obj.street.name}”所在区县（{obj.street.district_code}）内",
                details={"geometry": where.district_code},
            )
    obj.grid_code = where.grid_code
    obj.region_code = where.region_code
    obj.district_code = where.district_code


# ------------------------------------------------------------------------------------ places


def _places(items: Sequence[PlaceInput]):
    wheres, problems = locate_items(items)
    doors, door_problems = door_refs(items, wheres)
    problems += door_problems
    outlines: list[BaseGeometry | None] = []
    for i, item in enumerate(items):
        if not (item.name or "").strip():
            problems.append(RowProblem(i, "name", "缺少名称"))
        if item.kind not in PlaceKind.values:
            choices = "、".join(f"{v}（{label}）" for v, label in PlaceKind.choices)
            problems.append(RowProblem(i, "kind", f"类型“{item.kind}”无效，可选：{choices}"))
        outline = None
        if item.outline is not None:
            try:
                outline = polygonal(item.outline)
            except GeometryProblem as exc:
                problems.append(RowProblem(i, "outline", f"范围无效：{exc}"))
        outlines.append(outline)
    keys = [_name_key(i.name, w) for i, w in zip(items, wheres, strict=True)]
    problems += duplicates(keys, "name", "名称（同一区县内）")
    return wheres, doors, outlines, problems


def places_check(*, items: Sequence[PlaceInput]) -> list[RowProblem]:
    """Every problem that would stop :func:`places_upsert`, by row (nothing written)."""
    return sorted(_places(items)[3], key=_row)


@transaction.atomic
def places_upsert(*, items: Sequence[PlaceInput]) -> tuple[int, int]:
    """Create or update 地片/小区 by (district, name); returns (created, updated)."""
    wheres, doors, outlines, problems = _places(items)
    raise_problems(problems)
    existing = _named_rows(Place, items, wheres)
    before = {p.pk: model_values(p) for p in existing.values()}
    rows = []
    for item, where, door, outline in zip(items, wheres, doors, outlines, strict=True):
        name = item.name.strip()
        place = existing.get((where.district_code, name)) or Place(name=name)
        _set_location(place, item.point, where)
        place.kind = item.kind
        place.aliases = clean_aliases(item.aliases, name)
        place.outline = GEOSGeometry(memoryview(outline.wkb), srid=4326) if outline is not None else None
        place.door = door
        rows.append(place)
    return _save(Place, rows, [*_LOCATED, "kind", "aliases", "outline", "door"], before)


# ------------------------------------------------------------------------------------- doors


def _doors(items: Sequence[DoorInput]):
    wheres, problems = locate_items(items)
    streets = ByName(Street, {i.street.strip() for i in items}, {w.district_code for w in wheres if w})
    names = district_names(wheres)
    resolved: list[Street | None] = []
    for i, (item, where) in enumerate(zip(items, wheres, strict=True)):
        name = (item.street or "").strip()
        street = None
        if not name:
            problems.append(RowProblem(i, "street", "缺少道路名称"))
        elif where is not None:
            here = where.district_code
            street = next((s for s in streets.find(name, here) if s.district_code == here), None)
            if street is None:
                problems.append(RowProblem(i, "street", f"{names.get(here, here)}没有道路“{name}”"))
        if not isinstance(item.number, int) or item.number < 1:
            problems.append(RowProblem(i, "number", f"门牌号应为正整数，实际为“{item.number}”"))
        resolved.append(street)
    keys = [
        (s.pk, i.number, door_suffix(i.suffix)) if s else None for i, s in zip(items, resolved, strict=True)
    ]
    problems += duplicates(keys, "number", "门牌")
    return wheres, resolved, problems


def doors_check(*, items: Sequence[DoorInput]) -> list[RowProblem]:
    """Every problem that would stop :func:`doors_upsert`, by row (nothing written)."""
    return sorted(_doors(items)[2], key=_row)


@transaction.atomic
def doors_upsert(*, items: Sequence[DoorInput]) -> tuple[int, int]:
    """Create or update door plates by (street, number, suffix); returns (created, updated).

    The street is the one of that name (or alias) in the district containing the point; a
    street unknown there is an error, as is a point outside every district.
    """
    wheres, streets, problems = _doors(items)
    raise_problems(problems)
    existing = {
        (d.street_id, d.number, d.suffix): d
        for d in DoorPlate.objects.filter(
            street_id__in={s.pk for s in streets}, number__in={i.number for i in items}
        )
    }
    before = {d.pk: model_values(d) for d in existing.values()}
    rows = []
    for item, where, street in zip(items, wheres, streets, strict=True):
        suffix = door_suffix(item.suffix)
        door = existing.get((street.pk, item.number, suffix)) or DoorPlate(
            street=street, number=item.number, suffix=suffix
        )
        _set_location(door, item.point, where)
        rows.append(door)
    return _save(DoorPlate, rows, _LOCATED, before)


# --------------------------------------------------------------------------------- buildings


def _buildings(items: Sequence[BuildingInput]):
    wheres, problems = locate_items(items)
    doors, door_problems = door_refs(items, wheres)
    problems += door_problems
    places = ByName(Place, {i.place.strip() for i in items}, {w.district_code for w in wheres if w})
    resolved: list[Place | None] = []
    for i, (item, where) in enumerate(zip(items, wheres, strict=True)):
        name = (item.place or "").strip()
        place = places.find(name, where.district_code)[:1] if name and where else []
        if name and where and not place:
            problems.append(RowProblem(i, "place", f"小区“{name}”不存在"))
        if not name and item.door is None:
            problems.append(RowProblem(i, "place", "楼牌应属于一个小区或一个门牌"))
        if not (item.number or "").strip():
            problems.append(RowProblem(i, "number", "缺少楼号"))
        resolved.append(place[0] if place else None)
    # only rows whose parents all resolved can clash
    keys = [
        (p.pk if p else None, d.pk if d else None, i.number.strip())
        if (p or d) and bool(p) == bool(i.place.strip()) and bool(d) == bool(i.door)
        else None
        for i, p, d in zip(items, resolved, doors, strict=True)
    ]
    problems += duplicates(keys, "number", "楼号")
    return wheres, resolved, doors, problems


def buildings_check(*, items: Sequence[BuildingInput]) -> list[RowProblem]:
    """Every problem that would stop :func:`buildings_upsert`, by row (nothing written)."""
    return sorted(_buildings(items)[3], key=_row)


@transaction.atomic
def buildings_upsert(*, items: Sequence[BuildingInput]) -> tuple[int, int]:
    """Create or update building plates by (compound, door plate, number); returns (created, updated)."""
    wheres, places, doors, problems = _buildings(items)
    raise_problems(problems)
    place_ids = {p.pk for p in places if p}
    door_ids = {d.pk for d in doors if d}
    existing = {
        (b.place_id, b.door_id, b.number): b
        for b in Building.objects.filter(
            Q(place_id__in=place_ids) | Q(door_id__in=door_ids), number__in={i.number.strip() for i in items}
        )
    }
    before = {b.pk: model_values(b) for b in existing.values()}
    rows = []
    for item, where, place, door in zip(items, wheres, places, doors, strict=True):
        number = item.number.strip()
        key = (place.pk if place else None, door.pk if door else None, number)
        building = existing.get(key) or Building(place=place, door=door, number=number)
        _set_location(building, item.point, where)
        rows.append(building)
    return _save(Building, rows, _LOCATED, before)


# -------------------------------------------------------------------------------------- POIs


def _pois(items: Sequence[PoiInput]):
    wheres, problems = locate_items(items)
    doors, door_problems = door_refs(items, wheres)
    problems += door_problems
    for i, item in enumerate(items):
        if not (item.name or "").strip():
            problems.append(RowProblem(i, "name", "缺少名称"))
        if not (item.category or "").strip():
            problems.append(RowProblem(i, "category", "缺少类别"))
    keys = [_name_key(i.name, w) for i, w in zip(items, wheres, strict=True)]
    problems += duplicates(keys, "name", "名称（同一区县内）")
    return wheres, doors, problems


def pois_check(*, items: Sequence[PoiInput]) -> list[RowProblem]:
    """Every problem that would stop :func:`pois_upsert`, by row (nothing written)."""
    return sorted(_pois(items)[2], key=_row)


@transaction.atomic
def pois_upsert(*, items: Sequence[PoiInput]) -> tuple[int, int]:
    """Create or update POIs by (district, name); returns (created, updated)."""
    wheres, doors, problems = _pois(items)
    raise_problems(problems)
    existing = _named_rows(Poi, items, wheres)
    before = {p.pk: model_values(p) for p in existing.values()}
    rows = []
    for item, where, door in zip(items, wheres, doors, strict=True):
        name = item.name.strip()
        poi = existing.get((where.district_code, name)) or Poi(name=name)
        _set_location(poi, item.point, where)
        poi.category = item.category.strip()
        poi.aliases = clean_aliases(item.aliases, name)
        poi.door = door
        rows.append(poi)
    return _save(Poi, rows, [*_LOCATED, "category", "aliases", "door"], before)
