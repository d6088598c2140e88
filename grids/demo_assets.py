"""Demo city components and cameras, written through the services (``demo_city_build`` calls it).

Along every road of the generated city, at fixed spacings with a little jitter, a few metres
off the centre line: street lamps, manhole covers of every kind, bins, street trees, bus
shelters on the avenues, billboards; a stretch of railing (a line) on each avenue; a green
space (a polygon) in every tenth grid. About one in twelve components is damaged, one in
forty lost. Cameras every ~400 m of avenue and road, looking along the road (60–90°, 60–150 m),
and a 360° dome at every fifth crossing of the walk; a quarter have a stream URL.

Deterministic for a seed; counts grow with the length of the roads (about 1,400 components
and 40 cameras in the small city).
"""

from __future__ import annotations

import logging
import math
import random

import shapely
from shapely.geometry import LineString, Point

from gis_core.ground import GEOD

from .assets import CameraCategory, CityComponent, ComponentStatus
from .models import Camera, UnitGrid
from .services.cameras import CameraInput, cameras_upsert
from .services.components import (
    ComponentInput,
    component_classes_load,
    components_upsert,
    representative_point,
)

__all__ = ["demo_assets_create"]

log = logging.getLogger(__name__)
M_PER_DEG = 111_320.0

# minor class, spacing along the road (m), offset from the centre line (m), road kinds
ALONG_ROADS = (
    ("0108", 60.0, 9.0, ("avenue", "road", "street", "lane")),  # 路灯
    ("0101", 240.0, 2.0, ("avenue", "road", "street")),  # 上水井盖
    ("0102", 240.0, -2.0, ("avenue", "road", "street")),  # 污水井盖
    ("0103", 180.0, 5.0, ("avenue", "road", "street", "lane")),  # 雨水井盖
    ("0104", 400.0, 6.0, ("avenue", "road")),  # 电力井盖
    ("0105", 400.0, -6.0, ("avenue", "road")),  # 通信井盖
    ("0106", 600.0, 3.0, ("avenue", "road", "street")),  # 燃气井盖
    ("0302", 150.0, 10.0, ("avenue", "road", "street", "lane")),  # 垃圾箱
    ("0402", 40.0, -10.0, ("avenue", "road")),  # 行道树
    ("0109", 500.0, 11.0, ("avenue",)),  # 公交站亭
    ("0304", 350.0, -12.0, ("avenue", "road")),  # 户外广告设施
    ("0107", 300.0, 8.0, ("avenue", "road", "street")),  # 消防栓
)
OWNERS = {
    "01": ("市政设施管理处", "泸州市政养护有限公司"),
    "02": ("交通运输局", "交通设施养护中心"),
    "03": ("城市管理局", "环卫作业公司"),
    "04": ("园林绿化局", "园林养护中心"),
}
CATEGORIES = (
    CameraCategory.PUBLIC_SECURITY,
    CameraCategory.TRAFFIC,
    CameraCategory.SOCIETY,
    CameraCategory.SAFETY,
)


def _offset(line: LineString, distance: float, side_m: float) -> tuple[float, float, float]:
    """(lon, lat, azimuth) at ``distance`` metres along the line, ``side_m`` to its right."""
    lon_scale = M_PER_DEG * math.cos(math.radians(line.centroid.y))
    frac = distance / _length_m(line)
    p = line.interpolate(frac, normalized=True)
    q = line.interpolate(min(1.0, frac + 0.001), normalized=True)
    if q.equals(p):
        q, p = p, line.interpolate(max(0.0, frac - 0.001), normalized=True)
    dx, dy = (q.x - p.x) * lon_scale, (q.y - p.y) * M_PER_DEG
    norm = math.hypot(dx, dy) or 1.0
    azimuth = math.degrees(math.atan2(dx, dy)) % 360
    return p.x + dy / norm * side_m / lon_scale, p.y - dx / norm * side_m / M_PER_DEG, azimuth


def _length_m(line: LineString) -> float:
    return GEOD.geometry_length(line)


def _status(rng: random.Random) -> str:
    r = rng.random()
    return (
        ComponentStatus.LOST if r < 0.025 else ComponentStatus.DAMAGED if r < 0.11 else ComponentStatus.INTACT
    )


