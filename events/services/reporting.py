"""Reporting an event (上报): placed by a point or by an address, stored with its unit grid
and region chain, idempotent by the client's id, and answered with possible duplicates.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiKey
from accounts.permissions import Principal
from accounts.scoping import scope_queryset
from geocoding.selectors.geocode import geocode_batch
from geocoding.selectors.reverse import reverse_batch
from gis_core.errors import Conflict, InvalidInput, NotFound
from gis_core.selectors.locate import Location, locate_point
from grids.selectors.components import component_get

from ..models import Event, EventCategory, EventSource, EventTransition
from ..selectors.calendar import work_calendar
from ..selectors.events import duplicate_candidates
from .attachments import StoredFiles, attachments_check, attachments_save
from .clock import clock_start

__all__ = ["ReportInput", "ReportResult", "event_report"]

CLOCK_SKEW = dt.timedelta(minutes=5)  # a phone's clock may run this far ahead


@dataclass(frozen=True)
class ReportInput:
    category: str  # code of a minor class
    description: str
    point: tuple[float, float] | None = None  # WGS84 lon, lat (converted at the API boundary)
    address: str = ""  # placed by the geocoder when there is no point
    city: str | None = None  # context for the geocoder (泸州市, 510502 …)
    source: str = EventSource.WEB
    client_id: uuid.UUID | None = None
    component_code: str = ""
    reported_at: dt.datetime | None = None  # when the phone made the report (offline re-send)


@dataclass(frozen=True)
class ReportResult:
    event: Event
    created: bool  # False: a re-send of a report already on record
    duplicates: list[Event]


def _category(code: str) -> EventCategory:
    category = (
        EventCategory.objects.filter(code=str(code or "").strip(), active=True, parent__isnull=False)
        .select_related("parent")
        .first()
    )
    if category is None:
        raise InvalidInput(
            f"事件小类“{code}”不存在或未启用（请用 /api/v1/event-categories 中的小类编码）",
            code="unknown_category",
            details={"category": code},
        )
    return category


def _reported_at(value: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if value is None:
        return now
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + CLOCK_SKEW:
        raise InvalidInput("上报时间不能晚于当前时间", details={"reported_at": value.isoformat()})
    max_age = settings.CIVGRID["EVENT_REPORT_MAX_AGE_DAYS"]
    if value < now - dt.timedelta(days=max_age):
        raise InvalidInput(f"上报时间早于 {max_age} 天前", details={"reported_at": value.isoformat()})
    return value


def _place_address(data: ReportInput, principal: Principal) -> tuple[float, float]:
    """An address → WGS84 point, through the geocoder (in the caller's jurisdiction)."""
    result = geocode_batch([data.address], city=data.city, jurisdiction=principal.jurisdiction)[0]
    status = result["status"]
    if status == "outside":
        raise InvalidInput(
            "该地址不在您的管辖范围内", code="outside_jurisdiction", details={"address": data.address}
        )
    if status != "ok" or result["location"] is None:
        reason = result.get("message") or {
            "ambiguous": "地址有多个可能的位置",
            "not_found": "找不到该地址",
        }.get(status, "无法识别该地址")
        raise InvalidInput(
            f"无法按地址定位：{reason}；请补充地址或在地图上选点", code="address_not_found",
            details={"address": data.address, "status": status},
        )  # fmt: skip
    if result["grid"] is None:
        raise InvalidInput(
            "地址只能定位到行政区划，无法确定单元网格；请补充街路巷、门牌号或在地图上选点",
            code="address_too_coarse", details={"address": data.address},
        )  # fmt: skip
    return result["location"]["lon"], result["location"]["lat"]


def _locate(lon: float, lat: float, principal: Principal) -> Location:
    location = locate_point(lon, lat)
    if not location.inside:
        raise InvalidInput(
            "该位置不在任何单元网格内（超出服务范围）",
            code="outside_service_area",
            details={"lon": lon, "lat": lat},
        )
    if not principal.jurisdiction.covers_code(location.grid["code"]):
        raise InvalidInput(
            "该位置不在您的管辖范围内", code="outside_jurisdiction", details={"lon": lon, "lat": lat}
        )
    return location


def _component(code: str, principal: Principal) -> None:
    """A report about a city component must name one the caller may see."""
    try:
        component_get(code=code, jurisdiction=principal.jurisdiction)
    except NotFound:
        raise InvalidInput(
            f"部件编码 {code} 不存在或不在您的管辖范围内",
            code="unknown_component",
            details={"component_code": code},
        ) from None


def _nearest_address(lon: float, lat: float, principal: Principal) -> str:
    """A point's address, as the reverse geocoder reads it (region chain, road, nearest door
    plate or place within ``EVENT_REVERSE_RADIUS_M``), so an operator reads where it is."""
    radius = settings.CIVGRID["EVENT_REVERSE_RADIUS_M"]
    found = reverse_batch(
        np.array([lon]), np.array([lat]), radius_m=radius, jurisdiction=principal.jurisdiction
    )
    return found[0].get("address", "")[:300] if found and found[0]["status"] == "ok" else ""


def _region(location: Location, level: int) -> str:
    return next((r["code"] for r in location.regions if r["level"] == level), "")


def _resend(client_id: uuid.UUID, principal: Principal) -> ReportResult | None:
    first = Event.objects.filter(client_id=client_id).first()
    if first is None:
        return None
    if not scope_queryset(Event.objects.filter(pk=first.pk), principal.jurisdiction).exists():
        raise Conflict(
            "client_id 已被另一条上报使用", code="client_id_taken", details={"client_id": str(client_id)}
        )
    first = Event.objects.select_related("category", "category__parent", "department").get(pk=first.pk)
    return ReportResult(first, False, list(duplicate_candidates(first, jurisdiction=principal.jurisdiction)))


def event_report(
    *, principal: Principal, data: ReportInput, uploads: list = (), now: dt.datetime | None = None
) -> ReportResult:
    """Record a report. Re-sending the same ``client_id`` returns the first event unchanged
    (``created`` False), even when two sends race. Nothing is written unless everything —
    place, jurisdiction, category, attachments — is valid."""
    now = now or timezone.now()
    if data.client_id is not None and (found := _resend(data.client_id, principal)):
        return found
    category = _category(data.category)
    description = (data.description or "").strip()
    if not description:
        raise InvalidInput("缺少事件描述 description", details={"description": "required"})
    if len(description) > 2000:
        raise InvalidInput("事件描述过长（上限 2000 字）", details={"description": len(description)})
    if data.source not in EventSource.values:
        raise InvalidInput(
            f"来源 source 应为 {' / '.join(EventSource.values)}", details={"source": data.source}
        )
    if len(data.component_code or "") > 40 or len(data.address or "") > 300:
        raise InvalidInput("部件编码（40 字）或地址（300 字）过长")
    if data.component_code:
        _component(data.component_code, principal)
    reported_at = _reported_at(data.reported_at, now)
    address = (data.address or "").strip()
    if data.point is not None:
        lon, lat = data.point
    elif address:
        lon, lat = _place_address(data, principal)
    else:
        raise InvalidInput("请给出位置：坐标 lon/lat，或地址 address", details={"location": "required"})
    location = _locate(lon, lat, principal)
    if not address:
        address = _nearest_address(lon, lat, principal)
    files = attachments_check(list(uploads))
    try:
        with StoredFiles() as stored, transaction.atomic():
            event = Event(
                client_id=data.client_id, kind=category.kind, category=category, description=description,
                geom=Point(lon, lat, srid=4326), grid_code=location.grid["code"],
                region_code=_region(location, 5) or location.grid["code"][:12],
                street_code=_region(location, 4), district_code=_region(location, 3), address=address,
                source=data.source, reporter_id=principal.user_id, component_code=data.component_code or "",
                state="reported", reported_at=reported_at,
            )  # fmt: skip
            if principal.key_prefix:
                event.api_key = ApiKey.objects.filter(prefix=principal.key_prefix).first()
            clock_start(event, at=reported_at, calendar=work_calendar())
            # uniqueness of client_id is the database's to enforce (a race ends in IntegrityError)
            event.full_clean(
                exclude=["category", "department", "duplicate_of", "reporter", "api_key"],
                validate_unique=False,
                validate_constraints=False,
            )
            event.save()
            transition = EventTransition.objects.create(
                event=event, from_state="", to_state="reported", action="report", actor=principal.label,
                note=description[:200], at=reported_at,
            )  # fmt: skip
            attachments_save(event=event, transition=transition, files=files, stored=stored)
    except IntegrityError:
        # the same client_id sent twice at once: the other send committed first
        if data.client_id is not None and (found := _resend(data.client_id, principal)):
            return found
        raise
    return ReportResult(event, True, list(duplicate_candidates(event, jurisdiction=principal.jurisdiction)))
