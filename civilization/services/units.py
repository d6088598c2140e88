"""Writes of civilization units: one, or many at once (imports), all-or-nothing and audited.

Every unit is located on write through gis_core point location (unit grid, community,
street, district stored on the row, as events are). Its public point is computed at the
same time: a family's is the representative point of its community (the point on the
community's surface PostGIS picks, ``ST_PointOnSurface``), anyone else's its own point. A
community redrawn later keeps the public point computed when the unit was last written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from accounts.scoping import Jurisdiction
from geocoding.selectors.geocode import geocode_batch
from gis_core.errors import Conflict, InvalidInput, NotFound
from gis_core.models import LocatorLayer, LocatorPart, Region
from gis_core.selectors.locate import locate_points
from gis_core.signals import model_values, rows_written

from ..models import CivilizationUnit, HonourLevel, UnitStatus, UnitType

__all__ = [
    "UnitInput",
    "UnitWhere",
    "community_public_points",
    "families_replace",
    "parse_choice",
    "unit_create",
    "unit_delete",
    "unit_problems",
    "unit_update",
    "units_geocode",
    "units_locate",
    "units_upsert",
]

_ALIASES = {
    "unit_type": {**{label: v for v, label in UnitType.choices}, "家庭": "family", "校园": "campus"},
    "level": {
        **{label: v for v, label in HonourLevel.choices},
        "区级": "district",
        "县级": "district",
        "区县": "district",
        "市": "city",
        "省": "provincial",
        "国家级": "national",
        "全国性": "national",
    },
    "status": {**{label: v for v, label in UnitStatus.choices}, "复查": "review", "撤销": "revoked"},
}
_CHOICES = {"unit_type": UnitType, "level": HonourLevel, "status": UnitStatus}
_LABELS = {"unit_type": "类型", "level": "荣誉级别", "status": "状态"}


def parse_choice(field: str, value) -> str:
    """A type, honour level or status given by its code (family) or its Chinese name (文明家庭)."""
    text = str(value or "").strip()
    choices = _CHOICES[field]
    if text.lower() in choices.values:
        return text.lower()
    if text in _ALIASES[field]:
        return _ALIASES[field][text]
    offered = "、".join(label for _, label in choices.choices)
    raise InvalidInput(f"{_LABELS[field]}“{text}”无效，可选：{offered}", details={field: text})


@dataclass(frozen=True)
class UnitInput:
    name: str
    unit_type: str
    level: str
    year_awarded: int
    point: tuple[float, float] | None = None  # WGS84 lon, lat; or placed by ``address``
    address: str = ""
    term: int | None = None
    review_year: int | None = None
    status: str = UnitStatus.VALID
    contact: str = ""


@dataclass(frozen=True)
class UnitWhere:
    grid_code: str
    region_code: str  # community
    street_code: str
    district_code: str


def unit_problems(item: UnitInput, *, today: dt.date | None = None) -> list[tuple[str, str]]:
    """(field, message) of everything wrong with one input, except where it lies."""
    year_now = (today or timezone.localdate()).year
    problems = []
    name = (item.name or "").strip()
    if not name or len(name) > 120:
        problems.append(("name", "名称不能为空，且不超过 120 字"))
    for field in ("unit_type", "level", "status"):
        try:
            parse_choice(field, getattr(item, field))
        except InvalidInput as exc:
            problems.append((field, exc.message))
    year = item.year_awarded
    if not isinstance(year, int) or not 1980 <= year <= year_now:
        problems.append(("year_awarded", f"授予年份应为 1980–{year_now} 的整数，实际为“{year}”"))
    if item.term is not None and (not isinstance(item.term, int) or not 1 <= item.term <= 100):
        problems.append(("term", f"届次应为 1–100 的整数，实际为“{item.term}”"))
    if item.review_year is not None:
        if not isinstance(item.review_year, int) or not 1980 <= item.review_year <= year_now + 20:
            problems.append(("review_year", f"复查年份应为 1980–{year_now + 20} 的整数"))
        elif isinstance(year, int) and item.review_year < year:
            problems.append(("review_year", f"复查年份 {item.review_year} 早于授予年份 {year}"))
    if len(item.address or "") > 300 or len(item.contact or "") > 100:
        problems.append(("address", "地址（300 字）或联系方式（100 字）过长"))
    if item.point is None and not (item.address or "").strip():
        problems.append(("point", "请给出位置：坐标 lon/lat，或地址 address"))
    return problems


def _normalized(item: UnitInput) -> UnitInput:
    return replace(
        item,
        name=item.name.strip(),
        unit_type=parse_choice("unit_type", item.unit_type),
        level=parse_choice("level", item.level),
        status=parse_choice("status", item.status or UnitStatus.VALID),
        address=(item.address or "").strip(),
        contact=(item.contact or "").strip(),
    )


def units_locate(points: Sequence[tuple[float, float] | None]) -> list[UnitWhere | None]:
    """Grid and region chain of each point (None outside every unit grid): one locator pass."""
    out: list[UnitWhere | None] = [None] * len(points)
    found = [i for i, p in enumerate(points) if p is not None]
    if not found:
        return out
    lons = np.array([points[i][0] for i in found], dtype=float)  # type: ignore[index]
    lats = np.array([points[i][1] for i in found], dtype=float)  # type: ignore[index]
    for i, loc in zip(found, locate_points(lons, lats), strict=True):
        if loc.grid is None:
            continue
        by_level = {r["level"]: r["code"] for r in loc.regions}
        grid = loc.grid["code"]
        out[i] = UnitWhere(
            grid, by_level.get(5, grid[:12]), by_level.get(4, ""), by_level.get(3, grid[:6].ljust(12, "0"))
        )
    return out


def community_public_points(codes: set[str]) -> dict[str, tuple[float, float, str]]:
    """(lon, lat, grid code) of the representative point of each community.

    The point is the community boundary's ``ST_PointOnSurface``, with the grid it lies in; a
    community without a boundary, or whose point falls in no grid of its own, is represented
    by its grid with the smallest code (that grid's point on surface).
    """
    out: dict[str, tuple[float, float, str]] = {}
    rows = list(
        Region.objects.filter(code__in=codes, geom__isnull=False)
        .annotate(rep=PointOnSurface("geom"))
        .values_list("code", "rep")
    )
    if rows:
        wheres = units_locate([(p.x, p.y) for _, p in rows])
        for (code, p), where in zip(rows, wheres, strict=True):
            if where is not None and where.grid_code.startswith(code):
                out[code] = (p.x, p.y, where.grid_code)
    for code in sorted(set(codes) - set(out)):
        part = (
            LocatorPart.objects.filter(layer=LocatorLayer.GRID, region_code=code)
            .order_by("code", "pk")
            .annotate(rep=PointOnSurface("geom"))
            .values_list("code", "rep")
            .first()
        )
        if part is not None:
            out[code] = (part[1].x, part[1].y, part[0])
    return out


def units_geocode(
    items: Sequence[UnitInput], *, jurisdiction: Jurisdiction, city: str | None = None
) -> tuple[list[UnitInput], list[tuple[int, str, str]]]:
    """Items without a point placed by their address through the geocoder; (items, problems by row)."""
    todo = [i for i, item in enumerate(items) if item.point is None and (item.address or "").strip()]
    placed = list(items)
    problems = []
    if not todo:
        return placed, problems
    results = geocode_batch([items[i].address for i in todo], city=city, jurisdiction=jurisdiction)
    for i, result in zip(todo, results, strict=True):
        location = result.get("location")
        if result["status"] == "outside":
            problems.append((i, "address", f"地址“{items[i].address}”不在您的管辖范围内"))
        elif result["status"] != "ok" or location is None:
            reason = result.get("message") or {
                "ambiguous": "有多个可能的位置",
                "not_found": "找不到该地址",
            }.get(result["status"], "无法识别")
            problems.append((i, "address", f"地址“{items[i].address}”无法定位：{reason}"))
        elif result.get("grid") is None:
            problems.append((i, "address", f"地址“{items[i].address}”只能定位到行政区划，请补充门牌或小区"))
        else:
            placed[i] = replace(items[i], point=(location["lon"], location["lat"]))
    return placed, problems


def _raise(problems: list[tuple[int, str, str]], count: int) -> None:
    if not problems:
        return
    problems = sorted(problems)
    rows = [{"row": i + 1, "field": f, "message": m} for i, f, m in problems]
    first = rows[0]
    prefix = f"第 {first['row']} 行：" if count > 1 else ""
    raise InvalidInput(
        f"{prefix}{first['message']}"
        + (f"（共 {len(rows)} 处错误，未写入任何数据）" if len(rows) > 1 else ""),
        code="invalid_rows" if count > 1 else "invalid",
        details={"rows": rows} if count > 1 else {first["field"]: first["message"]},
    )


def units_check(
    items: Sequence[UnitInput], *, jurisdiction: Jurisdiction
) -> tuple[list[UnitInput], list[UnitWhere | None], list[tuple[int, str, str]]]:
    """Normalized items, where each lies, and every problem (row index, field, message)."""
    problems = [(i, f, m) for i, item in enumerate(items) for f, m in unit_problems(item)]
    bad = {i for i, _, _ in problems}
    normalized = [item if i in bad else _normalized(item) for i, item in enumerate(items)]
    wheres = units_locate([item.point for item in normalized])
    for i, (item, where) in enumerate(zip(normalized, wheres, strict=True)):
        if i in bad or item.point is None:
            continue
        lon, lat = item.point
        if where is None:
            problems.append((i, "point", f"位置 ({lon:.6f}, {lat:.6f}) 不在任何单元网格内（超出服务范围）"))
        elif not jurisdiction.covers_code(where.grid_code):
            problems.append((i, "point", f"位置 ({lon:.6f}, {lat:.6f}) 不在您的管辖范围内"))
    seen: dict[tuple, int] = {}
    for i, (item, where) in enumerate(zip(normalized, wheres, strict=True)):
        if where is None or i in bad:
            continue
        key = (item.unit_type, where.district_code, item.name)
        if key in seen:
            problems.append((i, "name", f"与第 {seen[key] + 1} 行重复（同一区县、同一类型、同名）"))
        seen.setdefault(key, i)
    return normalized, wheres, problems


def _apply(unit: CivilizationUnit, item: UnitInput, where: UnitWhere, public: dict) -> None:
    for f in fields(UnitInput):
        if f.name != "point":
            setattr(unit, f.name, getattr(item, f.name))
    lon, lat = item.point  # type: ignore[misc]
    unit.geom = Point(lon, lat, srid=4326)
    unit.grid_code, unit.region_code = where.grid_code, where.region_code
    unit.street_code, unit.district_code = where.street_code, where.district_code
    if item.unit_type == UnitType.FAMILY and where.region_code in public:
        plon, plat, pgrid = public[where.region_code]
        unit.public_geom, unit.public_grid_code = Point(plon, plat, srid=4326), pgrid
    else:
        unit.public_geom, unit.public_grid_code = Point(lon, lat, srid=4326), where.grid_code


def families_replace(*, region_codes: Iterable[str]) -> int:
    """Put the families of these communities at their community's representative point again
    (after a boundary changed: :data:`gis_core.signals.boundaries_changed`); returns how many
    families moved. Only the public point changes: the exact one is where the family is."""
    codes = set(region_codes)
    families = CivilizationUnit.objects.filter(unit_type=UnitType.FAMILY, region_code__in=codes)
    present = set(families.values_list("region_code", flat=True).distinct())
    moved = 0
    for code, (lon, lat, grid) in community_public_points(present).items():
        point = Point(lon, lat, srid=4326)
        stale = families.filter(region_code=code).exclude(public_geom__equals=point, public_grid_code=grid)
        moved += stale.update(public_geom=point, public_grid_code=grid, updated_at=timezone.now())
    return moved


def units_upsert(
    *, items: Sequence[UnitInput], jurisdiction: Jurisdiction, city: str | None = None
) -> tuple[int, int]:
    """Create or update units (key: type, district, name) — all of them or none.

    Items without a point are placed by their address through the geocoder first. Any
    problem raises ``InvalidInput`` naming every bad row (``details["rows"]``).
    """
    placed, problems = units_geocode(items, jurisdiction=jurisdiction, city=city)
    normalized, wheres, checked = units_check(placed, jurisdiction=jurisdiction)
    _raise(problems + [p for p in checked if p[0] not in {q[0] for q in problems}], len(items))
    public = community_public_points(
        {
            w.region_code
            for item, w in zip(normalized, wheres, strict=True)
            if item.unit_type == UnitType.FAMILY
        }
    )
    keys = {(item.unit_type, w.district_code, item.name) for item, w in zip(normalized, wheres, strict=True)}
    with transaction.atomic():
        existing = {
            (u.unit_type, u.district_code, u.name): u
            for u in CivilizationUnit.objects.select_for_update().filter(
                name__in={k[2] for k in keys}, district_code__in={k[1] for k in keys}
            )
        }
        before = {u.pk: model_values(u) for u in existing.values()}
        rows = []
        for item, where in zip(normalized, wheres, strict=True):
            unit = existing.get((item.unit_type, where.district_code, item.name)) or CivilizationUnit()
            _apply(unit, item, where, public)  # type: ignore[arg-type]
            unit.full_clean(validate_unique=False, validate_constraints=False)
            rows.append(unit)
        now = timezone.now()
        new = [u for u in rows if u.pk is None]
        old = [u for u in rows if u.pk is not None]
        for unit in rows:
            unit.updated_at = now
            unit.created_at = unit.created_at or now
        CivilizationUnit.objects.bulk_create(new, batch_size=2000)
        names = [f.name for f in fields(UnitInput) if f.name != "point"]
        located = ["geom", "grid_code", "region_code", "street_code", "district_code", "public_geom"]
        CivilizationUnit.objects.bulk_update(old, [*names, *located, "public_grid_code", "updated_at"], 2000)
        rows_written.send(
            CivilizationUnit,
            changes=[(u.pk, u.grid_code, before.get(u.pk), model_values(u)) for u in rows],
        )
    return len(new), len(old)


def _visible(unit_id: int, jurisdiction: Jurisdiction) -> CivilizationUnit:
    from accounts.scoping import scope_queryset

    unit = scope_queryset(CivilizationUnit.objects.filter(pk=unit_id), jurisdiction).first()
    if unit is None:
        raise NotFound(f"文明创建单位 {unit_id} 不存在")
    return unit


def unit_create(*, item: UnitInput, jurisdiction: Jurisdiction, city: str | None = None) -> CivilizationUnit:
    """One unit (placed by its point or its address); a unit of the same type and name in the same
    district is a conflict, not an update."""
    placed, problems = units_geocode([item], jurisdiction=jurisdiction, city=city)
    _raise(problems, 1)
    normalized, wheres, problems = units_check(placed, jurisdiction=jurisdiction)
    _raise(problems, 1)
    item, where = normalized[0], wheres[0]
    public = community_public_points({where.region_code}) if item.unit_type == UnitType.FAMILY else {}
    with transaction.atomic():
        taken = CivilizationUnit.objects.filter(
            unit_type=item.unit_type, district_code=where.district_code, name=item.name
        ).exists()
        if taken:
            raise Conflict(
                f"本区县已有同名的{UnitType(item.unit_type).label}“{item.name}”", code="duplicate_unit"
            )
        unit = CivilizationUnit()
        _apply(unit, item, where, public)  # type: ignore[arg-type]
        unit.full_clean(validate_unique=False, validate_constraints=False)
        unit.save()
    return unit


def unit_update(
    *, unit_id: int, changes: dict, jurisdiction: Jurisdiction, city: str | None = None
) -> CivilizationUnit:
    """Change some fields of a unit; a new point or address relocates it."""
    with transaction.atomic():
        unit = _visible(unit_id, jurisdiction)
        unit = CivilizationUnit.objects.select_for_update().get(pk=unit.pk)
        current = UnitInput(
            **{f.name: getattr(unit, f.name) for f in fields(UnitInput) if f.name != "point"},
            point=(unit.geom.x, unit.geom.y),
        )
        unknown = set(changes) - {f.name for f in fields(UnitInput)}
        if unknown:
            raise InvalidInput(
                f"不能修改的字段：{'、'.join(sorted(unknown))}", details={"fields": sorted(unknown)}
            )
        item = replace(current, **changes)
        if "address" in changes and "point" not in changes and (changes["address"] or "").strip():
            item = replace(item, point=None)
        placed, problems = units_geocode([item], jurisdiction=jurisdiction, city=city)
        _raise(problems, 1)
        normalized, wheres, problems = units_check(placed, jurisdiction=jurisdiction)
        _raise(problems, 1)
        item, where = normalized[0], wheres[0]
        clash = (
            CivilizationUnit.objects.filter(
                unit_type=item.unit_type, district_code=where.district_code, name=item.name
            )
            .exclude(pk=unit.pk)
            .exists()
        )
        if clash:
            raise Conflict(
                f"本区县已有同名的{UnitType(item.unit_type).label}“{item.name}”", code="duplicate_unit"
            )
        public = community_public_points({where.region_code}) if item.unit_type == UnitType.FAMILY else {}
        _apply(unit, item, where, public)  # type: ignore[arg-type]
        unit.full_clean(validate_unique=False, validate_constraints=False)
        unit.save()
    return unit


def unit_delete(*, unit_id: int, jurisdiction: Jurisdiction) -> None:
    with transaction.atomic():
        _visible(unit_id, jurisdiction).delete()
