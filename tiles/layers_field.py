"""The vector-tile layers of things in the field, one declaration each (see :mod:`tiles.registry`):
city components (城市部件), cameras (视频点位), civilization units (文明创建单位) and where the grid
staff are now (网格员实时位置).

Each is scoped the way its API is: components, cameras and units by their stored grid, staff by
the person's region (``accounts.scoping``). Civilization units follow the civilization API's
privacy rule (:mod:`civilization.selectors.units`): the ``civilization`` layer everybody gets is
:class:`~civilization.models.PublicCivilizationUnit` on ``public_geom`` — a family (文明家庭) at
its community's representative point, scoped, filtered and aggregated on that point and its
grid — and only a caller holding ``personal:read`` is served its personal variant, the exact
points, under the same layer name and its own cache entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Round
from django.utils import timezone

from gis_core.api.params import parse_choices, parse_float
from gis_core.errors import InvalidInput

from .layers import Epoch
from .registry import TileLayer, register_layer

__all__ = ["STAFF_MAX_MINUTES"]


# ------------------------------------------------------------------ city components
def _components() -> QuerySet:
    from grids.models import CityComponent

    return CityComponent.objects.all()


def _component_filters(qs: QuerySet, params: Mapping[str, Any]) -> QuerySet:
    """``class`` (4-digit minor or 2-digit major code) and ``status``: the API's filters."""
    from grids.selectors.components import component_filter

    return component_filter(qs, params)


register_layer(
    TileLayer(
        name="components",
        title="城市部件",
        scope="components:read",
        queryset=_components,
        attributes={
            "id": "pk", "code": "code", "name": "name", "class": "component_class__code",
            "class_name": "component_class__name", "major": "component_class__major__code",
            "status": "status", "grid": "grid_code",
        },
        fields={
            "id": "Number", "code": "String", "name": "String", "class": "String（小类代码）",
            "class_name": "String", "major": "String（大类代码）", "status": "String",
            "grid": "String", "count": "Number（低缩放级别聚合时：格内部件数）",
        },
        geometry="point",
        geom_field="point",  # every component is one point on the map (its representative point)
        filters=_component_filters,
        filter_params=("class", "status"),
        range_filter=True,
        time_field="created_at",
        aggregate_below=15,
        depends_on=("grids_componentclass",),
        max_age=300,
        description="城市部件（代表点）",
    )
)  # fmt: skip


# ------------------------------------------------------------------ cameras
def _cameras() -> QuerySet:
    from grids.models import Camera

    return Camera.objects.all()


def _camera_filters(qs: QuerySet, params: Mapping[str, Any]) -> QuerySet:
    """``category`` (comma-separated): the API's filter."""
    from grids.selectors.cameras import camera_filter

    return camera_filter(qs, params)


register_layer(
    TileLayer(
        name="cameras",
        title="视频监控点位",
        scope="cameras:read",
        queryset=_cameras,
        # what the map needs to draw the view sector; never the stream URL (cameras:stream)
        attributes={
            "id": "pk", "code": "code", "name": "name", "category": "category",
            "direction": "direction", "angle": "angle", "range": "range_m", "grid": "grid_code",
        },
        fields={
            "id": "Number", "code": "String", "name": "String", "category": "String",
            "direction": "Number（朝向，度，正北顺时针）", "angle": "Number（视角，度）",
            "range": "Number（可视距离，米）", "grid": "String",
            "count": "Number（低缩放级别聚合时：格内点位数）",
        },
        geometry="point",
        filters=_camera_filters,
        filter_params=("category",),
        range_filter=True,
        time_field="created_at",
        aggregate_below=14,
        max_age=300,
        description="视频监控点位（含朝向、视角、可视距离，用于绘制可视扇区）",
    )
)  # fmt: skip


# ------------------------------------------------------------------ civilization units
def _unit_filters(qs: QuerySet, params: Mapping[str, Any]) -> QuerySet:
    # the same filters as the civilization API's unit queries
    from civilization.selectors.units import units_filter

    return units_filter(qs, params)


