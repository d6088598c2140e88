"""Reads of city components (城市部件) and their classification, scoped to a jurisdiction."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.scoping import Jurisdiction, scope_queryset
from gis_core.errors import NotFound

from ..assets import CityComponent, ComponentClass

__all__ = ["component_classes", "component_get", "components_visible"]


def component_classes() -> QuerySet[ComponentClass]:
    """The classification, majors and minors in code order (the same for everybody)."""
    return ComponentClass.objects.select_related("major").order_by("code")


def components_visible(jurisdiction: Jurisdiction) -> QuerySet[CityComponent]:
    return scope_queryset(
        CityComponent.objects.select_related("component_class__major").prefetch_related("photos"),
        jurisdiction,
    )


def component_get(*, code: str, jurisdiction: Jurisdiction) -> CityComponent:
    """The component with this code if the caller may see it; otherwise 404, the same as for a
    code that does not exist (events refer to components by ``component_code`` through this)."""
    component = components_visible(jurisdiction).filter(code=(code or "").strip()).first()
    if component is None:
        raise NotFound(f"部件 {code} 不存在", details={"component_code": code})
    return component
