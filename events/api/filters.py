"""The event filters of every event query, read from request parameters once.

Used by the list, counts, heatmap, clusters, statistics and performance views, and
by anything else that serves events (vector tiles): ``category``, ``state``,
``kind``, ``source``, ``overdue``, ``colour``, ``department`` — on top of the shared
range filter (``gis_core.api.ranges``: region, grid, bbox, circle, polygon, line
buffer, time window on the reported time).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter

from gis_core.api.ranges import parse_bool
from gis_core.errors import InvalidInput

from ..models import Event, EventKind, EventSource, EventState
from ..selectors.events import COLOURS, events_filter

__all__ = ["EVENT_FILTER_PARAMETERS", "TIME_FIELD", "filter_events"]

TIME_FIELD = "reported_at"  # the time window of event queries is on the reported time

EVENT_FILTER_PARAMETERS = [
    OpenApiParameter("category", str, description="大类或小类编码，可逗号分隔多个"),
    OpenApiParameter("state", str, description=f"状态，可逗号分隔多个：{'、'.join(EventState.values)}"),
    OpenApiParameter("kind", str, enum=EventKind.values),
    OpenApiParameter("source", str, description=f"来源，可逗号分隔多个：{'、'.join(EventSource.values)}"),
    OpenApiParameter("overdue", bool, description="true：已超时的未结事件；false：未超时的未结事件"),
    OpenApiParameter("colour", str, description=f"时限颜色，可逗号分隔多个：{'、'.join(COLOURS)}"),
    OpenApiParameter("department", int, description="当前处置部门编号"),
]


def filter_events(qs: QuerySet[Event], params: Mapping) -> QuerySet[Event]:
    """``qs`` narrowed by the event filter parameters (bad values: 400)."""
    overdue = params.get("overdue")
    department = params.get("department")
    if department not in (None, ""):
        text = str(department).strip()
        if not text.isdigit():
            raise InvalidInput(
                f"department 应为部门编号（整数），实际为“{department}”", details={"department": department}
            )
        department = int(text)
    else:
        department = None
    return events_filter(
        qs,
        category=_text(params.get("category")),
        states=_text(params.get("state")),
        kind=_text(params.get("kind")),
        sources=_text(params.get("source")),
        overdue=None if overdue in (None, "") else parse_bool(overdue, "overdue"),
        colours=_text(params.get("colour")),
        department=department,
    )


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
