"""Topology check of unit grids, community by community.

Reports, each with its location (a point on the problem) and ground area:

* ``invalid`` — a grid whose geometry is not valid (OGC), with the reason;
* ``overlap`` — the shared area of two grids;
* ``gap`` — community area covered by no grid;
* ``outside`` — grid area outside its community;
* ``sliver`` — a gap or overlap smaller than ``SLIVER_MAX_AREA_M2`` or very
  thin (isoperimetric quotient 4πA/P² below 0.05): usually digitizing noise.

Raw SQL: the set operations (ST_Union, ST_Difference, ST_Dump) per community
are much faster in one query than through the ORM.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from gis_core.codes import level_of, prefix_of
from gis_core.errors import InvalidInput
from gis_core.models import Region, RegionLevel

from ..models import UnitGrid

__all__ = ["CommunityTopology", "topology_check", "topology_summary"]

THIN_QUOTIENT = 0.05


@dataclass
class CommunityTopology:
    community: dict
    grids: int
    issues: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def as_dict(self) -> dict:
        return {"community": self.community, "grids": self.grids, "ok": self.ok, "issues": self.issues}


def topology_summary(*, region_code: str | None) -> dict:
    """The check of every community under ``region_code`` (all if None) as one report."""
    if region_code and not Region.objects.filter(code=region_code).exists():
        raise InvalidInput(f"区划 {region_code} 不存在", details={"region": region_code})
    reports = topology_check(region_code=region_code)
    return {
        "region": region_code,
        "communities": len(reports),
        "communities_with_issues": sum(not r.ok for r in reports),
        "issues": sum(len(r.issues) for r in reports),
        "results": [r.as_dict() for r in reports],
    }


_SQL = """
WITH g AS (
    SELECT id, code, community_code, geom, ST_IsValid(geom) AS valid
    FROM {grid} WHERE community_code = ANY(%(codes)s)
),
c AS (SELECT code, geom FROM {region} WHERE code = ANY(%(codes)s) AND geom IS NOT NULL),
invalid AS (
    SELECT g.community_code, 'invalid' AS kind, ARRAY[g.code] AS grids, ST_IsValidReason(g.geom) AS reason,
           (ST_IsValidDetail(g.geom)).location AS loc, NULL::geometry AS shape
    FROM g WHERE NOT g.valid
),
overlap AS (
    SELECT a.community_code, 'overlap', ARRAY[LEAST(a.code, b.code), GREATEST(a.code, b.code)], NULL,
           NULL::geometry, (ST_Dump(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3))).geom
    -- each pair once; a grid of a community outside the check (b) may have the smaller code.
    -- Interiors meeting in an area ('2********'), not ST_Overlaps: that is false for a grid
    -- lying inside another or duplicating it.
    FROM g a JOIN {grid} b ON a.geom && b.geom AND a.code <> b.code
         AND (a.code < b.code OR NOT b.community_code = ANY(%(codes)s))
         AND ST_Relate(a.geom, b.geom, '2********')
    WHERE a.valid AND ST_IsValid(b.geom)
),
covered AS (
    SELECT community_code, ST_UnaryUnion(ST_Collect(geom)) AS geom FROM g WHERE valid GROUP BY community_code
),
gap AS (
    SELECT c.code, 'gap', ARRAY[]::text[], NULL, NULL::geometry,
           (ST_Dump(ST_CollectionExtract(
               ST_Difference(c.geom, COALESCE(cv.geom, 'SRID=4326;POLYGON EMPTY'::geometry)), 3))).geom
    FROM c LEFT JOIN covered cv ON cv.community_code = c.code
),
outside AS (
    SELECT g.community_code, 'outside', ARRAY[g.code], NULL, NULL::geometry,
           (ST_Dump(ST_CollectionExtract(ST_Difference(g.geom, c.geom), 3))).geom
    FROM g JOIN c ON c.code = g.community_code WHERE g.valid AND NOT ST_CoveredBy(g.geom, c.geom)
)
SELECT community_code, kind, grids, reason,
       ST_AsGeoJSON(COALESCE(loc, ST_PointOnSurface(shape)), 7),
       CASE WHEN shape IS NULL THEN NULL ELSE ST_Area(shape::geography) END,
       CASE WHEN shape IS NULL THEN NULL ELSE ST_Perimeter(shape::geography) END,
       CASE WHEN shape IS NULL THEN NULL ELSE ST_AsGeoJSON(shape, 7) END
FROM (
    SELECT * FROM invalid UNION ALL SELECT * FROM overlap UNION ALL SELECT * FROM gap
    UNION ALL SELECT * FROM outside
) issues
WHERE shape IS NULL OR NOT ST_IsEmpty(shape)
ORDER BY community_code, kind, grids
"""


def _classify(kind: str, area: float | None, perimeter: float | None) -> str:
    if kind not in ("gap", "overlap") or area is None:
        return kind
    thin = perimeter and 4 * math.pi * area / perimeter**2 < THIN_QUOTIENT
    return "sliver" if area < settings.CIVGRID["SLIVER_MAX_AREA_M2"] or thin else kind


_MESSAGES = {
    "invalid": "网格几何无效：{reason}",
    "overlap": "网格 {grids} 相互重叠 {area:.1f} 平方米",
    "gap": "社区内有 {area:.1f} 平方米未被任何网格覆盖",
    "outside": "网格 {grids} 有 {area:.1f} 平方米超出所属社区",
    "sliver": "碎片（{of}）{area:.2f} 平方米",
}


def topology_check(*, region_code: str | None = None) -> list[CommunityTopology]:
    """Check every community inside ``region_code`` (any level), or all communities."""
    communities = Region.objects.filter(level=RegionLevel.COMMUNITY)
    if region_code:
        communities = communities.filter(code__startswith=prefix_of(region_code, level_of(region_code)))
    info = {r.code: r for r in communities.only("code", "name", "level")}
    counts: dict[str, int] = {}
    for code in UnitGrid.objects.filter(community_code__in=info).values_list("community_code", flat=True):
        counts[code] = counts.get(code, 0) + 1
    reports = {
        code: CommunityTopology(community={"code": code, "name": r.name}, grids=counts.get(code, 0))
        for code, r in info.items()
    }
    if not info:
        return []
    sql = _SQL.format(grid=UnitGrid._meta.db_table, region=Region._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(sql, {"codes": list(info)})
        for community, kind, grids, reason, loc, area, perimeter, shape in cur.fetchall():
            label = _classify(kind, area, perimeter)
            issue = {
                "type": label,
                "grids": list(grids),
                "location": json.loads(loc) if loc else None,
                "area_m2": round(area, 3) if area is not None else None,
            }
            if label == "sliver":
                issue["of"] = kind
            issue["message"] = _MESSAGES[label].format(
                reason=reason, grids="、".join(grids), area=area or 0, of="空隙" if kind == "gap" else "重叠"
            )
            if shape:
                issue["geometry"] = json.loads(shape)
            reports[community].issues.append(issue)
    return list(reports.values())
