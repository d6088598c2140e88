"""Admin for city components, their classification and cameras (registered from grids/admin.py).

Components and cameras are placed (grid, region chain, sector, code) by their services on every
write, so the admin only browses them; they are created and edited through the API or a file
import. Status changes of selected components go through the service (audited like any write).
"""

from __future__ import annotations

from django.contrib import admin, messages
from leaflet.admin import LeafletGeoAdmin

from accounts.scoping import Jurisdiction

from .assets import Camera, CityComponent, ComponentClass, ComponentStatus
from .services.components import component_status_set

NATIONWIDE = Jurisdiction(nationwide=True)


class _ReadOnly:
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ComponentClass)
class ComponentClassAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ["code", "name", "major", "geometry_kind", "note"]
    list_filter = ["major", "geometry_kind"]
    search_fields = ["code", "name"]


def _status_action(status: str):
    def action(modeladmin, request, queryset):
        for component in queryset:
            component_status_set(code=component.code, status=status, jurisdiction=NATIONWIDE)
        modeladmin.message_user(
            request, f"{queryset.count()} 个部件已标记为{ComponentStatus(status).label}", messages.SUCCESS
        )

    action.__name__ = f"mark_{status}"
    action.short_description = f"标记为{ComponentStatus(status).label}"
    return action


@admin.register(CityComponent)
class CityComponentAdmin(_ReadOnly, LeafletGeoAdmin):
    list_display = [
        "code",
        "component_class",
        "name",
        "status",
        "grid_code",
        "owner_department",
        "updated_at",
    ]
    list_filter = ["status", "component_class__major", "district_code"]
    search_fields = ["code", "name", "grid_code", "owner_department", "maintainer"]
    list_select_related = ["component_class"]
    actions = [_status_action(s) for s in ComponentStatus.values]


@admin.register(Camera)
class CameraAdmin(_ReadOnly, LeafletGeoAdmin):
    list_display = ["code", "name", "category", "direction", "angle", "range_m", "grid_code", "owner_unit"]
    list_filter = ["category", "district_code"]
    search_fields = ["code", "name", "grid_code", "owner_unit", "responsible_person"]
    exclude = ["stream_url"]  # the stream address is for holders of cameras:stream, through the API
