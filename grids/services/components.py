"""Writes of city components (城市部件): the classification, components one by one (with photos)
and in bulk (imports), status changes.

A component is placed once, on write: its representative point (see ``grids.assets``) is
located in a unit grid and its region chain through gis_core point location, and the caller's
jurisdiction must hold that grid. A component outside every unit grid is refused, as events are
(the grid is what scopes it). Nothing is written unless everything — class, geometry, code,
place, photos — is valid.

Component code (部件标识码, GB/T 30428.2): 16 digits = county-level division code (6) + minor
class code (4) + serial (6). A code given must agree with the place and the class; without one,
the next free serial of that district and class is taken (under a transaction-level advisory
lock, so two writers never take the same one).
"""

from __future__ import annotations

import csv
import re
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from shapely.geometry.base import BaseGeometry

from accounts.scoping import Jurisdiction
from events.services.attachments import CheckedFile, StoredFiles, attachments_check
from gis_core.errors import InvalidInput, NotFound
from gis_core.selectors.locate import Location, locate_point, locate_points
from gis_core.selectors.ranges import check_shape
from gis_core.signals import model_values, rows_written

from ..assets import CityComponent, ComponentClass, ComponentPhoto, ComponentStatus, GeometryKind

__all__ = [
    "CLASSES_FILE",
    "ComponentInput",
    "Placed",
    "component_classes_load",
    "component_clean",
    "component_create",
    "component_status_set",
    "component_update",
    "components_upsert",
    "place_point",
    "place_points",
    "representative_point",
]

CLASSES_FILE = Path(__file__).resolve().parent.parent / "data" / "component_classes.csv"
CODE_RE = re.compile(r"^\d{16}$")
_KINDS = {
    GeometryKind.POINT: ("Point",),
    GeometryKind.LINE: ("Point", "LineString", "MultiLineString"),
    GeometryKind.POLYGON: ("Point", "Polygon", "MultiPolygon"),
}
_TEXT_LIMITS = {"name": 100, "owner_department": 100, "maintainer": 100, "note": 500}


# ------------------------------------------------------------------ the classification


def component_classes_load(*, path: Path | str | None = None) -> dict[str, int]:
    """Load (insert or update) the classification from a CSV file (``#`` lines are comments):
    ``code,name,geometry_kind,note``; 2-digit codes are major classes, 4-digit ones minor
    classes of the major their first two digits name. Classes missing from the file are kept
    (components may refer to them). All or nothing."""
    path = Path(path or CLASSES_FILE)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"无法读取部件分类文件 {path.name}：{exc}") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rows = list(csv.DictReader(lines))
    if not rows or not {"code", "name"} <= set(rows[0]):
        raise InvalidInput("部件分类文件应有 code、name 列", details={"file": path.name})
    majors, minors, errors = {}, {}, []
    for n, row in enumerate(rows, start=1):
        code, name = (row.get("code") or "").strip(), (row.get("name") or "").strip()
        kind = (row.get("geometry_kind") or "").strip() or GeometryKind.POINT
        if not name or len(name) > 40:
            errors.append(f"第 {n} 行：名称为空或过长")
        elif kind not in GeometryKind.values:
            errors.append(f"第 {n} 行：几何类型“{kind}”应为 point/line/polygon")
        elif re.fullmatch(r"\d{2}", code):
            majors[code] = (name, (row.get("note") or "").strip()[:200])
        elif re.fullmatch(r"\d{4}", code):
            minors[code] = (name, kind, (row.get("note") or "").strip()[:200])
        else:
            errors.append(f"第 {n} 行：代码“{code}”应为 2 位（大类）或 4 位（小类）数字")
    orphans = sorted(c for c in minors if c[:2] not in majors)
    errors += [f"小类 {c} 的大类 {c[:2]} 不在文件中" for c in orphans]
    if errors:
        raise InvalidInput("部件分类文件有错误，未写入", details={"errors": errors})
    created = updated = 0
    with transaction.atomic():
        saved = {}
        for code, (name, note) in majors.items():
            obj, new = ComponentClass.objects.update_or_create(
                code=code, defaults={"name": name, "note": note, "major": None, "geometry_kind": "point"}
            )
            saved[code] = obj
            created, updated = created + new, updated + (not new)
        for code, (name, kind, note) in minors.items():
            _, new = ComponentClass.objects.update_or_create(
                code=code,
                defaults={"name": name, "note": note, "major": saved[code[:2]], "geometry_kind": kind},
            )
            created, updated = created + new, updated + (not new)
    return {"created": created, "updated": updated}


