"""Writes to the region hierarchy: boundaries (versioned) and the national gazetteer."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.utils import timezone
from shapely.geometry import MultiPolygon

from ..codes import level_of, pad_code, parent_code
from ..geometry import geodesic_area_m2, polygonal
from ..models import LocatorLayer, Region, RegionBoundary
from ..names import short_name
from .locator import LocatorItem, locator_remove, locator_replace

__all__ = ["RegionInput", "gazetteer_load", "region_clear_boundary", "region_set_boundary", "regions_upsert"]

GAZETTEER_DIR = Path(__file__).resolve().parent.parent.parent / "data" / "divisions"


class RegionInput:
    """One region to create or update; geometry (shapely, WGS84) is optional."""

    __slots__ = ("aliases", "code", "geom", "name")

    def __init__(self, *, code: str, name: str, geom: MultiPolygon | None = None, aliases: Iterable[str] = ()):
        self.code = pad_code(code)
        self.name = name.strip()
        self.geom = geom
        self.aliases = list(aliases)


def _locator_item(region: Region, geom: MultiPolygon) -> LocatorItem:
    return LocatorItem(
        code=region.code, name=region.name, level=region.level, region_code=region.code, wkb=geom.wkb
    )


@transaction.atomic
def regions_upsert(
    *, items: list[RegionInput], valid_from: dt.date | None = None, source: str = ""
) -> tuple[int, int]:
    """Create or update regions, parents first; returns (created, updated).

    Parents are derived from the codes and must exist already or come earlier
    in ``items``. A changed boundary closes the current version and opens a
    new one valid from ``valid_from`` (today by default).
    """
    valid_from = valid_from or timezone.localdate()
    items = sorted(items, key=lambda i: (level_of(i.code), i.code))
    codes = {i.code for i in items} | {p for i in items if (p := parent_code(i.code))}
    known = {r.code: r for r in Region.objects.filter(code__in=codes)}
    created = updated = 0
    boundaries: list[tuple[Region, MultiPolygon]] = []
    for item in items:
        level = level_of(item.code)
        parent_c = parent_code(item.code)
        parent = known.get(parent_c) if parent_c else None
        if parent_c and parent is None:
            raise ValueError(f"{item.name}（{item.code}）的上级区划 {parent_c} 不存在")
        region = known.get(item.code)
        fields = {
            "name": item.name,
            "short_name": short_name(item.name, level),
            "level": level,
            "parent": parent,
        }
        if region is None:
            region = Region(code=item.code, aliases=item.aliases, **fields)
            region.save()
            known[item.code] = region
            created += 1
        else:
            for k, v in fields.items():
                setattr(region, k, v)
            region.aliases = sorted(set(region.aliases) | set(item.aliases))
            region.save()
            updated += 1
        if item.geom is not None:
            boundaries.append((region, item.geom))
    for region, geom in boundaries:
        _set_boundary(region, geom, valid_from=valid_from, source=source)
    if boundaries:
        locator_replace(
            layer=LocatorLayer.REGION, items=[_locator_item(r, g) for r, g in boundaries]
        )
    return created, updated


def _set_boundary(region: Region, geom: MultiPolygon, *, valid_from: dt.date, source: str) -> None:
    geos = GEOSGeometry(memoryview(geom.wkb), srid=4326)
    current = region.boundaries.filter(valid_to__isnull=True).first()
    if current is not None:
        if current.geom.equals_exact(geos, 1e-12):
            return
        if current.valid_from >= valid_from:
            # same-day correction: replace rather than leave a zero-length version
            current.delete()
        else:
            current.valid_to = valid_from
            current.save(update_fields=["valid_to"])
    RegionBoundary.objects.create(region=region, geom=geos, valid_from=valid_from, source=source)
    region.geom = geos
    region.area_m2 = geodesic_area_m2(geom)
    region.save(update_fields=["geom", "area_m2", "updated_at"])


@transaction.atomic
def region_set_boundary(
    *, region: Region, geom, valid_from: dt.date | None = None, source: str = "", repair: bool = False
) -> Region:
    """Give a region a new boundary (history kept); ``geom`` is shapely or GEOS, WGS84."""
    if isinstance(geom, GEOSGeometry):
        from shapely import wkb

        geom = wkb.loads(bytes(geom.wkb))
    geom = polygonal(geom, repair=repair)
    _set_boundary(region, geom, valid_from=valid_from or timezone.localdate(), source=source)
    locator_replace(layer=LocatorLayer.REGION, items=[_locator_item(region, geom)])
    return region


@transaction.atomic
def region_clear_boundary(*, region: Region, valid_to: dt.date | None = None) -> Region:
    """End the current boundary (the region remains in the gazetteer without one)."""
    region.boundaries.filter(valid_to__isnull=True).update(valid_to=valid_to or timezone.localdate())
    region.geom = None
    region.area_m2 = None
    region.save(update_fields=["geom", "area_m2", "updated_at"])
    locator_remove(layer=LocatorLayer.REGION, codes=[region.code])
    return region


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@transaction.atomic
def gazetteer_load(*, directory: Path = GAZETTEER_DIR) -> dict[str, int]:
    """Load (or refresh) every province, city, district and street/town of China.

    Idempotent: existing codes are updated in place (names only; boundaries and
    aliases are kept). About 45,000 rows in a few seconds with bulk upserts.
    """
    files = [
        (1, "provinces.csv"),
        (2, "cities.csv"),
        (3, "areas.csv"),
        (4, "streets.csv"),
    ]
    counts: dict[str, int] = {}
    ids: dict[str, int] = {}
    for level, filename in files:
        rows = _read_csv(directory / filename)
        objs = []
        for row in rows:
            code = pad_code(row["code"])
            parent = parent_code(code)
            objs.append(
                Region(
                    code=code,
                    name=row["name"],
                    short_name=short_name(row["name"], level),
                    level=level,
                    parent_id=ids.get(parent) if parent else None,
                    aliases=[],
                )
            )
        Region.objects.bulk_create(
            objs,
            batch_size=5000,
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=["name", "short_name", "level", "parent"],
        )
        ids.update(Region.objects.filter(level=level).values_list("code", "id"))
        counts[filename.removesuffix(".csv")] = len(objs)
    return counts
