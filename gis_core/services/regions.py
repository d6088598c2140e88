"""Writes to the region hierarchy: boundaries (versioned) and the national gazetteer."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from django.contrib.gis.geos import GEOSGeometry
from django.db import connection, transaction
from django.utils import timezone
from shapely.geometry import MultiPolygon

from ..codes import level_of, pad_code, parent_code
from ..errors import Conflict, InvalidInput
from ..geometry import geodesic_area_m2, polygonal
from ..models import LocatorLayer, Region, RegionBoundary
from ..names import short_name
from ..signals import boundaries_changed
from .locator import LocatorItem, locator_remove, locator_replace

__all__ = ["RegionInput", "gazetteer_load", "region_clear_boundary", "region_set_boundary", "regions_upsert"]

GAZETTEER_DIR = Path(__file__).resolve().parent.parent.parent / "data" / "divisions"


class RegionInput:
    """One region to create or update; geometry (shapely, WGS84) is optional."""

    __slots__ = ("aliases", "code", "geom", "name")

    def __init__(
        self, *, code: str, name: str, geom: MultiPolygon | None = None, aliases: Iterable[str] = ()
    ):
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
            raise InvalidInput(f"{item.name}（{item.code}）的上级区划 {parent_c} 不存在")
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
        locator_replace(layer=LocatorLayer.REGION, items=[_locator_item(r, g) for r, g in boundaries])
        boundaries_changed.send(Region, codes=[r.code for r, _ in boundaries])
    return created, updated


def _set_boundary(region: Region, geom: MultiPolygon, *, valid_from: dt.date, source: str) -> None:
    geos = GEOSGeometry(memoryview(geom.wkb), srid=4326)
    current = region.boundaries.filter(valid_to__isnull=True).first()
    if current is not None:
        if current.geom.equals_exact(geos, 1e-12):
            return
        if current.valid_from > valid_from:
            raise Conflict(
                f"{region.name}（{region.code}）的新边界生效日期 {valid_from} 早于现行边界的生效日期 "
                f"{current.valid_from}，不能改写历史",
                details={"valid_from": str(valid_from), "current_valid_from": str(current.valid_from)},
            )
        if current.valid_from == valid_from:
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
    boundaries_changed.send(Region, codes=[region.code])
    return region


@transaction.atomic
def region_clear_boundary(*, region: Region, valid_to: dt.date | None = None) -> Region:
    """End the current boundary (the region remains in the gazetteer without one)."""
    region.boundaries.filter(valid_to__isnull=True).update(valid_to=valid_to or timezone.localdate())
    region.geom = None
    region.area_m2 = None
    region.save(update_fields=["geom", "area_m2", "updated_at"])
    locator_remove(layer=LocatorLayer.REGION, codes=[region.code])
    boundaries_changed.send(Region, codes=[region.code])
    return region


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@transaction.atomic
def gazetteer_load(*, directory: Path = GAZETTEER_DIR) -> dict[str, int]:
    """Load (or refresh) every province, city, district and street/town of China.

    Idempotent: existing codes are updated in place (names and parents only;
    boundaries and aliases are kept). One upsert statement per level from
    arrays — raw SQL because the ORM's bulk upsert spends ~10 s building 45,000
    model instances; this takes about one second.
    """
    files = [(1, "provinces.csv"), (2, "cities.csv"), (3, "areas.csv"), (4, "streets.csv")]
    table = Region._meta.db_table
    counts: dict[str, int] = {}
    with connection.cursor() as cur:
        for level, filename in files:
            # A few rows repeat their parent: the cities without counties (东莞 441900, 中山,
            # 儋州) again in areas.csv, 金门县 again in streets.csv as 350527000. They pad
            # to the parent's code, and loading them would demote that region to this level.
            rows = [r for r in _read_csv(directory / filename) if level_of(pad_code(r["code"])) == level]
            codes = [pad_code(r["code"]) for r in rows]
            cur.execute(
                f"""
                INSERT INTO {table}
                    (code, name, short_name, aliases, level, parent_id, created_at, updated_at)
                SELECT t.code, t.name, t.short_name, '{{}}', %s, p.id, now(), now()
                FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])
                     AS t(code, name, short_name, parent_code)
                LEFT JOIN {table} p ON p.code = t.parent_code
                ON CONFLICT (code) DO UPDATE SET
                    name = EXCLUDED.name, short_name = EXCLUDED.short_name,
                    level = EXCLUDED.level, parent_id = EXCLUDED.parent_id, updated_at = now()
                """,
                [
                    level,
                    codes,
                    [r["name"] for r in rows],
                    [short_name(r["name"], level) for r in rows],
                    [parent_code(c) for c in codes],
                ],
            )
            counts[filename.removesuffix(".csv")] = len(rows)
        # former names of renamed and merged divisions, kept as aliases (the address parser reads them)
        former = (
            _read_csv(directory / "former_names.csv") if (directory / "former_names.csv").exists() else []
        )
        if former:
            cur.execute(
                f"""
                UPDATE {table} r
                SET aliases = ARRAY(SELECT DISTINCT unnest(r.aliases::text[] || t.names) ORDER BY 1)
                FROM (SELECT code, array_agg(name) AS names
                      FROM unnest(%s::text[], %s::text[]) AS f(code, name) GROUP BY code) t
                WHERE r.code = t.code AND NOT r.aliases::text[] @> t.names
                """,
                [[r["code"] for r in former], [r["former_name"] for r in former]],
            )
            counts["former_names"] = len(former)
    return counts
