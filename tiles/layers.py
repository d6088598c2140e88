"""The built-in vector-tile layers: one declaration each (see :mod:`tiles.registry`).

Scoping comes from each model's ``Scope`` (``accounts.scoping``), exactly as
for the API: events and door plates by their stored unit grid, unit grids by
their code, regions by their code prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    DateTimeField,
    F,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)

from gis_core.errors import InvalidInput
from gis_core.models import RegionLevel

from .registry import TileLayer, register_layer

__all__ = ["REGION_LAYERS", "Epoch"]


class Epoch(Func):
    """A timestamp as whole seconds since 1970 (MVT has no date type)."""

    template = "floor(EXTRACT(EPOCH FROM %(expressions)s))::bigint"
    output_field = BigIntegerField()


# ------------------------------------------------------------------ regions, one layer per level
REGION_LAYERS = {
    RegionLevel.PROVINCE: "regions-province",
    RegionLevel.CITY: "regions-city",
    RegionLevel.DISTRICT: "regions-district",
    RegionLevel.STREET: "regions-street",
    RegionLevel.COMMUNITY: "regions-community",
}


def _regions(level: int):
    def queryset() -> QuerySet:
        from gis_core.models import Region

        return Region.objects.filter(level=level, geom__isnull=False)

    return queryset


for _level, _name in REGION_LAYERS.items():
    register_layer(
        TileLayer(
            name=_name,
            title=f"行政区划（{_level.label}）",
            scope="regions:read",
            queryset=_regions(_level.value),
            attributes={"code": "code", "name": "name", "level": "level"},
            fields={"code": "String", "name": "String", "level": "Number"},
            geometry="polygon",
            min_size_px=2,
            max_age=300,
        )
    )


# ------------------------------------------------------------------ unit grids
def _grids() -> QuerySet:
    from grids.models import UnitGrid

    return UnitGrid.objects.all()


def _grid_filters(qs: QuerySet, params: Mapping[str, Any]) -> QuerySet:
    from gis_core.api.params import parse_code
    from grids.models import GridKind

    if kind := params.get("kind"):
        if kind not in GridKind.values:
            raise InvalidInput(f"kind 应为 {'、'.join(GridKind.values)}", details={"kind": kind})
        qs = qs.filter(kind=kind)
    if region := params.get("region"):
        qs = qs.in_region(parse_code(region))
    return qs


register_layer(
    TileLayer(
        name="grids",
        title="单元网格",
        scope="grids:read",
        queryset=_grids,
        attributes={
            "code": "code", "name": "name", "kind": "kind", "community": "community_code",
            "households": "households", "population": "population",
        },
        fields={
            "code": "String", "name": "String", "kind": "String", "community": "String",
            "households": "Number", "population": "Number",
        },
        geometry="polygon",
        filters=_grid_filters,
        filter_params=("kind", "region"),
        min_size_px=1,
        max_age=300,
    )
)  # fmt: skip


# ------------------------------------------------------------------ events
def _events() -> QuerySet:
    from events.models import Event

    return Event.objects.all()


class _StatementNow(Func):
    """The time of the statement: the tile, its stamp and its next turn are one statement, so
    the colours and the moment they next change are computed at the same instant."""

    template = "statement_timestamp()"
    output_field = DateTimeField()


def _running() -> list[str]:
    from events import flow

    return sorted(flow.OPEN_STATES - {"suspended"})


def _timeliness() -> Case:
    """The running clock's colour (时限颜色) now: red past the step's limit, yellow past its
    warning, else green; none for a suspended or finished event — the same shades as the
    ``colour`` filter (``events.selectors.events.events_filter``)."""
    return Case(
        When(~Q(state__in=_running()), then=Value(None)),
        When(due_at__lte=_StatementNow(), then=Value("red")),
        When(warn_at__lte=_StatementNow(), then=Value("yellow")),
        default=Value("green"),
        output_field=CharField(),
    )


def _event_filters(qs: QuerySet, params: Mapping[str, Any]) -> QuerySet:
    # the same filters as every event query (list, heatmap, statistics): the events app's
    from events.api.filters import filter_events

    return filter_events(qs, params)


def _event_filter_params() -> tuple[str, ...]:
    from events.api.filters import EVENT_FILTER_PARAMETERS

    return tuple(p.name for p in EVENT_FILTER_PARAMETERS)


register_layer(
    TileLayer(
        name="events",
        title="事件与部件问题",
        scope="events:read",
        queryset=_events,
        attributes={
            "id": "pk", "category": "category__code", "major": "category__parent__code", "kind": "kind",
            "state": "state", "colour": _timeliness(), "source": "source", "grid": "grid_code",
            "escalation": "escalation_level", "reported_at": Epoch(F("reported_at")),
            "warn_at": Epoch(F("warn_at")), "due_at": Epoch(F("due_at")),
        },
        fields={
            "id": "Number", "category": "String（小类编码）", "major": "String（大类编码）",
            "kind": "String", "state": "String",
            "colour": "String（时限颜色 green/yellow/red，生成切片时；挂起和已结事件无）",
            "source": "String", "grid": "String", "escalation": "Number", "reported_at": "Number",
            "warn_at": "Number（预警时间，Unix 秒）", "due_at": "Number（本环节时限，Unix 秒）",
            "count": "Number（低缩放级别聚合时：格内事件数）",
        },
        geometry="point",
        filters=_event_filters,
        filter_params=_event_filter_params(),
        range_filter=True,
        time_field="reported_at",
        volatile_params=("overdue", "colour"),
        clock_attribute="colour",
        turns=("warn_at", "due_at"),  # the colour turns yellow, then red: the tile expires then
        aggregate_below=16,
        depends_on=("events_eventcategory",),
        max_age=30,
    )
)  # fmt: skip


# ------------------------------------------------------------------ door plates
def _doors() -> QuerySet:
    from geocoding.models import DoorPlate

    return DoorPlate.objects.all()


register_layer(
    TileLayer(
        name="doors",
        title="门牌",
        scope="geocode:read",
        queryset=_doors,
        attributes={
            "id": "pk", "street": "street__name", "number": "number", "suffix": "suffix",
            "grid": "grid_code",
        },
        fields={
            "id": "Number", "street": "String", "number": "Number", "suffix": "String",
            "grid": "String", "count": "Number（低缩放级别聚合时：格内门牌数）",
        },
        geometry="point",
        range_filter=True,
        aggregate_below=15,
        depends_on=("geocoding_street",),
        max_age=300,
    )
)  # fmt: skip
