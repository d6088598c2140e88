"""What the load test's simulated users need from the bench database, read once before a
run: an API key (nationwide, every scope the mix uses, no practical rate limit) and
samples of real data (grid centres, door-plate addresses, staff, event categories).

It runs in the driver's process with Django set up on ``config.settings.bench``; the
locust process reads the JSON it writes and never imports Django.
"""

from __future__ import annotations

import random
import secrets

__all__ = ["SCOPES", "prepare"]

SCOPES = [
    "regions:read", "grids:read", "locate:read", "geocode:read", "events:read", "events:write",
    "tracks:write",
]  # fmt: skip


def prepare(*, seed: int = 1, points: int = 2000, addresses: int = 1000, staff: int = 500) -> dict:
    from django.contrib.gis.db.models import Extent
    from django.contrib.gis.db.models.functions import PointOnSurface

    from accounts.services import apikey_issue
    from events.models import EventCategory
    from geocoding.models import DoorPlate
    from gis_core.models import Region
    from grids.models import GridStaff, UnitGrid

    rng = random.Random(seed)
    grid_ids = list(UnitGrid.objects.values_list("pk", flat=True))
    if not grid_ids:
        raise SystemExit("the bench database has no grids: build it first (make bench builds it)")
    picked = rng.sample(grid_ids, min(points, len(grid_ids)))
    centres = [
        (round(p.x, 6), round(p.y, 6))
        for p in UnitGrid.objects.filter(pk__in=picked)
        .annotate(c=PointOnSurface("geom"))
        .values_list("c", flat=True)
    ]
    districts = dict(Region.objects.filter(level=3).values_list("code", "name"))
    door_ids = list(DoorPlate.objects.values_list("pk", flat=True))
    doors = DoorPlate.objects.filter(pk__in=rng.sample(door_ids, min(addresses, len(door_ids))))
    texts = [
        f"{districts.get(d.district_code, '')}{d.street.name}{d.label}"
        for d in doors.select_related("street")
    ]
    staff_ids = list(GridStaff.objects.values_list("pk", flat=True))
    categories = list(
        EventCategory.objects.filter(parent__isnull=False, active=True).values_list("code", flat=True)
    )
    extent = UnitGrid.objects.aggregate(e=Extent("geom"))["e"]
    key = apikey_issue(
        name=f"loadtest-{secrets.token_hex(4)}",
        scopes=SCOPES,
        nationwide=True,
        rate_limit_per_minute=10_000_000,
    )
    return {
        "token": key.token,
        "points": centres,
        "addresses": texts,
        "staff": rng.sample(staff_ids, min(staff, len(staff_ids))),
        "categories": categories,
        "extent": list(extent),
        "districts": sorted(districts),
    }
