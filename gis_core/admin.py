"""Admin for regions: edits go through the services so boundary history and the
point-location table stay in step. Maps use django-leaflet with no external tiles."""

from __future__ import annotations

from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from .models import Region, RegionBoundary
from .services.regions import region_clear_boundary, region_set_boundary


class RegionBoundaryInline(admin.TabularInline):
    model = RegionBoundary
    fields = ["valid_from", "valid_to", "source", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(Region)
class RegionAdmin(LeafletGeoAdmin):
    list_display = ["code", "name", "level", "parent", "area_m2"]
    list_filter = ["level"]
    search_fields = ["code", "name", "short_name", "aliases"]
    readonly_fields = ["code", "level", "parent", "area_m2"]
    fields = ["code", "name", "short_name", "aliases", "level", "parent", "geom", "area_m2"]
    inlines = [RegionBoundaryInline]

    def has_add_permission(self, request) -> bool:
        return False  # regions come from the gazetteer or imports (gis_import regions)

    def save_model(self, request, obj: Region, form, change: bool) -> None:
        geom = form.cleaned_data.get("geom")
        geom_changed = "geom" in form.changed_data
        if geom_changed:
            obj.geom = Region.objects.get(pk=obj.pk).geom  # the service sets it
        super().save_model(request, obj, form, change)
        if geom_changed:
            if geom is None:
                region_clear_boundary(region=obj)
            else:
                region_set_boundary(region=obj, geom=geom, source=f"admin:{request.user}")