# ------------------------------------------------------------------ placing a thing


@dataclass(frozen=True)
class Placed:
    """Where a point lies: its unit grid and region codes (12 digits)."""

    grid_code: str
    region_code: str
    street_code: str
    district_code: str


def _accept(
    location: Location, lon: float, lat: float, jurisdiction: Jurisdiction | None, what: str
) -> Placed:
    if not location.inside:
        raise InvalidInput(
            f"{what}位置不在任何单元网格内", code="outside_grids", details={"lon": lon, "lat": lat}
        )
    grid = location.grid["code"]
    if jurisdiction is not None and not jurisdiction.covers_code(grid):
        raise InvalidInput(
            f"{what}位置不在您的管辖范围内", code="outside_jurisdiction", details={"lon": lon, "lat": lat}
        )
    levels = {r["level"]: r["code"] for r in location.regions}
    return Placed(
        grid_code=grid,
        region_code=levels.get(5, grid[:12]),
        street_code=levels.get(4, grid[:9].ljust(12, "0")),
        district_code=levels.get(3, grid[:6].ljust(12, "0")),
    )


def place_point(lon: float, lat: float, jurisdiction: Jurisdiction | None, *, what: str) -> Placed:
    """Grid and region chain of a WGS84 point; refused outside every grid or outside the
    jurisdiction (``None``: no jurisdiction check, for trusted bulk loads)."""
    return _accept(locate_point(lon, lat), lon, lat, jurisdiction, what)


def place_points(points: list[shapely.Point], *, what: str) -> list[Placed]:
    """:func:`place_point` for many points at once (the in-process index: no query per point),
    without a jurisdiction check; the first point outside every grid refuses them all."""
    lons = np.array([p.x for p in points], dtype=float)
    lats = np.array([p.y for p in points], dtype=float)
    found = locate_points(lons, lats) if points else []
    return [_accept(loc, p.x, p.y, None, what) for loc, p in zip(found, points, strict=True)]


def representative_point(geom: BaseGeometry) -> shapely.Point:
    """The point a component is located, filtered and drawn by: the point itself; the middle (by
    length, in degrees — for a street-sized line the shift from the ground middle is well under
    a metre) of a line or of the longest part of a multi-line; a point inside a polygon."""
    if geom.geom_type == "Point":
        return geom
    if geom.geom_type == "MultiLineString":
        geom = max(geom.geoms, key=lambda part: part.length)
    if geom.geom_type == "LineString":
        return geom.interpolate(0.5, normalized=True)
    return geom.point_on_surface()


# ------------------------------------------------------------------ one component


@dataclass(frozen=True)
class ComponentInput:
    class_code: str
    geom: BaseGeometry | None  # WGS84
    code: str = ""  # empty: the next serial of the district and class
    name: str = ""
    owner_department: str = ""
    maintainer: str = ""
    status: str = ComponentStatus.INTACT
    note: str = ""
    # set by component_clean
    placed: Placed | None = None


def _class(code: str, classes: dict[str, ComponentClass] | None = None) -> ComponentClass:
    code = (code or "").strip()
    found = classes.get(code) if classes is not None else ComponentClass.objects.filter(code=code).first()
    if found is None:
        raise InvalidInput(
            f"未知的部件小类代码“{code}”（见 /api/v1/component-classes）",
            code="unknown_class",
            details={"class_code": code},
        )
    if found.major_id is None:
        raise InvalidInput(
            f"“{code} {found.name}”是大类，请给出小类代码", code="unknown_class", details={"class_code": code}
        )
    return found


