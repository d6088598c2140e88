from __future__ import annotations

import shapely
from django.contrib import admin, messages
from leaflet.admin import LeafletGeoAdmin

from gis_core.errors import InvalidInput

from .models import UnitGrid
from .services.grids import GridInput, grid_delete, grids_upsert


@admin.register(UnitGrid)
class UnitGridAdmin(LeafletGeoAdmin):
    list_display = ["code", "name", "kind", "community", "area_m2", "households", "population"]
    list_filter = ["kind", "district_code"]
    search_fields = ["code", "name"]
    readonly_fields = ["area_m2", "community_code", "street_code", "district_code"]
    raw_id_fields = ["community"]

    def save_model(self, request, obj: UnitGrid, form, change: bool) -> None:
        item = GridInput(
            code=obj.code,
            name=obj.name,
            kind=obj.kind,
            households=obj.households,
            population=obj.population,
            community_code=obj.community.code,
            geom=shapely.from_wkb(bytes(obj.geom.wkb)),
        )
        try:
            grids_upsert(items=[item])
        except InvalidInput as exc:
            messages.error(request, exc.message)

    def delete_model(self, request, obj: UnitGrid) -> None:
        grid_delete(grid=obj)

    def delete_queryset(self, request, queryset) -> None:
        for grid in queryset:
            grid_delete(grid=grid)
