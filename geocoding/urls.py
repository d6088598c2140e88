"""Geocoding API routes (mounted under /api/v1/)."""

from django.urls import path

from .api import GeocodeBatchView, GeocodeView, ReverseView, SuggestView

urlpatterns = [
    path("geocode", GeocodeView.as_view(), name="geocode"),
    path("geocode/batch", GeocodeBatchView.as_view(), name="geocode-batch"),
    path("geocode/suggest", SuggestView.as_view(), name="geocode-suggest"),
    path("reverse", ReverseView.as_view(), name="reverse"),
]
