"""Demo grid staff and a week of patrol tracks for the demo city, written through the services.

Every grid gets a 专职网格员, every community a 网格长 (covering all its grids) and a 党小组长,
every third grid a 兼职网格员, every street a 网格指导员. A sample of the full-time staff
(``track_staff``, 40 by default, so ``make demo`` stays quick at any scale) walk patrols on the
seven days before today, on weekdays: twice a day along the roads of their grid (back and
forth at a walking pace, one fix every 15 s), with stops of a few minutes, data gaps (a phone
without signal), GPS noise of a few metres, now and then a wild jump that the cleaner rejects,
and a third of them sending GCJ-02 as phone map SDKs do. A few are on patrol right now, so
“online now” shows.

Deterministic for a seed (``random.Random(seed)``); times are relative to ``now``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random

import numpy as np
import shapely
from django.db import connection, transaction
from django.utils import timezone
from shapely.geometry import LineString

from accounts.permissions import SCOPES, Principal
from accounts.scoping import Jurisdiction
from gis_core import crs as crs_mod
from gis_core.models import Region, RegionLevel

from .models import GridStaff, StaffRole, UnitGrid
from .services.staff import StaffInput, staff_create
from .services.tracks import positions_ingest
from .tracking.geo import M_PER_DEG_LAT, M_PER_DEG_LON

__all__ = ["demo_tracks_create"]

log = logging.getLogger(__name__)
SYSTEM = Principal("system:demo", frozenset(SCOPES), Jurisdiction(nationwide=True))
NATIONWIDE = Jurisdiction(nationwide=True)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅志文"
STEP_S = 15.0


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3589") + "".join(str(rng.randrange(10)) for _ in range(9))


def _staff(rng: random.Random, prefix: str) -> list[tuple[GridStaff, UnitGrid]]:
    """Create the staff; returns (full-time person, their grid) pairs."""
    grids = list(UnitGrid.objects.filter(code__startswith=prefix).order_by("code"))
    by_community: dict[str, list[str]] = {}
    full_time = []
    for i, grid in enumerate(grids):
        by_community.setdefault(grid.community_code, []).append(grid.code)
        person = staff_create(
            data=StaffInput(
                name=_name(rng), role=StaffRole.FULL_TIME, phone=_phone(rng), grids=[(grid.code, "")]
            ),
            jurisdiction=NATIONWIDE,
        )
        full_time.append((person, grid))
        if i % 3 == 0:
            staff_create(
                data=StaffInput(name=_name(rng), role=StaffRole.PART_TIME, grids=[(grid.code, "")]),
                jurisdiction=NATIONWIDE,
            )
    for codes in by_community.values():
        for role in (StaffRole.GRID_HEAD, StaffRole.PARTY_LEADER):
            staff_create(
                data=StaffInput(
                    name=_name(rng), role=role, phone=_phone(rng), grids=[(c, "") for c in codes]
                ),
                jurisdiction=NATIONWIDE,
            )
    streets = Region.objects.filter(code__startswith=prefix, level=RegionLevel.STREET).values_list(
        "code", flat=True
    )
    for street in streets:
        if any(c.startswith(street[:9]) for c in by_community):
            staff_create(
                data=StaffInput(name=_name(rng), role=StaffRole.INSTRUCTOR, region_code=street),
                jurisdiction=NATIONWIDE,
            )
    return full_time


def _routes(grid: UnitGrid) -> tuple[list[np.ndarray], float, float]:
    """Lines to walk in a grid, in local metres: the roads crossing it, else its boundary."""
    from geocoding.models import Street

    lon0, lat0 = grid.geom.centroid.x, grid.geom.centroid.y
    kx = M_PER_DEG_LON * math.cos(math.radians(lat0))
    area = shapely.from_wkb(bytes(grid.geom.wkb))
    lines = []
    for street in Street.objects.filter(geom__intersects=grid.geom):
        clipped = shapely.intersection(shapely.from_wkb(bytes(street.geom.wkb)), area.buffer(0.0003))
        for part in getattr(clipped, "geoms", [clipped]):
            if isinstance(part, LineString) and part.length > 0.0005:
                xy = np.asarray(part.coords)[:, :2]
                lines.append(np.column_stack([(xy[:, 0] - lon0) * kx, (xy[:, 1] - lat0) * M_PER_DEG_LAT]))
    if not lines:
        ring = np.asarray(area.geoms[0].exterior.coords if hasattr(area, "geoms") else area.exterior.coords)
        lines.append(np.column_stack([(ring[:, 0] - lon0) * kx, (ring[:, 1] - lat0) * M_PER_DEG_LAT]))
    return lines, lon0, lat0


def _walk(rng: random.Random, lines: list[np.ndarray], start: float, minutes: float) -> np.ndarray:
    """(t, x, y) fixes of one patrol: along the lines back and forth, with a stop and maybe a gap."""
    speed = rng.uniform(0.9, 1.4)
    line = LineString(rng.choice(lines))
    s, direction = rng.uniform(0, line.length), 1
    n = int(minutes * 60 / STEP_S)
    stop_at = rng.randrange(n // 4, n // 2) if n > 8 and rng.random() < 0.7 else -1
    stop_len = int(rng.uniform(4, 10) * 60 / STEP_S)
    gap_at = rng.randrange(n // 2, n - 2) if n > 8 and rng.random() < 0.3 else -1
    gap_len = int(rng.uniform(6, 12) * 60 / STEP_S)
    rows, i, t = [], 0, start
    while i < n:
        if stop_at <= i < stop_at + stop_len:
            pass  # standing: only noise moves the fix
        else:
            s += direction * speed * STEP_S
            if not 0 <= s <= line.length:
                if rng.random() < 0.5 and len(lines) > 1:
                    p = line.interpolate(min(max(s, 0), line.length))
                    line = LineString(rng.choice(lines))
                    s = line.project(p)
                else:
                    direction = -direction
                    s = min(max(s, 0), line.length)
        if not gap_at <= i < gap_at + gap_len:
            p = line.interpolate(s)
            x, y = p.x + rng.gauss(0, 4), p.y + rng.gauss(0, 4)
            if rng.random() < 0.003:
                x += rng.choice((-1, 1)) * rng.uniform(400, 1500)  # a GPS jump: rejected on arrival
            rows.append((t, x, y))
        i += 1
        t += STEP_S
    return np.array(rows).reshape(-1, 3)


def _post(person: GridStaff, fixes: np.ndarray, lon0: float, lat0: float, gcj: bool) -> int:
    kx = M_PER_DEG_LON * math.cos(math.radians(lat0))
    lon = lon0 + fixes[:, 1] / kx
    lat = lat0 + fixes[:, 2] / M_PER_DEG_LAT
    crs = "wgs84"
    if gcj:
        lon, lat = crs_mod.wgs84_to_gcj02(lon, lat)
        crs = "gcj02"
    items = [
        {"staff": person.pk, "t": float(t), "lon": float(x), "lat": float(y), "accuracy": 8.0}
        for t, x, y in zip(fixes[:, 0], lon, lat, strict=True)
    ]
    written = 0
    for start in range(0, len(items), 5000):
        written += positions_ingest(principal=SYSTEM, items=items[start : start + 5000], crs=crs).accepted
    return written


@transaction.atomic
def demo_tracks_create(
    seed: int = 1, *, city_code: str = "510500000000", track_staff: int = 40, now: dt.datetime | None = None
) -> tuple[int, int]:
    """Replace the city's staff and tracks; returns (staff, positions) written."""
    now = now or timezone.now()
    rng = random.Random(seed)
    prefix = city_code[:4]
    old = list(GridStaff.objects.filter(region_code__startswith=prefix).values_list("pk", flat=True))
    with connection.cursor() as cur:
        cur.execute("DELETE FROM grids_position WHERE staff_id = ANY(%s)", [old])
    GridStaff.objects.filter(pk__in=old).delete()
    full_time = _staff(rng, prefix)
    walkers = rng.sample(full_time, min(track_staff, len(full_time)))
    local = timezone.localtime(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    positions = 0
    for k, (person, grid) in enumerate(sorted(walkers, key=lambda w: w[0].pk)):
        lines, lon0, lat0 = _routes(grid)
        gcj = k % 3 == 0
        chunks = []
        for days_back in range(7, 0, -1):
            day = today - dt.timedelta(days=days_back)
            if day.weekday() >= 5 and rng.random() < 0.8:
                continue  # most weekends off
            for hour in (rng.uniform(8.5, 10), rng.uniform(14.5, 16)):
                if rng.random() < 0.1:
                    continue  # a missed patrol
                chunks.append(_walk(rng, lines, day.timestamp() + hour * 3600, rng.uniform(40, 75)))
        if k < 5:  # on patrol right now
            chunks.append(_walk(rng, lines, now.timestamp() - 20 * 60, 19.5))
        for fixes in chunks:
            positions += _post(person, fixes, lon0, lat0, gcj)
    staff = GridStaff.objects.filter(region_code__startswith=prefix).count()
    log.info("demo tracks: %d staff, %d positions of %d people", staff, positions, len(walkers))
    return staff, positions
