"""Reads of events, always through the caller's jurisdiction."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.permissions import Principal
from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.api.params import parse_choices
from gis_core.codes import ancestor_codes
from gis_core.errors import InvalidInput, NotFound

from .. import flow
from ..models import (
    Department,
    Event,
    EventCategory,
    EventKind,
    EventSource,
    EventState,
    Notification,
    NotificationRead,
)

__all__ = [
    "COLOURS",
    "allowed_actions",
    "categories_tree",
    "category_ids",
    "department_allows",
    "departments_visible",
    "duplicate_candidates",
    "event_get",
    "events_filter",
    "events_visible",
    "handler_department_ids",
    "most_local_department",
    "notifications_visible",
]


def events_visible(jurisdiction: Jurisdiction) -> QuerySet[Event]:
    return scope_queryset(
        Event.objects.select_related("category", "category__parent", "department"), jurisdiction
    )


COLOURS = ("green", "yellow", "red")


def events_filter(
    qs: QuerySet[Event],
    *,
    category: str | None = None,
    states: str | None = None,
    kind: str | None = None,
    sources: str | None = None,
    overdue: bool | None = None,
    colours: str | None = None,
    department: int | None = None,
    now: dt.datetime | None = None,
) -> QuerySet[Event]:
    """The event filters of every event query (list, counts, heatmap, clusters, statistics,
    tiles), on top of the shared range filter. Bad values are 400.

    ``category``: a major or minor class code (comma-separated for several);
    ``states``/``sources``/``colours``: comma-separated; ``overdue``: open events past (true)
    or within (false) their step's time limit; ``colours``: green / yellow / red of the
    running clock (a suspended event's clock stands still: it has no colour here);
    ``department``: dispatched to that department (id).
    """
    now = now or timezone.now()
    if category:
        qs = qs.filter(category_id__in=category_ids(category))
    if wanted := parse_choices(states, "state", EventState.values, "状态"):
        qs = qs.filter(state__in=wanted)
    if kind:
        if kind not in EventKind.values:
            raise InvalidInput("kind 应为 event 或 component", details={"kind": kind})
        qs = qs.filter(kind=kind)
    if wanted := parse_choices(sources, "source", EventSource.values, "来源"):
        qs = qs.filter(source__in=wanted)
    if overdue is not None:
        late = Q(state__in=flow.OPEN_STATES, due_at__lte=now)
        qs = qs.filter(late) if overdue else qs.filter(state__in=flow.OPEN_STATES).exclude(late)
    if wanted := parse_choices(colours, "colour", COLOURS, "颜色"):
        running = Q(state__in=flow.OPEN_STATES - {"suspended"})
        shades = {
            "green": Q(warn_at__isnull=True) | Q(warn_at__gt=now),
            "yellow": Q(warn_at__lte=now) & (Q(due_at__isnull=True) | Q(due_at__gt=now)),
            "red": Q(due_at__lte=now),
        }
        match = Q()
        for colour in wanted:
            match |= shades[colour]
        qs = qs.filter(running & match)
    if department is not None:
        qs = qs.filter(department_id=department)
    return qs


def category_ids(category: str) -> list[int]:
    """The ids of the minor classes ``category`` names: comma-separated codes of minor classes
    or of major ones (all their minor classes). An unknown code is a 400.

    Resolved up front, so an event query filters on its own indexed column (and the
    pre-aggregated cells can answer it) instead of joining the classes."""
    codes = sorted({c.strip() for c in category.split(",") if c.strip()})
    rows = list(
        EventCategory.objects.filter(Q(code__in=codes) | Q(parent__code__in=codes)).values_list(
            "id", "code", "parent__code"
        )
    )
    unknown = set(codes) - {code for _, code, _ in rows} - {parent for _, _, parent in rows}
    if unknown:
        raise InvalidInput(
            f"未知的事件类别代码：{'、'.join(sorted(unknown))}（见 /api/v1/event-categories）",
            code="unknown_category",
            details={"unknown": sorted(unknown)},
        )
    return sorted({pk for pk, _, _ in rows})


def event_get(*, event_id: int, jurisdiction: Jurisdiction) -> Event:
    """The event, if the caller may see it; otherwise 404, the same as for an id that does not exist."""
    event = events_visible(jurisdiction).filter(pk=event_id).first()
    if event is None:
        raise NotFound(f"事件 {event_id} 不存在")
    return event


def duplicate_candidates(
    event: Event,
    *,
    jurisdiction: Jurisdiction,
    radius_m: float | None = None,
    window_days: float | None = None,
) -> QuerySet[Event]:
    """Open events of the same category within ``radius_m`` metres on the ground (default 50)
    reported within ``window_days`` days either side (default 7), nearest first."""
    cfg = settings.CIVGRID
    radius = cfg["EVENT_DUPLICATE_RADIUS_M"] if radius_m is None else radius_m
    window = dt.timedelta(days=cfg["EVENT_DUPLICATE_WINDOW_DAYS"] if window_days is None else window_days)
    qs = (
        events_visible(jurisdiction)
        .open()
        .filter(
            category_id=event.category_id,
            reported_at__gte=event.reported_at - window,
            reported_at__lte=event.reported_at + window,
        )
        .exclude(pk=event.pk)
    )
    return qs.near(event.geom, radius).order_by("distance", "reported_at", "id")


def most_local_department(candidates, region_code: str) -> int | None:
    """Of ``(department region code, id)`` pairs, the id of the most local department whose
    region contains ``region_code`` (a district's bureau before the city's); None if none does."""
    covering = set(ancestor_codes(region_code))
    found = sorted((code, pk) for code, pk in candidates if code in covering)
    return found[-1][1] if found else None


def handler_department_ids(user_id: int | None) -> set[int]:
    """The departments a user handles events for (empty: not a department member)."""
    if user_id is None:
        return set()
    return set(Department.objects.filter(handlers=user_id).values_list("pk", flat=True))


def department_allows(event: Event, principal: Principal, action: str) -> bool:
    """Whether the department rule lets the caller take ``action``: a user who acts as a
    department (handles, or hands a dispatch back, without ``events:manage``) must be a
    handler of the department the event was dispatched to. A system's API key is
    limited by its jurisdiction only."""
    if event.state != "dispatched" or action not in ("handle", "return"):
        return True
    if "events:manage" in principal.scopes or principal.user_id is None:
        return True
    return event.department_id in handler_department_ids(principal.user_id)


def allowed_actions(event: Event, principal: Principal) -> list[str]:
    """What the caller may do next with the event (the flow, their scopes, their department)."""
    return [
        a for a in flow.actions_from(event.state, principal.scopes) if department_allows(event, principal, a)
    ]


def categories_tree(*, kind: str | None = None, active_only: bool = True) -> list[EventCategory]:
    """Major classes with their minor classes prefetched (``children``)."""
    minors = EventCategory.objects.filter(active=True) if active_only else EventCategory.objects.all()
    majors = EventCategory.objects.filter(parent__isnull=True)
    if active_only:
        majors = majors.filter(active=True)
    if kind:
        majors = majors.filter(kind=kind)
    return list(majors.prefetch_related(Prefetch("children", queryset=minors)))


def departments_visible(jurisdiction: Jurisdiction) -> QuerySet[Department]:
    """Departments inside the jurisdiction, and those of the regions above it (a city's
    bureaus serve its districts too)."""
    qs = Department.objects.filter(active=True)
    if jurisdiction.nationwide:
        return qs
    within = scope_queryset(qs, jurisdiction)
    bases = (
        [jurisdiction.region_code] if jurisdiction.region_code else [g[:12] for g in jurisdiction.grid_codes]
    )
    above = {a for code in bases for a in ancestor_codes(code)}
    return qs.filter(Q(pk__in=within.values("pk")) | Q(region_code__in=above))


def notifications_visible(jurisdiction: Jurisdiction, reader: str) -> QuerySet[Notification]:
    """The notices of the caller's regions, each with ``read_at``: when ``reader`` read it (None: unread)."""
    read = NotificationRead.objects.filter(notification=OuterRef("pk"), reader=reader).values("read_at")[:1]
    qs = Notification.objects.select_related("event", "event__category").annotate(read_at=Subquery(read))
    return scope_queryset(qs, jurisdiction)
