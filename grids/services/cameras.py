"""Writes of camera points (视频点位): the point is placed in its unit grid and region chain, and
the sector it sees (``grids.sector``) is drawn and stored, on every write.

Bounds: direction 0–360° (clockwise from north; 360 is north again), field of view
0 < angle ≤ 360°, range 0 < range ≤ ``CAMERA_MAX_RANGE_M``. Nothing is written unless all hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import connection, transaction
from django.db.models import Max

from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.api.params import parse_float
from gis_core.errors import InvalidInput, NotFound

from ..assets import Camera, CameraCategory
from ..sector import camera_sector
from .components import Placed, place_point

__all__ = ["CameraInput", "camera_check", "camera_clean", "camera_create", "camera_update", "cameras_upsert"]

CODE_RE = re.compile(r"^\d{20}$")
URL_RE = re.compile(r"^(rtsp|rtsps|rtmp|http|https)://\S+$", re.IGNORECASE)
# GB/T 28181 device code: centre code (district 6 + unit 2) + industry 2 + type 3 + network 1 + serial 6;
# the codes this project makes use unit "00", industry "00", type 132 (网络摄像机 IPC) and network "0"
_GENERATED = "00" + "00" + "132" + "0"
_COPIED = ("name", "category", "direction", "angle", "range_m", "owner_unit", "responsible_person",
           "responsible_phone", "stream_url")  # fmt: skip
_TEXT_LIMITS = {"name": 100, "owner_unit": 100, "responsible_person": 40, "responsible_phone": 20}


@dataclass(frozen=True)
class CameraInput:
    name: str
    category: str
    lon: float  # WGS84
    lat: float
    direction: float
    angle: float
    range_m: float
    code: str = ""  # empty: a new GB/T 28181 code in the district
    owner_unit: str = ""
    responsible_person: str = ""
    responsible_phone: str = ""
    stream_url: str = ""


def camera_check(data: CameraInput) -> CameraInput:
    """Every field of a camera but its place and code uniqueness; raises InvalidInput."""
    name = (data.name or "").strip()
    if not name:
        raise InvalidInput("缺少名称 name", details={"name": "required"})
    for field_name, top in _TEXT_LIMITS.items():
        if len((getattr(data, field_name) or "").strip()) > top:
            raise InvalidInput(f"{field_name} 过长（上限 {top} 字）", details={field_name: top})
    if data.category not in CameraCategory.values:
        raise InvalidInput(
            f"类别 category 应为 {' / '.join(CameraCategory.values)}（公安/交通/安全/社会）",
            details={"category": data.category},
        )
    lon, lat = parse_float(data.lon, "lon"), parse_float(data.lat, "lat")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput("坐标超出经纬度范围", details={"lon": lon, "lat": lat})
    direction = parse_float(data.direction, "direction")
    if not 0 <= direction <= 360:
        raise InvalidInput(
            f"朝向 direction 应在 0–360 度之间，实际为 {direction}", details={"direction": direction}
        )
    angle = parse_float(data.angle, "angle")
    if not 0 < angle <= 360:
        raise InvalidInput(f"视角 angle 应大于 0 且不超过 360 度，实际为 {angle}", details={"angle": angle})
    range_m = parse_float(data.range_m, "range_m")
    top = settings.CIVGRID["CAMERA_MAX_RANGE_M"]
    if not 0 < range_m <= top:
        raise InvalidInput(
            f"可视距离 range_m 应大于 0 且不超过 {top:g} 米，实际为 {range_m}", details={"range_m": range_m}
        )
    url = (data.stream_url or "").strip()
    if url and (len(url) > 500 or not URL_RE.match(url)):
        raise InvalidInput(
            "视频流地址 stream_url 应为 rtsp/rtmp/http(s) 地址，最长 500 字", details={"stream_url": "bad"}
        )
    code = (data.code or "").strip()
    if code and not CODE_RE.match(code):
        raise InvalidInput(f"设备编码“{code}”应为 20 位数字（GB/T 28181）", details={"code": code})
    return CameraInput(
        name=name, category=data.category, lon=lon, lat=lat, direction=direction, angle=angle,
        range_m=range_m, code=code, owner_unit=data.owner_unit.strip(),
        responsible_person=data.responsible_person.strip(),
        responsible_phone=data.responsible_phone.strip(), stream_url=url,
    )  # fmt: skip


def _place(lon: float, lat: float, code: str, jurisdiction: Jurisdiction | None) -> Placed:
    """The camera's grid and region chain; a device code must name the district it stands in."""
    placed = place_point(lon, lat, jurisdiction, what="摄像机")
    if code and code[:6] != placed.district_code[:6]:
        raise InvalidInput(
            f"设备编码 {code} 的区县代码与点位所在区县 {placed.district_code[:6]} 不一致",
            code="code_mismatch",
            details={"code": code, "district": placed.district_code[:6]},
        )
    return placed