def _civilization_layer(*, public: bool) -> TileLayer:
    def queryset() -> QuerySet:
        from civilization.models import CivilizationUnit, PublicCivilizationUnit

        return (PublicCivilizationUnit if public else CivilizationUnit).objects.all()

    grid = "public_grid_code" if public else "grid_code"
    # a family seen without personal:read stands at its community's point: say so on the feature
    coarse = Case(When(unit_type="family", then=True), default=False, output_field=BooleanField())
    return TileLayer(
        name="civilization",
        title="文明创建单位",
        scope="civilization:read",
        queryset=queryset,
        attributes={
            "id": "pk", "name": "name", "type": "unit_type", "level": "level", "status": "status",
            "year": "year_awarded", "review_year": "review_year", "grid": grid,
            "coarse": coarse if public else Value(False, output_field=BooleanField()),
        },
        fields={
            "id": "Number", "name": "String", "type": "String", "level": "String", "status": "String",
            "year": "Number", "review_year": "Number", "grid": "String",
            "coarse": "Boolean（true：文明家庭，位置为所在社区代表点）",
            "count": "Number（低缩放级别聚合时：格内单位数）",
        },
        geometry="point",
        geom_field="public_geom" if public else "geom",
        filters=_unit_filters,
        filter_params=("type", "level", "status", "year", "review_year", "q"),
        range_filter=True,
        time_field="created_at",
        aggregate_below=14,
        max_age=300,
        variant="" if public else "personal",
        description="文明创建单位（无个人信息权限时，文明家庭位于所在社区代表点）",
    )  # fmt: skip


register_layer(replace(_civilization_layer(public=True), personal_variant=_civilization_layer(public=False)))


# ------------------------------------------------------------------ staff positions now
#: the longest "recent" window a caller may ask for (minutes)
STAFF_MAX_MINUTES = 24 * 60
#: the speed of a position is measured from the person's previous fix, if it is this recent
SPEED_SPAN = dt.timedelta(minutes=10)


def _positions() -> QuerySet:
    """Each person's newest fix (``GridStaff.last_position_at``, kept by the ingest), with the
    speed from the fix before it (km/h; none without a recent one)."""
    from grids.models import Position

    before = Position.objects.filter(
        staff_id=OuterRef("staff_id"),
        recorded_at__lt=OuterRef("recorded_at"),
        recorded_at__gte=OuterRef("recorded_at") - SPEED_SPAN,
    ).order_by("-recorded_at")
    seconds = Epoch(F("recorded_at")) - Epoch(F("prev_at"))
    metres = F("cum_m") - F("prev_m")
    speed = ExpressionWrapper(metres * 3.6 / Func(seconds, 0, function="NULLIF"), output_field=FloatField())
    return (
        Position.objects.filter(recorded_at=F("staff__last_position_at"))
        .annotate(
            prev_at=Subquery(before.values("recorded_at")[:1]), prev_m=Subquery(before.values("cum_m")[:1])
        )
        .annotate(speed_kmh=Cast(Round(speed, 1), FloatField()))  # numeric would be a string
    )


def _staff_scoped(qs: QuerySet, jurisdiction) -> QuerySet:
    """People are scoped as the staff API scopes them: by the person's region, not where they are."""
    from accounts.scoping import scope_queryset
    from grids.models import GridStaff

    return qs.filter(staff__in=scope_queryset(GridStaff.objects.all(), jurisdiction).values("pk"))


def _position_filters(qs: QuerySet, params: Mapping[str, Any]) -> QuerySet:
    """``minutes``: how recent the newest fix must be (default: the "online" window,
    ``TRACK_ONLINE_MINUTES``); ``role``: the person's main role (comma-separated)."""
    from grids.models import StaffRole

    minutes = settings.CIVGRID["TRACK_ONLINE_MINUTES"]
    if params.get("minutes") not in (None, ""):
        minutes = parse_float(params["minutes"], "minutes")
    if not 0 < minutes <= STAFF_MAX_MINUTES:
        raise InvalidInput(
            f"minutes 应在 0–{STAFF_MAX_MINUTES} 分钟之间", details={"minutes": params.get("minutes")}
        )
    # a constant bound (not now() in SQL), so the partitions of older months are pruned
    qs = qs.filter(recorded_at__gte=timezone.now() - dt.timedelta(minutes=minutes))
    if wanted := parse_choices(params.get("role"), "role", StaffRole.values, "角色"):
        qs = qs.filter(staff__role__in=wanted)
    return qs


register_layer(
    TileLayer(
        name="staff",
        title="网格员实时位置",
        scope="tracks:read",
        queryset=_positions,
        scoped=_staff_scoped,
        attributes={
            "person": "staff_id", "name": "staff__name", "role": "staff__role",
            "time": Epoch(F("recorded_at")), "speed": "speed_kmh", "grid": "grid_code",
            "accuracy": "accuracy_m",
        },
        fields={
            "person": "Number（网格员编号）", "name": "String", "role": "String",
            "time": "Number（定位时间，Unix 秒）", "speed": "Number（km/h，据前一定位点）",
            "grid": "String（所在网格）", "accuracy": "Number（定位精度，米）",
        },
        geometry="point",
        filters=_position_filters,
        filter_params=("minutes", "role"),
        live=True,
        max_age=0,
        description="每名网格员在最近时段内的最新定位",
    )
)  # fmt: skip