def _component(rng: random.Random, class_code: str, geom, name: str) -> ComponentInput:
    owner, maintainer = OWNERS.get(class_code[:2], ("城市管理局", "城市管理局"))
    return ComponentInput(
        class_code=class_code, geom=geom, name=name, owner_department=owner, maintainer=maintainer,
        status=_status(rng),
    )  # fmt: skip


def _roads(plan) -> list:
    return [r for r in plan.roads if r.geom.length > 0 and r.kind in ("avenue", "road", "street", "lane")]


def demo_assets_create(seed: int, *, city_code: str, plan) -> tuple[int, int]:
    """Components and cameras for the demo city; returns (components, cameras) written.
    Points outside every unit grid (road ends beyond the grids) are skipped."""
    rng = random.Random(seed * 7919 + 6)
    prefix = city_code[:4]
    component_classes_load()
    CityComponent.objects.filter(district_code__startswith=prefix).delete()
    Camera.objects.filter(district_code__startswith=prefix).delete()
    cover = shapely.union_all([shapely.from_wkb(bytes(g.wkb)) for g in _grid_shapes(prefix)])
    shapely.prepare(cover)
    components: list[ComponentInput] = []
    cameras: list[CameraInput] = []
    for road in _roads(plan):
        length = _length_m(road.geom)
        for class_code, spacing, side, kinds in ALONG_ROADS:
            if road.kind not in kinds:
                continue
            at = rng.uniform(0, spacing)
            while at < length:
                lon, lat, _ = _offset(road.geom, at, side + rng.uniform(-0.5, 0.5))
                components.append(_component(rng, class_code, Point(lon, lat), road.name))
                at += spacing * rng.uniform(0.85, 1.15)
        if road.kind == "avenue" and length > 120:  # a stretch of railing: a line component
            start = rng.uniform(0, length - 100)
            pts = [_offset(road.geom, start + d, 7.0)[:2] for d in range(0, 100, 20)]
            components.append(_component(rng, "0205", LineString(pts), road.name))
        if road.kind in ("avenue", "road"):
            at = rng.uniform(50, 400)
            while at < length:
                lon, lat, azimuth = _offset(road.geom, at, 6.0)
                n = len(cameras)
                dome = n % 5 == 4
                cameras.append(
                    CameraInput(
                        name=f"{road.name}{'球机' if dome else '枪机'}{n + 1:04d}",
                        category=CATEGORIES[n % 4], lon=lon, lat=lat,
                        direction=round((azimuth + (180 if n % 2 else 0)) % 360, 1),
                        angle=360.0 if dome else float(rng.choice((60, 75, 90))),
                        range_m=float(rng.choice((60, 80, 100, 150))),
                        owner_unit=("公安局", "交通运输局", "城市管理局", "应急管理局")[n % 4],
                        responsible_person=rng.choice("王李张刘陈杨") + rng.choice(("伟", "芳", "强", "敏")),
                        stream_url=f"rtsp://video.demo.invalid/live/{n + 1:05d}" if n % 4 == 0 else "",
                    )
                )  # fmt: skip
                at += rng.uniform(350, 450)
    for i, grid in enumerate(UnitGrid.objects.filter(code__startswith=prefix).order_by("code")):
        if i % 10 == 3:  # a green space: a small polygon inside the grid
            c = shapely.from_wkb(bytes(grid.geom.point_on_surface.wkb))
            green = c.buffer(25 / M_PER_DEG, quad_segs=4).intersection(shapely.from_wkb(bytes(grid.geom.wkb)))
            if green.geom_type == "Polygon" and not green.is_empty:
                components.append(_component(rng, "0403", green, f"{grid.name}绿地"))
    components = [c for c in components if cover.covers(representative_point(c.geom))]
    cameras = [c for c in cameras if cover.covers(Point(c.lon, c.lat))]
    created, _ = components_upsert(items=components)
    cams, _ = cameras_upsert(items=cameras)
    log.info("demo city: %d components, %d cameras", created, cams)
    return created, cams


def _grid_shapes(prefix: str):
    return UnitGrid.objects.filter(code__startswith=prefix).values_list("geom", flat=True)
