"""Reads of city components (城市部件) and their classification, scoped to a jurisdiction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.api.params import parse_choices
from gis_core.errors import NotFound

from ..assets import CityComponent, ComponentClass, ComponentStatus

__all__ = ["component_classes", "component_filter", "component_get", "components_visible"]


def component_classes() -> QuerySet[ComponentClass]:
    """The classification, majors and minors in code order (the same for everybody)."""
    return ComponentClass.objects.select_related("major").order_by("code")


def components_visible(jurisdiction: Jurisdiction) -> QuerySet[CityComponent]:
    return scope_queryset(
        CityComponent.objects.select_related("component_class__major").prefetch_related("photos"),
        jurisdiction,
    )


def component_filter(qs: QuerySet[CityComponent], params: Mapping[str, Any]) -> QuerySet[CityComponent]:
    """The component filters of the API and the tile layer: ``class`` — a minor class code
    (4 digits) or a major one (2 digits: all its minors) — and ``status`` (comma-separated)."""
    if code := str(params.get("class") or "").strip():
        field = "component_class__major__code" if len(code) == 2 else "component_class__code"
        qs = qs.filter(**{field: code})
    wanted = parse_choices(params.get("status"), "status", ComponentStatus.values, "状态")
    return qs.filter(status__in=wanted) if wanted else qs


def component_get(*, code: str, jurisdiction: Jurisdiction) -> CityComponent:
    """The component with this code if the caller may see it; otherwise 404, the same as for a
    code that does not exist (events refer to components by ``component_code`` through this)."""
    component = components_visible(jurisdiction).filter(code=(code or "").strip()).first()
    if component is None:
        raise NotFound(f"部件 {code} 不存在", details={"component_code": code})
    return component