def component_clean(
    data: ComponentInput,
    *,
    jurisdiction: Jurisdiction | None,
    classes: dict[str, ComponentClass] | None = None,
) -> tuple[ComponentInput, ComponentClass]:
    """Check everything but uniqueness and place the component; raises InvalidInput."""
    cls = _class(data.class_code, classes)
    if data.status not in ComponentStatus.values:
        raise InvalidInput(
            f"状态应为 {' / '.join(ComponentStatus.values)}（完好/破损/丢失/移除）",
            details={"status": data.status},
        )
    texts = {f: (getattr(data, f) or "").strip() for f in _TEXT_LIMITS}
    for field_name, top in _TEXT_LIMITS.items():
        if len(texts[field_name]) > top:
            raise InvalidInput(
                f"{field_name} 过长（上限 {top} 字）", details={field_name: len(texts[field_name])}
            )
    if data.geom is None:
        raise InvalidInput("缺少部件几何 geom（点、线或面）", details={"geom": "required"})
    kinds = _KINDS[cls.geometry_kind]
    check_shape(data.geom, "geom", kinds)
    point = representative_point(data.geom)
    if data.placed is not None:  # located in bulk by the caller (components_upsert)
        placed = data.placed
        if jurisdiction is not None and not jurisdiction.covers_code(placed.grid_code):
            raise InvalidInput("部件位置不在您的管辖范围内", code="outside_jurisdiction")
    else:
        placed = place_point(point.x, point.y, jurisdiction, what="部件")
    code = (data.code or "").strip()
    if code:
        if not CODE_RE.match(code):
            raise InvalidInput(
                f"部件编码“{code}”应为 16 位数字（区县代码 6 位 + 小类 4 位 + 流水号 6 位）",
                details={"code": code},
            )
        if code[:6] != placed.district_code[:6]:
            raise InvalidInput(
                f"部件编码 {code} 的区县代码与部件所在区县 {placed.district_code[:6]} 不一致",
                code="code_mismatch",
                details={"code": code, "district": placed.district_code[:6]},
            )
        if code[6:10] != cls.code:
            raise InvalidInput(
                f"部件编码 {code} 的小类代码 {code[6:10]} 与小类 {cls.code} 不一致",
                code="code_mismatch",
                details={"code": code, "class_code": cls.code},
            )
    return replace(data, code=code, class_code=cls.code, placed=placed, **texts), cls


