"""Events endpoints (thin: parse, call a service or selector, serialize).

Every read goes through the caller's jurisdiction; an event outside it is 404,
the same answer as for an id that does not exist.
"""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.db.models import F, QuerySet
from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import principal_of
from gis_core.api.aggregates import (
    CLUSTER_PARAMETERS,
    HEATMAP_PARAMETERS,
    STATS_PARAMETERS,
    clusters_response,
    heatmap_response,
    parse_top,
    stats_response,
)
from gis_core.api.exports import EXPORT_PARAMETER, ListExport, export_format, export_response
from gis_core.api.params import parse_crs, parse_float, parse_lonlat
from gis_core.api.ranges import (
    COUNT_PARAMETER,
    RANGE_PARAMETERS,
    range_filter_from_params,
    range_response,
    request_params,
)
from gis_core.api.spatial import SpatialViewMixin
from gis_core.api.views import SPATIAL_PARAMS
from gis_core.errors import InvalidInput, NotFound

from .. import flow
from ..models import Attachment, Event, EventCategory, EventKind, EventSource, EventState
from ..selectors.calendar import work_calendar
from ..selectors.events import (
    categories_tree,
    departments_visible,
    duplicate_candidates,
    event_get,
    events_visible,
    notifications_visible,
)
from ..selectors.performance import GROUPS, SORT_KEYS, performance
from ..services.lifecycle import event_merge, event_transition
from ..services.notifications import notifications_mark_read
from ..services.reporting import ReportInput, event_report
from .filters import EVENT_FILTER_PARAMETERS, TIME_FIELD, filter_events
from .serializers import (
    CategorySerializer,
    DepartmentSerializer,
    DuplicateSerializer,
    EventDetailSerializer,
    EventSerializer,
    MergeRequest,
    NotificationSerializer,
    ReportRequest,
    TransitionRequest,
)

__all__ = [
    "AttachmentView",
    "CategoryListView",
    "DepartmentListView",
    "EventClustersView",
    "EventDetailView",
    "EventDuplicatesView",
    "EventHeatmapView",
    "EventListView",
    "EventMergeView",
    "EventPerformanceView",
    "EventSearchView",
    "EventStatsView",
    "EventTransitionView",
    "NotificationListView",
]

EVENT_EXPORT = ListExport(
    columns=[
        ("id", "编号"), ("kind", "类型"), ("category__parent__name", "大类"), ("category__code", "小类编码"),
        ("category__name", "小类"), ("description", "描述"), ("state", "状态"), ("source", "来源"),
        ("address", "地址"), ("district_code", "区县代码"), ("street_code", "街道代码"),
        ("region_code", "社区代码"), ("grid_code", "单元网格"), ("department__name", "处置部门"),
        ("reported_at", "上报时间"), ("due_at", "本环节时限"), ("escalation_level", "督办级别"),
        ("closed_at", "结束时间"),
    ],
    labels={
        "kind": dict(EventKind.choices), "state": dict(EventState.choices),
        "source": dict(EventSource.choices),
    },
    title="事件",
    filename="events",
)  # fmt: skip


def _files(request) -> list:
    """Every uploaded file of a multipart request, whatever its field name (photos, audio …)."""
    return [f for key in request.FILES for f in request.FILES.getlist(key)]


def _valid(serializer_class, request) -> dict:
    data = request.data
    if hasattr(data, "dict") and hasattr(data, "getlist"):  # multipart / form: files are read apart
        data = {k: v for k, v in data.items() if k not in request.FILES}
    elif not isinstance(data, dict):
        raise InvalidInput("请求体应为 JSON 对象")
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EventContextMixin(SpatialViewMixin):
    """The serializer context every event view needs: crs, now, calendar, caller."""

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context.update(now=timezone.now(), calendar=work_calendar(), principal=principal_of(self.request))
        return context

    def detail(self, event_id: int, *, status_code: int = status.HTTP_200_OK, extra: dict | None = None):
        qs = events_visible(self.request.jurisdiction).filter(pk=event_id).annotate(display_geom=F("geom"))
        event = qs.prefetch_related("transitions__department", "attachments").first()
        if event is None:
            raise NotFound(f"事件 {event_id} 不存在")
        body = EventDetailSerializer(event, context=self.get_serializer_context()).data
        if extra:
            body = {**body, **extra}
        return Response(body, status=status_code)


