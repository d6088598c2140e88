"""Sampling frames (抽样框) of assessment draws: candidate sites by type, from POIs, from
civilization units and from a list, each with its district, grid and region, in the caller's
jurisdiction. A frame is stored with the draw as canonical JSON under its SHA-256.

POIs come through the geocoding selector (its in-memory gazetteer); units through their
public points (a family is never a site at its exact home). Listed sites are located with
gis_core point location; one outside every grid, outside the caller's jurisdiction, without
coordinates or with a weight that is not a positive number is reported by its row.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from accounts.scoping import Jurisdiction, scope_queryset
from geocoding.selectors.geocode import gazetteer
from gis_core.errors import InvalidInput

from ..models import PublicCivilizationUnit, UnitType
from .units import parse_choice, units_locate

__all__ = ["FrameSite", "ListedSite", "frame_build", "frame_hash", "frame_json"]


@dataclass(frozen=True)
class FrameSite:
    key: str  # poi:<id> / unit:<id> / list:<row>
    type: str
    name: str
    lon: float
    lat: float
    weight: float | None
    district_code: str
    grid_code: str
    region_code: str
    source: str  # poi / unit / list


@dataclass(frozen=True)
class ListedSite:
    type: str
    name: str
    lon: float | None  # WGS84
    lat: float | None
    weight: float | None = None


def frame_json(sites: Sequence[FrameSite]) -> list[dict]:
    return [asdict(s) for s in sites]


def frame_hash(sites: list[dict]) -> str:
    """SHA-256 of the frame as canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(sites, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _district(region_code: str) -> str:
    return region_code[:6].ljust(12, "0")


def _pois(categories: Sequence[str], jurisdiction: Jurisdiction) -> list[FrameSite]:
    wanted = [c.strip() for c in categories if c and c.strip()]
    gaz = gazetteer()
    found = []
    for entity in sorted(gaz.pois.values(), key=lambda e: e.id):
        if entity.category not in wanted or entity.point is None or not entity.grid_code:
            continue
        if not jurisdiction.covers_code(entity.grid_code):
            continue
        found.append(
            FrameSite(
                f"poi:{entity.id}",
                entity.category,
                entity.name,
                round(entity.point[0], 7),
                round(entity.point[1], 7),
                None,
                _district(entity.grid_code),
                entity.grid_code,
                entity.region_code or entity.grid_code[:12],
                "poi",
            )
        )
    missing = [c for c in wanted if not any(s.type == c for s in found)]
    if missing:
        raise InvalidInput(
            f"管辖范围内没有类别为“{'、'.join(missing)}”的兴趣点",
            code="empty_frame",
            details={"poi_categories": missing},
        )
    return found


def _units(types: Sequence[str], jurisdiction: Jurisdiction) -> list[FrameSite]:
    codes = [parse_choice("unit_type", t) for t in types]
    if UnitType.FAMILY in codes:
        raise InvalidInput("文明家庭是个人信息，不能作为测评点位", details={"unit_types": "family"})
    qs = scope_queryset(PublicCivilizationUnit.objects.filter(unit_type__in=codes), jurisdiction)
    found = [
        FrameSite(
            f"unit:{u.pk}",
            UnitType(u.unit_type).label,
            u.name,
            round(u.public_geom.x, 7),
            round(u.public_geom.y, 7),
            None,
            u.district_code,
            u.public_grid_code,
            u.region_code,
            "unit",
        )
        for u in qs.exclude(status="revoked").order_by("pk")
    ]
    missing = [UnitType(c).label for c in codes if not any(s.type == UnitType(c).label for s in found)]
    if missing:
        raise InvalidInput(
            f"管辖范围内没有有效的{'、'.join(missing)}", code="empty_frame", details={"unit_types": missing}
        )
    return found


def _listed(sites: Sequence[ListedSite], jurisdiction: Jurisdiction) -> list[FrameSite]:
    problems: list[dict] = []
    points: list[tuple[float, float] | None] = []
    for i, site in enumerate(sites):
        ok = all(isinstance(v, int | float) and math.isfinite(v) for v in (site.lon, site.lat))
        points.append((float(site.lon), float(site.lat)) if ok else None)  # type: ignore[arg-type]
        if not ok:
            problems.append(
                {"row": i + 1, "field": "lon", "message": "缺少有效的坐标（抽样框中的点位必须有位置）"}
            )
        if site.weight is not None and not (math.isfinite(site.weight) and site.weight > 0):
            problems.append(
                {"row": i + 1, "field": "weight", "message": f"权重应为正数，实际为 {site.weight}"}
            )
        if not (site.type or "").strip() or not (site.name or "").strip():
            problems.append({"row": i + 1, "field": "type", "message": "类型和名称不能为空"})
    wheres = units_locate(points)
    out = []
    for i, (site, point, where) in enumerate(zip(sites, points, wheres, strict=True)):
        if point is None:
            continue
        if where is None:
            problems.append(
                {"row": i + 1, "field": "lon", "message": "位置不在任何单元网格内（超出服务范围）"}
            )
        elif not jurisdiction.covers_code(where.grid_code):
            problems.append({"row": i + 1, "field": "lon", "message": "位置不在您的管辖范围内"})
        else:
            out.append(
                FrameSite(
                    f"list:{i + 1}",
                    site.type.strip(),
                    site.name.strip(),
                    round(point[0], 7),
                    round(point[1], 7),
                    float(site.weight) if site.weight is not None else None,
                    where.district_code,
                    where.grid_code,
                    where.region_code,
                    "list",
                )
            )
    if problems:
        problems.sort(key=lambda p: p["row"])
        first = problems[0]
        raise InvalidInput(
            f"点位清单第 {first['row']} 行：{first['message']}（共 {len(problems)} 处错误）",
            code="invalid_sites",
            details={"rows": problems},
        )
    return out


def frame_build(
    *,
    jurisdiction: Jurisdiction,
    poi_categories: Sequence[str] = (),
    unit_types: Sequence[str] = (),
    sites: Sequence[ListedSite] = (),
    max_size: int,
) -> list[FrameSite]:
    """The candidate sites of a draw, in a fixed order: POIs, units (by id), then the list."""
    frame = [
        *_pois(poi_categories, jurisdiction),
        *_units(unit_types, jurisdiction),
        *_listed(sites, jurisdiction),
    ]
    if not frame:
        raise InvalidInput(
            "抽样框为空：请给出兴趣点类别 poi_categories、单位类型 unit_types 或点位清单 sites",
            code="empty_frame",
        )
    if len(frame) > max_size:
        raise InvalidInput(f"抽样框过大（{len(frame)} 个点位，上限 {max_size}）", code="frame_too_large")
    return frame