def camera_clean(data: CameraInput) -> tuple[CameraInput, Placed]:
    """Every check of a write but code uniqueness, and the place, without a jurisdiction (the
    import checks each row's grid against the caller's); raises InvalidInput."""
    data = camera_check(data)
    return data, _place(data.lon, data.lat, data.code, None)


def _fill(camera: Camera, data: CameraInput, jurisdiction: Jurisdiction | None) -> Camera:
    placed = _place(data.lon, data.lat, camera.code, jurisdiction)
    sector = camera_sector(
        data.lon, data.lat, direction=data.direction, angle=data.angle, range_m=data.range_m
    )
    camera.geom = Point(data.lon, data.lat, srid=4326)
    camera.sector = GEOSGeometry(memoryview(shapely.to_wkb(sector)), srid=4326)
    for field_name in _COPIED:
        setattr(camera, field_name, getattr(data, field_name))
    for field_name in ("grid_code", "region_code", "street_code", "district_code"):
        setattr(camera, field_name, getattr(placed, field_name))
    return camera


def _next_code(district6: str) -> str:
    """The next generated device code of a district (inside the caller's transaction; the
    advisory lock holds other writers of the district until it commits)."""
    prefix = district6 + _GENERATED
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"camera:{prefix}"])
    top = Camera.objects.filter(code__startswith=prefix).aggregate(m=Max("code"))["m"]
    serial = int(top[14:]) + 1 if top else 1
    if serial > 999_999:
        raise InvalidInput(f"区县 {district6} 的设备编码已用尽", details={"prefix": prefix})
    return f"{prefix}{serial:06d}"


def _save(camera: Camera) -> Camera:
    camera.full_clean(validate_unique=False, validate_constraints=False)
    camera.save()
    return camera


def camera_create(*, data: CameraInput, jurisdiction: Jurisdiction) -> Camera:
    """A new camera point in the caller's jurisdiction."""
    data = camera_check(data)
    with transaction.atomic():
        camera = _fill(Camera(code=data.code), data, jurisdiction)
        if not data.code:
            camera.code = _next_code(camera.district_code[:6])
        elif Camera.objects.filter(code=data.code).exists():
            raise InvalidInput(
                f"设备编码 {data.code} 已存在", code="duplicate_code", details={"code": data.code}
            )
        return _save(camera)


def camera_update(*, camera_id: int, jurisdiction: Jurisdiction, **changes) -> Camera:
    """Change the given fields of a camera the caller may see (the code stays); the sector and
    the place are drawn again."""
    unknown = set(changes) - {f for f in CameraInput.__dataclass_fields__ if f != "code"}
    if unknown:
        raise InvalidInput(
            f"不能修改的字段：{'、'.join(sorted(unknown))}", details={"fields": sorted(unknown)}
        )
    with transaction.atomic():
        camera = scope_queryset(Camera.objects.filter(pk=camera_id), jurisdiction).select_for_update().first()
        if camera is None:
            raise NotFound(f"摄像机 {camera_id} 不存在")
        current = {f: getattr(camera, f) for f in CameraInput.__dataclass_fields__ if f not in ("lon", "lat")}
        current.update(lon=camera.geom.x, lat=camera.geom.y)
        data = camera_check(CameraInput(**{**current, **{k: v for k, v in changes.items() if v is not None}}))
        return _save(_fill(camera, data, jurisdiction))


def cameras_upsert(*, items: list[CameraInput]) -> tuple[int, int]:
    """Insert or update cameras by code, trusted (no jurisdiction; the demo and loaders)."""
    created = updated = 0
    with transaction.atomic():
        for item in items:
            data = camera_check(item)
            camera = Camera.objects.filter(code=data.code).first() if data.code else None
            is_new = camera is None
            camera = _fill(camera or Camera(code=data.code), data, None)
            if not camera.code:
                camera.code = _next_code(camera.district_code[:6])
            _save(camera)
            created, updated = created + is_new, updated + (not is_new)
    return created, updated