def _event_layer(request, params) -> QuerySet[Event]:
    """The caller's events under the event filters (the range filter is applied by the helpers)."""
    return filter_events(events_visible(request.jurisdiction), params)


class EventListView(EventContextMixin, generics.GenericAPIView):
    """事件列表与事件上报。

    GET：范围查询（区划/网格/矩形/圆/多边形/沿线缓冲/时间）加事件筛选（分类、状态、来源、
    超时、颜色、部门），GeoJSON 分页、计数（count=true）或导出（export=csv|xlsx），新上报的在前。
    """

    required_scopes = {"GET": "events:read", "POST": "events:write"}
    serializer_class = EventSerializer

    @extend_schema(
        operation_id="v1_events_list",
        parameters=[*RANGE_PARAMETERS, *EVENT_FILTER_PARAMETERS, COUNT_PARAMETER, EXPORT_PARAMETER],
        responses=EventSerializer(many=True),
    )
    def get(self, request):
        return self.query(request)

    def query(self, request):
        params = request_params(request)
        qs = _event_layer(request, params).annotate(display_geom=F("geom")).order_by("-reported_at", "-id")
        context = self.get_serializer_context()
        return range_response(
            request, qs, EventSerializer, time_field=TIME_FIELD, export=EVENT_EXPORT,
            context={k: context[k] for k in ("now", "calendar", "principal")},
        )  # fmt: skip

    @extend_schema(
        request={"application/json": ReportRequest, "multipart/form-data": ReportRequest},
        responses={201: EventDetailSerializer, 200: EventDetailSerializer},
    )
    def post(self, request):
        data = _valid(ReportRequest, request)
        point = None
        if data.get("lon") is not None or data.get("lat") is not None:
            point = parse_lonlat(data.get("lon"), data.get("lat"), parse_crs(data.get("crs")))
        result = event_report(
            principal=principal_of(request),
            data=ReportInput(
                category=data["category"],
                description=data["description"],
                point=point,
                address=data.get("address", ""),
                city=data.get("city") or None,
                source=data["source"],
                client_id=data.get("client_id"),
                component_code=data.get("component_code", ""),
                reported_at=data.get("reported_at"),
            ),
            uploads=_files(request),
        )
        duplicates = DuplicateSerializer(result.duplicates, many=True).data
        return self.detail(
            result.event.pk,
            status_code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            extra={"created": result.created, "duplicates": duplicates},
        )


class EventDetailView(EventContextMixin, generics.GenericAPIView):
    """一个事件：流转记录、附件、颜色（绿/黄/红）、当前可进行的操作。"""

    required_scopes = {"GET": "events:read"}

    @extend_schema(parameters=SPATIAL_PARAMS[:1], responses=EventDetailSerializer)
    def get(self, request, pk: int):
        return self.detail(pk)


class EventTransitionView(EventContextMixin, generics.GenericAPIView):
    """事件流转：核实、立案、派遣、处置、核查、结案、退回、改派、挂起、恢复、作废。

    Each action has its own scope (``flow``): the service checks it, so the route asks
    only for ``events:read`` and a missing action scope is 403 from the service."""

    required_scopes = {"POST": "events:read"}

    @extend_schema(
        request={"application/json": TransitionRequest, "multipart/form-data": TransitionRequest},
        responses=EventDetailSerializer,
    )
    def post(self, request, pk: int):
        data = _valid(TransitionRequest, request)
        event = event_transition(
            principal=principal_of(request), event_id=pk, action=data["action"], note=data["note"],
            department_id=data.get("department"), expected_state=data.get("state"), uploads=_files(request),
        )  # fmt: skip
        return self.detail(event.pk)


