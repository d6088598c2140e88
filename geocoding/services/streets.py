"""Writes of streets (centre lines), cut by district on write.

A street crossing districts gets one row in each (see :class:`~geocoding.models.Street`);
the districts are the ones whose boundary the line meets, optionally limited to one city.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import shapely
from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.db import transaction
from pyproj import Geod
from shapely.geometry import MultiLineString
from shapely.geometry.base import BaseGeometry

from gis_core.models import Region, RegionLevel

from ..models import Street, StreetKind
from .gazetteer import RowProblem, clean_aliases, raise_problems

__all__ = ["StreetInput", "street_kind_of", "streets_check", "streets_cut", "streets_upsert"]

_GEOD = Geod(ellps="WGS84")
_SUFFIX_KIND = (("大道", StreetKind.AVENUE), ("路", StreetKind.ROAD), ("街", StreetKind.STREET))
_SUFFIX_KIND += (("巷", StreetKind.LANE), ("弄", StreetKind.LANE), ("胡同", StreetKind.LANE))


@dataclass(frozen=True)
class StreetInput:
    name: str
    kind: str  # a StreetKind value; "" to take it from the name's suffix
    geom: BaseGeometry  # LineString or MultiLineString, WGS84
    aliases: tuple[str, ...] = field(default=())


def street_kind_of(name: str) -> str:
    """The kind a street name implies (…大道 avenue, …路 road, …街 street, …巷/弄/胡同 lane; else road)."""
    return next((kind for suffix, kind in _SUFFIX_KIND if name.endswith(suffix)), StreetKind.ROAD)


def _lines(geom: BaseGeometry) -> MultiLineString | None:
    parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "LineString" and not g.is_empty]
    parts += [p for g in getattr(geom, "geoms", []) if g.geom_type == "MultiLineString" for p in g.geoms]
    return MultiLineString(parts) if parts else None


def streets_cut(
    *, geoms: Sequence[BaseGeometry], city_code: str | None = None
) -> list[dict[str, MultiLineString]]:
    """For each line, its pieces by district code (districts with a boundary; one query for all lines).

    A line on a boundary shared by two districts belongs to both.
    """
    boxes = [g.bounds for g in geoms if g is not None and not g.is_empty]
    if not boxes:
        return [{} for _ in geoms]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    envelope = Polygon.from_bbox((x0 - 1e-9, y0 - 1e-9, x1 + 1e-9, y1 + 1e-9))
    envelope.srid = 4326
    districts = Region.objects.filter(level=RegionLevel.DISTRICT, geom__intersects=envelope)
    if city_code:
        districts = districts.filter(code__startswith=city_code[:4])
    shapes = [
        (code, shapely.from_wkb(bytes(geom.wkb))) for code, geom in districts.values_list("code", "geom")
    ]
    shapely.prepare([s for _, s in shapes])
    out: list[dict[str, MultiLineString]] = []
    for geom in geoms:
        pieces: dict[str, MultiLineString] = {}
        for code, shape in shapes if geom is not None else ():
            if shape.intersects(geom):
                piece = _lines(shapely.line_merge(shape.intersection(geom)))
                if piece is not None:
                    pieces[code] = piece
        out.append(pieces)
    return out


def _problems(items: Sequence[StreetInput], cuts: list[dict[str, MultiLineString]]) -> list[RowProblem]:
    problems = []
    for i, (item, pieces) in enumerate(zip(items, cuts, strict=True)):
        if not (item.name or "").strip():
            problems.append(RowProblem(i, "name", "缺少道路名称"))
        if item.kind and item.kind not in StreetKind.values:
            choices = "、".join(f"{v}（{label}）" for v, label in StreetKind.choices)
            problems.append(RowProblem(i, "kind", f"道路类型“{item.kind}”无效，可选：{choices}"))
        lines = _lines(item.geom) if item.geom is not None else None
        if lines is None:
            kind = item.geom.geom_type if item.geom is not None else "无"
            problems.append(RowProblem(i, "geometry", f"道路中心线应为线（LineString），实际为 {kind}"))
        elif not all(math.isfinite(v) for v in shapely.get_coordinates(lines).ravel()):
            problems.append(RowProblem(i, "geometry", "坐标含有非数值（NaN/Infinity）"))
        elif not pieces:
            problems.append(RowProblem(i, "geometry", "道路不在任何有边界的区县内"))
    return problems


def streets_check(*, items: Sequence[StreetInput], city_code: str | None = None) -> list[RowProblem]:
    """Every problem that would stop :func:`streets_upsert`, by row (nothing written)."""
    return _problems(items, streets_cut(geoms=[i.geom for i in items], city_code=city_code))


@transaction.atomic
def streets_upsert(*, items: Sequence[StreetInput], city_code: str | None = None) -> tuple[int, int]:
    """Cut each street by district and store one row per district; returns (created, updated).

    ``city_code`` limits the cut to that city's districts (the demo city); without it any
    district with a boundary counts. A street outside every district is an error (nothing
    written). Items with the same name are parts of one street (files often split a street into
    several features): their lines and aliases are merged. A street keyed by (district, name)
    is updated in place: line, kind and aliases replaced.
    """
    cuts = streets_cut(geoms=[i.geom for i in items], city_code=city_code)
    raise_problems(_problems(items, cuts))
    merged: dict[str, tuple[list[str], list[str], dict[str, list[MultiLineString]]]] = {}
    for item, pieces in zip(items, cuts, strict=True):
        kinds, aliases, by_district = merged.setdefault(item.name.strip(), ([], [], {}))
        kinds.append(item.kind)
        aliases.extend(item.aliases)
        for code, piece in pieces.items():
            by_district.setdefault(code, []).append(piece)
    created = updated = 0
    for name, (kinds, aliases, by_district) in merged.items():
        for code, pieces in by_district.items():
            lines = pieces[0]
            if len(pieces) > 1:
                lines = _lines(shapely.line_merge(shapely.union_all(pieces))) or lines
            _, was_created = Street.objects.update_or_create(
                district_code=code,
                name=name,
                defaults={
                    "kind": next((k for k in kinds if k), "") or street_kind_of(name),
                    "aliases": clean_aliases(aliases, name),
                    "geom": GEOSGeometry(memoryview(lines.wkb), srid=4326),
                    "length_m": _GEOD.geometry_length(lines),
                },
            )
            created += was_created
            updated += not was_created
    return created, updated
