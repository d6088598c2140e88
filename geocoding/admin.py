from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from .models import Street


@admin.register(Street)
class StreetAdmin(LeafletGeoAdmin):
    list_display = ["name", "kind", "district_code", "length_m"]
    list_filter = ["kind", "district_code"]
    search_fields = ["name", "aliases"]
    readonly_fields = ["length_m"]