class EventMergeView(EventContextMixin, generics.GenericAPIView):
    """把本事件作为重复件合并到原事件（本事件以“已合并”结束）。"""

    required_scopes = {"POST": "events:manage"}

    @extend_schema(request=MergeRequest, responses=EventDetailSerializer)
    def post(self, request, pk: int):
        data = _valid(MergeRequest, request)
        event = event_merge(
            principal=principal_of(request), event_id=pk, original_id=data["original"], note=data["note"]
        )
        return self.detail(event.pk)


class EventSearchView(EventListView):
    """同 GET /api/v1/events 的查询，参数放在 JSON 请求体中（绘制的多边形、长线过长时）。"""

    required_scopes = {"POST": "events:read"}
    http_method_names = ["post", "options"]

    @extend_schema(request=OpenApiTypes.OBJECT, responses=EventSerializer(many=True))
    def post(self, request):
        return self.query(request)


class _EventAggregate(APIView):
    """GET with query parameters, or POST with them in a JSON body."""

    required_scopes = {"GET": "events:read", "POST": "events:read"}

    def layer(self, request) -> QuerySet[Event]:
        return _event_layer(request, request_params(request))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        """同 GET，参数放在 JSON 请求体中。"""
        return self.get(request)


class EventHeatmapView(_EventAggregate):
    """事件热力图：数据库内分箱聚合（方格或六边形，按缩放级别或地面边长），只返回分箱，
    分箱计数之和等于筛选后的事件数；weight=escalation 按督办级别加权。"""

    @extend_schema(parameters=[*HEATMAP_PARAMETERS, *EVENT_FILTER_PARAMETERS], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return heatmap_response(
            request,
            self.layer(request),
            time_field=TIME_FIELD,
            weight_fields={"escalation": "escalation_level"},
        )


class EventClustersView(_EventAggregate):
    """事件点聚合：低缩放级别下在服务器端聚合（质心、数量、范围；单个事件带 id）。"""

    @extend_schema(parameters=[*CLUSTER_PARAMETERS, *EVENT_FILTER_PARAMETERS], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return clusters_response(request, self.layer(request), time_field=TIME_FIELD)


class EventStatsView(_EventAggregate):
    """事件统计：按区划（任意级别）、网格、小类、大类、来源、状态、类型、部门计数，
    按日/周/月趋势；top=N 排名；export=csv|xlsx 导出。"""

    @extend_schema(parameters=[*STATS_PARAMETERS, *EVENT_FILTER_PARAMETERS], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        categories = dict(EventCategory.objects.values_list("code", "name"))
        return stats_response(
            request,
            self.layer(request),
            time_field=TIME_FIELD,
            fields={
                "category": ("category__code", "小类"),
                "major": ("category__parent__code", "大类"),
                "source": ("source", "来源"),
                "state": ("state", "状态"),
                "kind": ("kind", "类型"),
                "department": ("department__name", "处置部门"),
            },
            labels={
                "category": categories,
                "major": categories,
                "source": dict(EventSource.choices),
                "state": dict(EventState.choices),
                "kind": dict(EventKind.choices),
            },
            title="事件",
        )


PERFORMANCE_COLUMNS = {
    "department": [
        ("key", "部门编号"), ("name", "处置部门"), ("region_code", "所属区划"), ("completed", "处置数"),
        ("on_time", "按期处置数"), ("on_time_rate", "按期率"), ("mean_hours", "平均处置时长（小时）"),
        ("median_hours", "处置时长中位数（小时）"), ("returned", "退回数"), ("open", "待处置"),
        ("overdue", "超时待处置"),
    ],
    "area": [
        ("key", "代码"), ("name", "名称"), ("completed", "完成环节数"), ("on_time", "按期环节数"),
        ("on_time_rate", "按期率"), ("closed", "结案数"), ("mean_hours", "平均结案时长（小时）"),
        ("median_hours", "结案时长中位数（小时）"), ("open", "未结事件"), ("overdue", "超时未结"),
    ],
}  # fmt: skip


class EventPerformanceView(_EventAggregate):
    """处置时长与按期率：按处置部门、区县、街道、社区或网格；from/to 为环节完成时间窗口；
    sort 排序（默认按期率降序），top=N 排名，export=csv|xlsx 导出。"""

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            *EVENT_FILTER_PARAMETERS,
            OpenApiParameter("by", str, enum=list(GROUPS), required=True),
            OpenApiParameter(
                "sort", str, description=f"{'、'.join(SORT_KEYS)}；前加 - 为降序，默认 -on_time_rate"
            ),
            OpenApiParameter("top", int, description="只取前 N 项（1–1000）"),
            EXPORT_PARAMETER,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request_params(request)
        rf = range_filter_from_params(params)
        # the window is on when the steps ended, not on when the events were reported
        events = dataclasses.replace(rf, since=None, until=None).apply(self.layer(request))
        by = str(params.get("by") or "")
        rows = performance(
            events, by=by, since=rf.since, until=rf.until, sort=str(params.get("sort") or "-on_time_rate"),
            top=parse_top(params),
        )  # fmt: skip
        columns = PERFORMANCE_COLUMNS["department" if by == "department" else "area"]
        if fmt := export_format(params):
            return export_response(rows, columns, fmt, title=f"处置按期率-{by}", filename=f"performance-{by}")
        return Response({"by": by, "range": rf.describe(), "results": rows})


def _bounded(value, name: str, default: float, top: float) -> float:
    if value in (None, ""):
        return default
    number = parse_float(value, name)
    if not 0 < number <= top:
        raise InvalidInput(f"{name} 应在 (0, {top:g}] 之间，实际为 {number:g}", details={name: value})
    return number


class EventDuplicatesView(APIView):
    """可能的重复事件：同一小类、未结束、半径内（地面距离）、时间窗口内。"""

    required_scopes = {"GET": "events:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("radius", float, description="半径（米），默认 50，最大 1000"),
            OpenApiParameter("days", float, description="时间窗口（天，前后），默认 7，最大 90"),
        ],
        responses=inline_serializer(
            "EventDuplicates",
            {
                "count": serializers.IntegerField(),
                "radius_m": serializers.FloatField(),
                "window_days": serializers.FloatField(),
                "results": DuplicateSerializer(many=True),
                "merged": serializers.ListField(child=serializers.IntegerField()),
            },
        ),
    )
    def get(self, request, pk: int):
        cfg = settings.CIVGRID
        radius = _bounded(request.query_params.get("radius"), "radius", cfg["EVENT_DUPLICATE_RADIUS_M"], 1000)
        days = _bounded(request.query_params.get("days"), "days", cfg["EVENT_DUPLICATE_WINDOW_DAYS"], 90)
        event = event_get(event_id=pk, jurisdiction=request.jurisdiction)
        found = duplicate_candidates(
            event, jurisdiction=request.jurisdiction, radius_m=radius, window_days=days
        )
        merged = events_visible(request.jurisdiction).filter(duplicate_of=event).values_list("pk", flat=True)
        results = DuplicateSerializer(found[:100], many=True).data
        return Response(
            {"count": len(results), "radius_m": radius, "window_days": days, "results": results,
             "merged": sorted(merged)}
        )  # fmt: skip


class AttachmentView(APIView):
    """附件文件（或其缩略图 thumbnail=1）。"""

    required_scopes = {"GET": "events:read"}

    @extend_schema(parameters=[OpenApiParameter("thumbnail", bool)], responses={200: OpenApiTypes.BINARY})
    def get(self, request, pk: int, attachment_id: int):
        event = event_get(event_id=pk, jurisdiction=request.jurisdiction)
        attachment = Attachment.objects.filter(event=event, pk=attachment_id).first()
        if attachment is None:
            raise NotFound(f"附件 {attachment_id} 不存在")
        thumbnail = request.query_params.get("thumbnail") in ("1", "true")
        if thumbnail and not attachment.thumbnail:
            raise NotFound("该附件没有缩略图")
        field = attachment.thumbnail if thumbnail else attachment.file
        content_type = "image/jpeg" if thumbnail else attachment.content_type
        return FileResponse(field.open("rb"), content_type=content_type)


class CategoryListView(APIView):
    """事件、部件两级分类（大类含小类及各环节时限），以及环节、状态、来源的名称。"""

    required_scopes = {"GET": "events:read"}

    @extend_schema(
        parameters=[OpenApiParameter("kind", str, enum=EventKind.values)],
        responses=CategorySerializer(many=True),
    )
    def get(self, request):
        kind = request.query_params.get("kind")
        if kind and kind not in EventKind.values:
            raise InvalidInput("kind 应为 event 或 component", details={"kind": kind})
        majors = categories_tree(kind=kind)
        steps = [{"step": s, "name": n} for s, n in flow.STEPS.items()]
        # the vocabularies of the event filters, so a client names them as the server does
        states = [{"state": s, "name": n, "open": s in flow.OPEN_STATES} for s, n in flow.STATES.items()]
        sources = [{"source": s, "name": n} for s, n in EventSource.choices]
        return Response(
            {
                "steps": steps,
                "states": states,
                "sources": sources,
                "results": CategorySerializer(majors, many=True).data,
            }
        )


class DepartmentListView(APIView):
    """处置部门：管辖范围内的，以及上级区划（市级）的。"""

    required_scopes = {"GET": "events:read"}

    @extend_schema(responses=DepartmentSerializer(many=True))
    def get(self, request):
        qs = departments_visible(request.jurisdiction)
        return Response({"results": DepartmentSerializer(qs.order_by("region_code", "name"), many=True).data})


class NotificationListView(APIView):
    """超时与升级督办通知（所辖区域的）；POST {"read": [id, …] | "all"} 标记已读（各人各自的已读状态）。"""

    required_scopes = {"GET": "events:read", "POST": "events:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", bool, description="只列未读"),
            OpenApiParameter("limit", int, description="最多返回条数（默认 100，最大 1000）"),
        ],
        responses=NotificationSerializer(many=True),
    )
    def get(self, request):
        qs = notifications_visible(request.jurisdiction, principal_of(request).label)
        unread = qs.filter(read_at__isnull=True).count()
        if request.query_params.get("unread") in ("1", "true"):
            qs = qs.filter(read_at__isnull=True)
        try:
            limit = min(max(int(request.query_params.get("limit", 100)), 1), 1000)
        except ValueError:
            raise InvalidInput("limit 应为 1–1000 的整数") from None
        rows = NotificationSerializer(qs[:limit], many=True).data
        return Response({"count": len(rows), "unread": unread, "results": rows})

    @extend_schema(
        request=inline_serializer("NotificationsRead", {"read": serializers.JSONField()}),
        responses=inline_serializer("NotificationsMarked", {"marked": serializers.IntegerField()}),
    )
    def post(self, request):
        ids = request.data.get("read") if isinstance(request.data, dict) else None
        if ids != "all" and (not isinstance(ids, list) or not all(type(i) is int for i in ids)):
            raise InvalidInput('read 应为通知编号数组 [1, 2, …] 或 "all"')
        reader = principal_of(request).label
        marked = notifications_mark_read(
            jurisdiction=request.jurisdiction, reader=reader, ids=None if ids == "all" else ids
        )
        return Response({"marked": marked})
