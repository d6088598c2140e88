"""Where gazetteer points lie, and the streets, compounds and door plates rows name.

Point location goes through gis_core's in-memory locator index in one pass; names are
looked up with one query per kind for a whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.db import models
from django.db.models import Q
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from gis_core.codes import prefix_of
from gis_core.errors import InvalidInput
from gis_core.models import Region, RegionLevel
from gis_core.selectors.locate import locate_points

from ...models import DoorPlate, Street
from .inputs import DoorRef, PointWhere, RowProblem, door_suffix

__all__ = [
    "ByName",
    "DoorIndex",
    "as_point",
    "district_names",
    "door_refs",
    "duplicates",
    "locate_items",
    "point_where",
    "points_locate",
]


def as_point(geom: BaseGeometry | None) -> Point | None:
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "MultiPoint" and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if geom.geom_type != "Point" or not (math.isfinite(geom.x) and math.isfinite(geom.y)):
        return None
    return Point(geom.x, geom.y)


def points_locate(points: Sequence[BaseGeometry | None]) -> list[PointWhere | None]:
    """Where each point lies (None if it is not a point or lies outside every district).

    One pass through the in-memory locator index for all points (no SQL per point).
    """
    pts = [as_point(p) for p in points]
    found = [i for i, p in enumerate(pts) if p is not None]
    out: list[PointWhere | None] = [None] * len(pts)
    if not found:
        return out
    lons = np.array([pts[i].x for i in found])  # type: ignore[union-attr]
    lats = np.array([pts[i].y for i in found])  # type: ignore[union-attr]
    for i, loc in zip(found, locate_points(lons, lats), strict=True):
        if not loc.regions or loc.regions[-1]["level"] < RegionLevel.DISTRICT:
            continue
        deepest = loc.regions[-1]["code"]
        grid = loc.grid["code"] if loc.grid else ""
        out[i] = PointWhere(grid, deepest, prefix_of(deepest, RegionLevel.DISTRICT).ljust(12, "0"))
    return out


def point_where(point: BaseGeometry) -> PointWhere:
    """Where one point lies; InvalidInput if it is not a point or outside every district."""
    where = points_locate([point])[0]
    if where is None:
        raise InvalidInput("位置应为一个点，且在某个区县内", details={"geometry": "outside"})
    return where


def locate_items(items: Sequence[Any]) -> tuple[list[PointWhere | None], list[RowProblem]]:
    wheres = points_locate([i.point for i in items])
    problems = []
    for i, (item, where) in enumerate(zip(items, wheres, strict=True)):
        point = as_point(item.point)
        if point is None:
            kind = "无" if item.point is None else item.point.geom_type
            problems.append(RowProblem(i, "geometry", f"位置应为一个点（Point），实际为 {kind}"))
        elif where is None:
            problems.append(RowProblem(i, "geometry", f"位置 ({point.x:.6f}, {point.y:.6f}) 不在任何区县内"))
    return wheres, problems


def district_names(wheres: Iterable[PointWhere | None]) -> dict[str, str]:
    codes = {w.district_code for w in wheres if w is not None}
    return dict(Region.objects.filter(code__in=codes).values_list("code", "name"))


class ByName:
    """Rows of a named model (name or alias) in the cities of some districts, in one query.

    ``find`` lists the matches in the given district first, then the rest of its city; a match
    on the name beats a match on an alias.
    """

    def __init__(self, model: type[models.Model], names: set[str], districts: set[str]) -> None:
        self.rows: dict[tuple[str, str], list[Any]] = {}
        names = {n for n in names if n}
        if not names or not districts:
            return
        in_cities = Q(pk__in=[])
        for city in {d[:4] for d in districts}:
            in_cities |= Q(district_code__startswith=city)
        found = model._default_manager.filter(in_cities, Q(name__in=names) | Q(aliases__overlap=list(names)))
        for obj in found:
            for key in dict.fromkeys([obj.name, *obj.aliases]):
                self.rows.setdefault((obj.district_code[:4], key), []).append(obj)

    def find(self, name: str, district: str) -> list[Any]:
        hits = self.rows.get((district[:4], name), [])
        return sorted(
            hits, key=lambda o: (o.district_code != district, o.name != name, o.district_code, o.pk)
        )


class DoorIndex:
    """Door plates named by :class:`DoorRef`, resolved around each point (two queries)."""

    def __init__(self, refs: Sequence[DoorRef | None], wheres: Sequence[PointWhere | None]) -> None:
        districts = {w.district_code for w, r in zip(wheres, refs, strict=True) if w and r}
        self.streets = ByName(Street, {r.street.strip() for r in refs if r}, districts)
        street_ids = [s.pk for rows in self.streets.rows.values() for s in rows]
        numbers = {r.number for r in refs if r}
        self.doors = {
            (d.street_id, d.number, d.suffix): d
            for d in DoorPlate.objects.filter(street_id__in=street_ids, number__in=numbers)
        }

    def find(self, ref: DoorRef, district: str) -> DoorPlate | None:
        for street in self.streets.find(ref.street.strip(), district):
            door = self.doors.get((street.pk, ref.number, door_suffix(ref.suffix)))
            if door is not None:
                return door
        return None


def door_refs(items: Sequence[Any], wheres: Sequence[PointWhere | None]) -> tuple[list, list[RowProblem]]:
    """The door plate each item names (None where it names none), and the ones not found."""
    index = DoorIndex([i.door for i in items], wheres)
    doors, problems = [], []
    for i, (item, where) in enumerate(zip(items, wheres, strict=True)):
        door = index.find(item.door, where.district_code) if item.door and where else None
        if item.door and where and door is None:
            problems.append(RowProblem(i, "door", f"门牌“{item.door.label}”不存在"))
        doors.append(door)
    return doors, problems


def duplicates(keys: Sequence[Any], field_name: str, label: str) -> list[RowProblem]:
    first: dict[Any, int] = {}
    problems = []
    for i, key in enumerate(keys):
        if key is None:
            continue
        if key in first:
            problems.append(RowProblem(i, field_name, f"{label}与第 {first[key] + 1} 行重复"))
        first.setdefault(key, i)
    return problems
