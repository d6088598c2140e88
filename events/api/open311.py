"""A read-only Open311 GeoReport v2 view of events, for existing 12345-style clients.

    GET /api/v1/open311/v2/discovery.{json|xml}
    GET /api/v1/open311/v2/services.{json|xml}              the minor classes (小类)
    GET /api/v1/open311/v2/services/{service_code}.{json|xml}
    GET /api/v1/open311/v2/requests.{json|xml}              events
    GET /api/v1/open311/v2/requests/{service_request_id}.{json|xml}

Follows http://wiki.open311.org/GeoReport_v2: ``requests`` takes
``service_request_id`` (comma-separated: then every other parameter is ignored),
``service_code`` (comma-separated), ``start_date`` / ``end_date`` (on the
requested time; without either, the last 90 days), ``status`` (open / closed,
comma-separated), and answers at most 1,000 requests, newest first (``page_size``
up to 1,000 and ``page`` are extensions). Coordinates are WGS84.

The lifecycle maps to the two Open311 states: every open state (上报 … 核查, 挂起)
is ``open``; 结案, 作废 and 合并 are ``closed``. With ``extensions=true`` each
request carries ``extended_attributes``: the lifecycle state and its name, the
green/yellow/red colour, the unit grid and region codes, the major class and the
duplicate it was merged into.

Access is as for the rest of the API (jurisdiction-scoped; scope ``events:read``);
the API key may also be sent as the ``api_key`` parameter, as Open311 clients do.
Errors answer in the Open311 form, ``[{"code": <status>, "description": "…"}]``
(XML: ``<errors><error>…``), with the 4xx status.
"""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

from django.db.models import Prefetch, Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from accounts.authentication import ApiKeyParamAuthentication
from gis_core.api.errors import exception_handler
from gis_core.api.ranges import parse_bool, parse_moment
from gis_core.errors import InvalidInput, NotFound

from .. import flow
from ..models import Attachment, Event, EventCategory, EventTransition
from ..selectors.calendar import work_calendar
from ..selectors.events import categories_tree, events_visible
from ..services.clock import event_colour

__all__ = [
    "DiscoveryView",
    "RequestDetailView",
    "RequestListView",
    "ServiceDefinitionView",
    "ServiceListView",
]

MAX_REQUESTS = 1000
DEFAULT_WINDOW = dt.timedelta(days=90)
CLOSED_NOTES = {"closed": "已结案", "invalid": "已作废", "merged": "已合并"}


def _status(state: str) -> str:
    return "closed" if state in flow.TERMINAL_STATES else "open"


def _iso(moment: dt.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def _xml(root: str, item: str, rows: list[dict]) -> bytes:
    top = ET.Element(root)
    for row in rows:
        node = ET.SubElement(top, item)
        _xml_fill(node, row)
    return ET.tostring(top, encoding="utf-8", xml_declaration=True)


def _xml_fill(node: ET.Element, row: dict) -> None:
    for key, value in row.items():
        child = ET.SubElement(node, key)
        if isinstance(value, dict):
            _xml_fill(child, value)
        elif isinstance(value, list):
            for entry in value:
                _xml_fill(ET.SubElement(child, key.rstrip("s") or "item"), entry)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)


def _answer(fmt: str, root: str, item: str, rows: list[dict], status: int = 200) -> HttpResponse:
    if fmt == "xml":
        return HttpResponse(_xml(root, item, rows), content_type="text/xml; charset=utf-8", status=status)
    return JsonResponse(rows, safe=False, status=status, json_dumps_params={"ensure_ascii": False})


