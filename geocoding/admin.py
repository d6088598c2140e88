"""Admin for the gazetteer. Point rows get their grid, region and district from the same
location service as bulk writes (checked in the form, so a point outside every district is a
form error); bulk loading goes through the import layers instead."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from leaflet.admin import LeafletGeoAdmin

from gis_core.errors import InvalidInput

from .models import Building, DoorPlate, Place, Poi, Street
from .services.gazetteer import row_locate

_LOCATED = ["grid_code", "region_code", "district_code", "updated_at"]


@admin.register(Street)
class StreetAdmin(LeafletGeoAdmin):
    list_display = ["name", "kind", "district_code", "length_m"]
    list_filter = ["kind", "district_code"]
    search_fields = ["name", "aliases"]
    readonly_fields = ["length_m"]


class LocatedForm(forms.ModelForm):
    """Locates the edited point before the model's own checks (unique names per district)."""

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors or self.instance.geom is None:
            return
        try:
            row_locate(obj=self.instance)
            self.instance.validate_constraints()
        except InvalidInput as exc:
            self.add_error("geom", exc.message)
        except ValidationError as exc:
            self.add_error(None, exc)


class LocatedAdmin(LeafletGeoAdmin):
    form = LocatedForm
    readonly_fields = _LOCATED
    list_filter = ["district_code"]


@admin.register(Place)
class PlaceAdmin(LocatedAdmin):
    list_display = ["name", "kind", "district_code", "grid_code", "door"]
    list_filter = ["kind", "district_code"]
    search_fields = ["name", "aliases"]
    raw_id_fields = ["door"]


@admin.register(DoorPlate)
class DoorPlateAdmin(LocatedAdmin):
    list_display = ["__str__", "street", "number", "suffix", "district_code", "grid_code"]
    list_select_related = ["street"]
    search_fields = ["street__name", "=number"]
    raw_id_fields = ["street"]


@admin.register(Building)
class BuildingAdmin(LocatedAdmin):
    list_display = ["__str__", "place", "door", "district_code", "grid_code"]
    list_select_related = ["place", "door__street"]
    search_fields = ["place__name", "door__street__name", "=number"]
    raw_id_fields = ["place", "door"]


@admin.register(Poi)
class PoiAdmin(LocatedAdmin):
    list_display = ["name", "category", "district_code", "grid_code", "door"]
    list_filter = ["category", "district_code"]
    search_fields = ["name", "aliases", "category"]
    raw_id_fields = ["door"]
