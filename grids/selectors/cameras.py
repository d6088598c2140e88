"""Reads of camera points (视频点位): scoped lists, the cameras whose sector sees a point, and the
cameras near an event (read through the events selectors).

"Sees" is the stored sector covering the point (edges included), answered by the GiST index on
``sector``; obstacles (buildings, trees) are not modelled. Distances are on the spheroid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.gis.db.models import PointField
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point, Polygon
from django.db.models import BooleanField, F, Func, QuerySet, Value

from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.api.params import parse_choices
from gis_core.errors import InvalidInput, NotFound
from gis_core.ground import envelope

from ..assets import Camera, CameraCategory

__all__ = [
    "NearEvent",
    "camera_filter",
    "camera_get",
    "cameras_near_event",
    "cameras_seeing",
    "cameras_visible",
]


def cameras_visible(jurisdiction: Jurisdiction) -> QuerySet[Camera]:
    return scope_queryset(Camera.objects.all(), jurisdiction)


def camera_filter(qs: QuerySet[Camera], params: Mapping[str, Any]) -> QuerySet[Camera]:
    """The camera filter of the API and the tile layer: ``category`` (comma-separated)."""
    wanted = parse_choices(params.get("category"), "category", CameraCategory.values, "类别")
    return qs.filter(category__in=wanted) if wanted else qs


def camera_get(*, camera_id: int, jurisdiction: Jurisdiction) -> Camera:
    """The camera if the caller may see it; otherwise 404, as for an id that does not exist."""
    camera = cameras_visible(jurisdiction).filter(pk=camera_id).first()
    if camera is None:
        raise NotFound(f"摄像机 {camera_id} 不存在")
    return camera


def _point(lon: float, lat: float) -> Point:
    return Point(lon, lat, srid=4326)


def _sees(point: Point) -> Func:
    return Func(F("sector"), Value(point, output_field=PointField(srid=4326)), function="ST_Covers",
                output_field=BooleanField())  # fmt: skip


def cameras_seeing(*, lon: float, lat: float, jurisdiction: Jurisdiction) -> QuerySet[Camera]:
    """Cameras whose sector covers the WGS84 point, nearest first (``distance``: a Distance)."""
    point = _point(lon, lat)
    return (
        cameras_visible(jurisdiction)
        .filter(sector__covers=point)
        .annotate(distance=Distance("geom", point, spheroid=True))
        .order_by("distance", "code")
    )


def cameras_near(*, lon: float, lat: float, radius_m: float, jurisdiction: Jurisdiction) -> QuerySet[Camera]:
    """Cameras within ``radius_m`` metres of the point on the ground, nearest first, annotated
    ``distance`` and ``sees`` (whether the point is in the camera's sector). A degree box that
    holds the circle lets the GiST index on ``geom`` make the first cut."""
    point = _point(lon, lat)
    box = Polygon.from_bbox(envelope((lon, lat, lon, lat), radius_m))
    box.srid = 4326
    return (
        cameras_visible(jurisdiction)
        .filter(geom__intersects=box)
        .annotate(distance=Distance("geom", point, spheroid=True), sees=_sees(point))
        .filter(distance__lte=radius_m)
        .order_by("distance", "code")
    )


@dataclass(frozen=True)
class NearEvent:
    event: object  # events.models.Event
    radius_m: float
    cameras: list[Camera]


def cameras_near_event(
    *, event_id: int, jurisdiction: Jurisdiction, radius_m: float | None = None
) -> NearEvent:
    """The event (404 if the caller may not see it) and the cameras within ``radius_m`` of it."""
    from events.selectors.events import event_get

    cfg = settings.CIVGRID
    radius = cfg["CAMERA_NEAR_RADIUS_M"] if radius_m is None else radius_m
    if not 0 < radius <= cfg["CAMERA_NEAR_MAX_RADIUS_M"]:
        raise InvalidInput(
            f"半径 radius 应大于 0 且不超过 {cfg['CAMERA_NEAR_MAX_RADIUS_M']:g} 米",
            details={"radius": radius},
        )
    event = event_get(event_id=event_id, jurisdiction=jurisdiction)
    cameras = list(
        cameras_near(lon=event.geom.x, lat=event.geom.y, radius_m=radius, jurisdiction=jurisdiction)
    )
    return NearEvent(event=event, radius_m=radius, cameras=cameras)