def open311_exception_handler(exc, context):
    """Our error, in the Open311 form (the status stays the same)."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    error = response.data["error"]
    rows = [{"code": response.status_code, "description": error["message"]}]
    fmt = context["kwargs"].get("fmt", "json") if context.get("kwargs") else "json"
    answer = _answer(fmt, "errors", "error", rows, status=response.status_code)
    for header in ("WWW-Authenticate", "Retry-After"):
        if header in response:
            answer[header] = response[header]
    return answer


# The Open311 routes' authentication also declares the bearer scheme "ApiKey" (accounts/schema.py,
# ApiKeyParamScheme), with the very definition ApiKeyAuthentication gives it: one security scheme
# reached from two authentication classes, not a name collision.
set_override(ApiKeyParamAuthentication, "suppress_collision_warning", True)


class _Open311View(APIView):
    required_scopes = {"GET": "events:read"}
    authentication_classes = [ApiKeyParamAuthentication, SessionAuthentication]

    def get_exception_handler(self):
        return open311_exception_handler


# ------------------------------------------------------------------ services


def _service(minor: EventCategory, major: EventCategory) -> dict:
    limits = "、".join(
        f"{flow.STEPS[s]} {v}" for s, v in (minor.time_limits or {}).items() if s in flow.STEPS
    )
    return {
        "service_code": minor.code,
        "service_name": minor.name,
        "description": f"{major.name} / {minor.name}" + (f"（时限：{limits}）" if limits else ""),
        "metadata": False,
        "type": "realtime",
        "keywords": minor.kind,
        "group": major.name,
    }


class DiscoveryView(_Open311View):
    """Open311 服务发现。"""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, fmt: str):
        base = request.build_absolute_uri("/api/v1/open311/v2/")
        body = {
            "changeset": _iso(timezone.now()),
            "contact": "civgrid 网格化管理平台",
            "key_service": "API 密钥：在 Authorization: Bearer 头或 api_key 参数中提供",
            "endpoints": [
                {"specification": "http://wiki.open311.org/GeoReport_v2", "url": base, "type": "production",
                 "formats": ["application/json", "text/xml"]},
            ],
        }  # fmt: skip
        if fmt == "xml":
            root = ET.Element("discovery")
            _xml_fill(root, {k: v for k, v in body.items() if k != "endpoints"})
            endpoints = ET.SubElement(root, "endpoints")
            for endpoint in body["endpoints"]:
                node = ET.SubElement(endpoints, "endpoint")
                formats = endpoint.pop("formats")
                _xml_fill(node, endpoint)
                holder = ET.SubElement(node, "formats")
                for f in formats:
                    ET.SubElement(holder, "format").text = f
            return HttpResponse(
                ET.tostring(root, encoding="utf-8", xml_declaration=True), content_type="text/xml"
            )
        return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


class ServiceListView(_Open311View):
    """Open311 服务列表：事件、部件小类。"""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, fmt: str):
        rows = [_service(minor, major) for major in categories_tree() for minor in major.children.all()]
        return _answer(fmt, "services", "service", rows)


class ServiceDefinitionView(_Open311View):
    """Open311 服务定义（本平台的小类没有附加属性）。"""

    @extend_schema(
        parameters=[
            OpenApiParameter("code", str, OpenApiParameter.PATH, description="服务代码（事件小类编码）")
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, code: str, fmt: str):
        minor = EventCategory.objects.filter(code=code, parent__isnull=False, active=True).first()
        if minor is None:
            raise NotFound(f"服务 {code} 不存在")
        body = {"service_code": minor.code, "attributes": []}
        if fmt == "xml":
            root = ET.Element("service_definition")
            ET.SubElement(root, "service_code").text = minor.code
            ET.SubElement(root, "attributes")
            return HttpResponse(
                ET.tostring(root, encoding="utf-8", xml_declaration=True), content_type="text/xml"
            )
        return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


# ------------------------------------------------------------------ requests


def _requests_queryset(request):
    last_notes = EventTransition.objects.order_by("-at", "-id")
    images = Attachment.objects.filter(kind="image").order_by("id")
    return events_visible(request.jurisdiction).prefetch_related(
        Prefetch("transitions", queryset=last_notes, to_attr="o311_transitions"),
        Prefetch("attachments", queryset=images, to_attr="o311_images"),
    )


def _request_row(event: Event, request, *, now, calendar, extensions: bool) -> dict:
    last = event.o311_transitions[0] if event.o311_transitions else None
    if event.state in CLOSED_NOTES:
        note = CLOSED_NOTES[event.state] + (f"：{last.note}" if last and last.note else "")
    else:
        note = f"{flow.STATES[event.state]}" + (f"：{last.note}" if last and last.note else "")
    image = event.o311_images[0] if event.o311_images else None
    row = {
        "service_request_id": str(event.pk),
        "status": _status(event.state),
        "status_notes": note,
        "service_name": event.category.name,
        "service_code": event.category.code,
        "description": event.description,
        "agency_responsible": event.department.name if event.department_id else None,
        "service_notice": None,
        "requested_datetime": _iso(event.reported_at),
        "updated_datetime": _iso(event.updated_at),
        "expected_datetime": _iso(event.due_at) if event.is_open else None,
        "address": event.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": round(event.geom.y, 7),
        "long": round(event.geom.x, 7),
        "media_url": request.build_absolute_uri(f"/api/v1/events/{event.pk}/attachments/{image.pk}")
        if image
        else None,
    }
    if extensions:
        row["extended_attributes"] = {
            "state": event.state,
            "state_name": flow.STATES[event.state],
            "colour": event_colour(event, now=now, calendar=calendar),
            "kind": event.kind,
            "major_code": event.category.parent.code if event.category.parent_id else None,
            "major_name": event.category.parent.name if event.category.parent_id else None,
            "source": event.source,
            "grid_code": event.grid_code,
            "community_code": event.region_code,
            "street_code": event.street_code,
            "district_code": event.district_code,
            "escalation_level": event.escalation_level,
            "closed_datetime": _iso(event.closed_at),
            "duplicate_of": str(event.duplicate_of_id) if event.duplicate_of_id else None,
        }
    return row


def _rows(events, request, extensions: bool) -> list[dict]:
    now, calendar = timezone.now(), work_calendar()
    return [_request_row(e, request, now=now, calendar=calendar, extensions=extensions) for e in events]


def _codes(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _positive(value: str | None, name: str, default: int, top: int) -> int:
    if value in (None, ""):
        return default
    if not str(value).isdigit() or not 1 <= int(value) <= top:
        raise InvalidInput(f"{name} 应为 1–{top} 的整数，实际为“{value}”", details={name: value})
    return int(value)


class RequestListView(_Open311View):
    """Open311 服务请求（事件）列表，只读。"""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "service_request_id", str, description="事件编号，可逗号分隔多个（给出时忽略其余条件）"
            ),
            OpenApiParameter("service_code", str, description="小类编码，可逗号分隔多个"),
            OpenApiParameter("start_date", str, description="上报时间起（ISO 8601）"),
            OpenApiParameter("end_date", str, description="上报时间止（ISO 8601）；均不给时为最近 90 天"),
            OpenApiParameter("status", str, description="open / closed，可逗号分隔"),
            OpenApiParameter("extensions", bool, description="附带流程状态、网格、区划等扩展属性"),
            OpenApiParameter("page_size", int, description="每页条数，最多 1000（扩展）"),
            OpenApiParameter("page", int, description="页码，从 1 开始（扩展）"),
            OpenApiParameter("api_key", str, description="API 密钥（也可用 Authorization 头）"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, fmt: str):
        params = request.query_params
        extensions = parse_bool(params.get("extensions"), "extensions")
        qs = _requests_queryset(request)
        if ids := _codes(params.get("service_request_id")):
            if not all(i.isdigit() for i in ids):
                raise InvalidInput(
                    "service_request_id 应为事件编号（整数），可逗号分隔", details={"ids": ids}
                )
            events = list(
                qs.filter(pk__in=[int(i) for i in ids]).order_by("-reported_at", "-id")[:MAX_REQUESTS]
            )
            return _answer(fmt, "service_requests", "request", _rows(events, request, extensions))
        if codes := _codes(params.get("service_code")):
            qs = qs.filter(category__code__in=codes)
        statuses = _codes(params.get("status"))
        if any(s not in ("open", "closed") for s in statuses):
            raise InvalidInput(f"status 应为 open 或 closed，实际为“{params.get('status')}”")
        if statuses == ["open"]:
            qs = qs.filter(state__in=flow.OPEN_STATES)
        elif statuses == ["closed"]:
            qs = qs.filter(state__in=flow.TERMINAL_STATES)
        start = parse_moment(params.get("start_date"), "start_date")
        end = parse_moment(params.get("end_date"), "end_date", end=True)
        if start is None and end is None:
            start = timezone.now() - DEFAULT_WINDOW
        if start and end and end <= start:
            raise InvalidInput("end_date 应晚于 start_date", details={"start_date": params.get("start_date")})
        window = Q()
        if start:
            window &= Q(reported_at__gte=start)
        if end:
            window &= Q(reported_at__lt=end)
        size = _positive(params.get("page_size"), "page_size", MAX_REQUESTS, MAX_REQUESTS)
        page = _positive(params.get("page"), "page", 1, 1_000_000)
        ordered = qs.filter(window).order_by("-reported_at", "-id")
        events = list(ordered[(page - 1) * size : page * size])
        return _answer(fmt, "service_requests", "request", _rows(events, request, extensions))


class RequestDetailView(_Open311View):
    """Open311 单个服务请求（事件）。"""

    @extend_schema(
        parameters=[OpenApiParameter("extensions", bool), OpenApiParameter("api_key", str)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, pk: int, fmt: str):
        extensions = parse_bool(request.query_params.get("extensions"), "extensions")
        event = _requests_queryset(request).filter(pk=pk).first()
        if event is None:
            raise NotFound(f"服务请求 {pk} 不存在")
        return _answer(fmt, "service_requests", "request", _rows([event], request, extensions))
