"""Admin for unit grids: the form checks a grid with the service's own rules and
saves through the service, so area, region codes and the locator stay in step."""

from __future__ import annotations

import shapely
from django import forms
from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from gis_core.errors import InvalidInput

from .models import UnitGrid
from .services.grids import GridInput, community_codes, grid_clean, grid_delete, grids_upsert


class UnitGridForm(forms.ModelForm):
    repair = forms.BooleanField(required=False, label="自动修复无效几何（make_valid）")

    class Meta:
        model = UnitGrid
        fields = ["code", "name", "community", "kind", "geom", "households", "population"]

    def clean(self):
        data = super().clean()
        if self.errors or not data.get("geom") or not data.get("community"):
            return data
        item = GridInput(
            code=data.get("code") or self.instance.code,
            name=data["name"],
            kind=data["kind"],
            households=data["households"],
            population=data["population"],
            community_code=data["community"].code,
            geom=shapely.from_wkb(bytes(data["geom"].wkb)),
        )
        try:
            self.grid_input = grid_clean(
                item, communities=community_codes({item.community_code}), repair=data.get("repair", False)
            )
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from None
        return data


@admin.register(UnitGrid)
class UnitGridAdmin(LeafletGeoAdmin):
    form = UnitGridForm
    list_display = ["code", "name", "kind", "community", "area_m2", "households", "population"]
    list_filter = ["kind", "district_code"]
    search_fields = ["code", "name"]
    readonly_fields = ["area_m2", "community_code", "street_code", "district_code"]
    raw_id_fields = ["community"]

    def get_readonly_fields(self, request, obj=None):
        # the code is the grid's identity (and prefix of its community): fixed once created
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    def save_model(self, request, obj: UnitGrid, form: UnitGridForm, change: bool) -> None:
        grids_upsert(items=[form.grid_input], clean=False)
        obj.pk = UnitGrid.objects.get(code=form.grid_input.code).pk

    def delete_model(self, request, obj: UnitGrid) -> None:
        grid_delete(grid=obj)

    def delete_queryset(self, request, queryset) -> None:
        for grid in queryset:
            grid_delete(grid=grid)


from . import admin_assets  # noqa: E402, F401  (components, classes, cameras)