def _next_codes(prefix: str, count: int) -> list[str]:
    """``count`` unused codes after the highest serial of ``prefix`` (district 6 + class 4).
    Inside the caller's transaction; the advisory lock holds other writers of the prefix until
    it commits."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"component:{prefix}"])
    top = CityComponent.objects.filter(code__startswith=prefix).aggregate(m=Max("code"))["m"]
    start = int(top[10:]) + 1 if top else 1
    if start + count - 1 > 999_999:
        raise InvalidInput(f"编码前缀 {prefix} 的流水号已用尽", details={"prefix": prefix})
    return [f"{prefix}{n:06d}" for n in range(start, start + count)]


def _geos(geom: BaseGeometry) -> GEOSGeometry:
    return GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=4326)


def _fill(obj: CityComponent, data: ComponentInput, cls: ComponentClass) -> CityComponent:
    placed = data.placed
    obj.component_class = cls
    obj.geom = _geos(data.geom)
    obj.point = _geos(representative_point(data.geom))
    for field_name in ("name", "owner_department", "maintainer", "status", "note"):
        setattr(obj, field_name, getattr(data, field_name))
    for field_name in ("grid_code", "region_code", "street_code", "district_code"):
        setattr(obj, field_name, getattr(placed, field_name))
    return obj


def _photos_check(uploads: list) -> list[CheckedFile]:
    files = attachments_check(list(uploads))
    for f in files:
        if f.kind != "image":
            raise InvalidInput(
                f"部件照片 {f.name} 不是图片（JPEG、PNG、WebP）",
                code="unsupported_file",
                details={"file": f.name},
            )
    return files


def _photos_save(component: CityComponent, files: list[CheckedFile], stored: StoredFiles) -> None:
    for f in files:
        stem = uuid.uuid4().hex
        photo = ComponentPhoto(
            component=component, content_type=f.content_type, size=len(f.content), original_name=f.name
        )
        photo.file.save(f"{stem}.{f.extension}", ContentFile(f.content), save=False)
        stored.names.append(photo.file.name)
        if f.thumbnail is not None:
            photo.thumbnail.save(f"{stem}_thumb.jpg", ContentFile(f.thumbnail), save=False)
            stored.names.append(photo.thumbnail.name)
        photo.save()


def _save(obj: CityComponent) -> CityComponent:
    obj.full_clean(exclude=["component_class"], validate_unique=False)
    obj.save()
    return obj


def component_create(*, data: ComponentInput, jurisdiction: Jurisdiction, photos: list = ()) -> CityComponent:
    """A new component (code given or the next serial), with its photos."""
    data, cls = component_clean(data, jurisdiction=jurisdiction)
    files = _photos_check(list(photos))
    with StoredFiles() as stored, transaction.atomic():
        code = data.code
        if not code:
            code = _next_codes(data.placed.district_code[:6] + cls.code, 1)[0]
        elif CityComponent.objects.filter(code=code).exists():
            raise InvalidInput(f"部件编码 {code} 已存在", code="duplicate_code", details={"code": code})
        component = _save(_fill(CityComponent(code=code), data, cls))
        _photos_save(component, files, stored)
    return component


def _visible(code: str, jurisdiction: Jurisdiction, *, lock: bool = False) -> CityComponent:
    from accounts.scoping import scope_queryset

    qs = scope_queryset(CityComponent.objects.filter(code=code), jurisdiction)
    component = (qs.select_for_update() if lock else qs).first()
    if component is None:
        raise NotFound(f"部件 {code} 不存在")
    return component


def component_update(
    *,
    code: str,
    jurisdiction: Jurisdiction,
    class_code: str | None = None,
    geom: BaseGeometry | None = None,
    name: str | None = None,
    owner_department: str | None = None,
    maintainer: str | None = None,
    status: str | None = None,
    note: str | None = None,
    photos: list = (),
) -> CityComponent:
    """Change the given fields (``None``: keep). The code stays; a new class or a move to
    another district that no longer agrees with it is refused — retire the component
    (``removed``) and record a new one instead."""
    with StoredFiles() as stored, transaction.atomic():
        component = _visible(code, jurisdiction, lock=True)
        current = ComponentInput(
            class_code=component.component_class.code if class_code is None else class_code,
            geom=shapely.from_wkb(bytes(component.geom.wkb)) if geom is None else geom,
            code=component.code,
            **{
                f: getattr(component, f) if value is None else value
                for f, value in (
                    ("name", name), ("owner_department", owner_department), ("maintainer", maintainer),
                    ("status", status), ("note", note),
                )
            },
        )  # fmt: skip
        data, cls = component_clean(current, jurisdiction=jurisdiction)
        files = _photos_check(list(photos))
        _save(_fill(component, data, cls))
        _photos_save(component, files, stored)
    return component


def component_status_set(
    *, code: str, status: str, jurisdiction: Jurisdiction, note: str | None = None, photos: list = ()
) -> CityComponent:
    """Record a new status (完好/破损/丢失/移除), with photos of it if any."""
    if status not in ComponentStatus.values:
        raise InvalidInput(
            f"状态应为 {' / '.join(ComponentStatus.values)}（完好/破损/丢失/移除）",
            details={"status": status},
        )
    return component_update(code=code, jurisdiction=jurisdiction, status=status, note=note, photos=photos)


# ------------------------------------------------------------------ many components (imports, demo)


def components_upsert(*, items: list[ComponentInput], clean: bool = True) -> tuple[int, int]:
    """Insert or update components by code, in one transaction; items without a code get new
    serials. ``clean=False`` for items already through :func:`component_clean` (imports)."""
    classes = {c.code: c for c in ComponentClass.objects.all()}
    if clean:
        for item in items:  # the geometry is checked before it is located
            if item.geom is None:
                raise InvalidInput("缺少部件几何 geom（点、线或面）", details={"geom": "required"})
        places = place_points([representative_point(i.geom) for i in items], what="部件")
        items = [
            component_clean(replace(i, placed=p), jurisdiction=None, classes=classes)[0]
            for i, p in zip(items, places, strict=True)
        ]
    with transaction.atomic():
        existing = {
            c.code: c for c in CityComponent.objects.filter(code__in=[i.code for i in items if i.code])
        }
        before = {c.pk: model_values(c) for c in existing.values()}
        fresh: dict[str, list[int]] = {}
        for n, item in enumerate(items):
            if not item.code:
                fresh.setdefault(item.placed.district_code[:6] + item.class_code, []).append(n)
        codes = {}
        for prefix, positions in fresh.items():
            codes.update(zip(positions, _next_codes(prefix, len(positions)), strict=True))
        now = timezone.now()
        rows = []
        for n, item in enumerate(items):
            code = item.code or codes[n]
            obj = _fill(
                existing.get(code) or CityComponent(code=code, created_at=now), item, classes[item.class_code]
            )
            obj.updated_at = now
            rows.append(obj)
        new = [c for c in rows if c.pk is None]
        old = [c for c in rows if c.pk is not None]
        CityComponent.objects.bulk_create(new, batch_size=2000)
        fields = [
            "component_class",
            "geom",
            "point",
            "name",
            "owner_department",
            "maintainer",
            "status",
            "note",
        ]
        located = ["grid_code", "region_code", "street_code", "district_code", "updated_at"]
        CityComponent.objects.bulk_update(old, [*fields, *located], batch_size=2000)
        rows_written.send(
            CityComponent, changes=[(c.pk, c.grid_code, before.get(c.pk), model_values(c)) for c in rows]
        )
    return len(new), len(old)
